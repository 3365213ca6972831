"""The form of the bulk-action page: which actions (several may run together, in one
transaction: add a tag and assign a responsible user at once), their parameters, and the
confirmation."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from crm.admin.fields import as_choices
from crm.admin.pickers import active_users
from crm.auth.permissions import can
from crm.extensions import db
from crm.models import Category, MarketingList, Segment, SegmentKind
from crm.services.contacts import bulk
from crm.services.platform import access
from crm.services.transfer import exporting

# operation: (label, permission, parameter field or None)
OPERATIONS: dict[str, tuple[str, str, str | None]] = {
    "add_tags": ("Add tags", "contact.bulk_edit", "tags"),
    "remove_tags": ("Remove tags", "contact.bulk_edit", "tags"),
    "set_responsible": ("Assign a responsible user", "contact.assign_responsible", "responsible"),
    "set_access_class": ("Set the access class", "contact.set_class", "access_class"),
    "add_category": ("Add a category", "contact.bulk_edit", "category"),
    "add_to_segment": ("Add to a segment", "segment.manage", "segment"),
    "remove_from_segment": ("Remove from a segment", "segment.manage", "segment"),
    "add_to_marketing_list": (
        "Add to a marketing list",
        "marketing_list.add_members",
        "marketing_list",
    ),
    "export": ("Export (CSV, XLSX or vCard)", "contact.export", "export_format"),
    "email": ("Send an email (a campaign to these contacts)", "campaign.edit", None),
    "trash": ("Move to the trash", "contact.delete", None),
}
NOBODY = "none"
# Actions that run on their own, and pairs that share a parameter and so cannot run together.
ALONE = ("export", "email", "trash")
EXCLUSIVE = (("add_tags", "remove_tags"), ("add_to_segment", "remove_from_segment"))


class BulkForm(FlaskForm):
    # Checked in validate_operation: DataRequired would make the browser require every box.
    operation = SelectMultipleField(
        "Actions",
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    tags = StringField("Tags", description="Comma-separated; new tags are created")
    responsible = SelectField("Responsible user")
    access_class = SelectField("Access class")
    category = SelectField("Category")
    segment = SelectField("Segment (static)")
    marketing_list = SelectField("Marketing list")
    export_format = SelectField(
        "File format",
        choices=as_choices((key, chosen.label) for key, chosen in exporting.FORMATS.items()),
        default="csv",
        description="CSV and XLSX open in spreadsheets and import back; vCard goes to phones.",
    )
    confirm = BooleanField("Yes, apply this to all of them")

    def fill_choices(self) -> None:
        """Only the actions this user may do, and the current users, categories, lists."""
        self.operation.choices = as_choices(
            (key, label)
            for key, (label, permission, _) in OPERATIONS.items()
            if can(current_user, permission)
        )
        self.responsible.choices = as_choices(
            [(NOBODY, "(nobody)"), *((str(u.id), str(u)) for u in active_users())]
        )
        self.access_class.choices = as_choices(
            [(NOBODY, "(no class)")]
            + [(str(c.id), c.name) for c in access.visible_classes(current_user) if c.active]
        )
        self.category.choices = as_choices(
            (str(c.id), c.name)
            for c in db.session.scalars(
                select(Category).where(Category.active.is_(True)).order_by(Category.position)
            )
        )
        self.segment.choices = as_choices(
            (str(s.id), s.name)
            for s in db.session.scalars(
                select(Segment).where(Segment.kind == SegmentKind.STATIC).order_by(Segment.name)
            )
        )
        self.marketing_list.choices = as_choices(
            (str(m.id), m.name)
            for m in db.session.scalars(
                select(MarketingList)
                .where(MarketingList.active.is_(True))
                .order_by(MarketingList.name)
            )
        )

    @property
    def chosen(self) -> list[str]:
        """The chosen actions, in the order they run (the order of OPERATIONS)."""
        picked = set(self.operation.data or [])
        return [key for key in OPERATIONS if key in picked]

    def validate_operation(self, field: SelectMultipleField) -> None:
        chosen = self.chosen
        if not chosen:
            raise ValidationError("Choose an action.")
        for alone in ALONE:
            if alone in chosen and len(chosen) > 1:
                raise ValidationError(f"{OPERATIONS[alone][0]} runs on its own: untick the others.")
        for first, second in EXCLUSIVE:
            if first in chosen and second in chosen:
                raise ValidationError(
                    f"{OPERATIONS[first][0]} and {OPERATIONS[second][0]} cannot run together."
                )

    def validate_confirm(self, field: BooleanField) -> None:
        if self.chosen != ["export"] and not field.data:
            raise ValidationError("Tick the box to confirm.")

    def validate(self, extra_validators: Any = None) -> bool:
        # Only the chosen actions' parameters are checked (the others may be empty).
        params = {OPERATIONS[key][2] for key in self.chosen} - {None}
        for name in (
            "responsible",
            "access_class",
            "category",
            "segment",
            "marketing_list",
            "export_format",
        ):
            if name not in params:
                getattr(self, name).validate_choice = False
        ok = super().validate(extra_validators)
        if "tags" in params and not (self.tags.data or "").strip():
            self.tags.errors = [*self.tags.errors, "Name at least one tag."]
            ok = False
        for name in sorted(params - {"tags"}):
            if not getattr(self, name).data:
                getattr(self, name).errors = [
                    *getattr(self, name).errors,
                    "Choose one (create it first if there is none).",
                ]
                ok = False
        return ok

    def run(self, actor: Any, target: Any) -> list[bulk.BulkResult]:
        """Every chosen action on `target`, in one transaction (the caller commits)."""
        return [self._run_one(operation, actor, target) for operation in self.chosen]

    def _run_one(self, operation: str, actor: Any, target: Any) -> bulk.BulkResult:
        names = [n for n in (self.tags.data or "").split(",") if n.strip()]
        if operation == "add_tags":
            return bulk.add_tags(actor, target, names)
        if operation == "remove_tags":
            return bulk.remove_tags(actor, target, names)
        if operation == "set_responsible":
            chosen = self.responsible.data
            return bulk.set_responsible(actor, target, None if chosen == NOBODY else int(chosen))
        if operation == "set_access_class":
            chosen = self.access_class.data
            return bulk.set_access_class(actor, target, None if chosen == NOBODY else int(chosen))
        if operation == "add_category":
            return bulk.add_category(actor, target, int(self.category.data))
        if operation == "add_to_segment":
            return bulk.add_to_segment(actor, target, int(self.segment.data))
        if operation == "remove_from_segment":
            return bulk.remove_from_segment(actor, target, int(self.segment.data))
        if operation == "add_to_marketing_list":
            return bulk.add_to_marketing_list(actor, target, int(self.marketing_list.data))
        if operation == "trash":
            return bulk.move_to_trash(actor, target)
        raise ValueError(operation)
