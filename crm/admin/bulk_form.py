"""The form of the bulk-action page: which action, its parameter, and the confirmation."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, ValidationError

from crm.admin.fields import as_choices
from crm.auth.permissions import can
from crm.extensions import db
from crm.models import Category, MarketingList, Segment, SegmentKind, User
from crm.services import bulk

# operation: (label, permission, parameter field or None)
OPERATIONS: dict[str, tuple[str, str, str | None]] = {
    "add_tags": ("Add tags", "contact.bulk_edit", "tags"),
    "remove_tags": ("Remove tags", "contact.bulk_edit", "tags"),
    "set_responsible": ("Assign a responsible user", "contact.assign_responsible", "responsible"),
    "add_category": ("Add a category", "contact.bulk_edit", "category"),
    "add_to_segment": ("Add to a segment", "segment.manage", "segment"),
    "remove_from_segment": ("Remove from a segment", "segment.manage", "segment"),
    "add_to_marketing_list": (
        "Add to a marketing list",
        "marketing_list.add_members",
        "marketing_list",
    ),
    "export": ("Export to CSV", "contact.export", None),
    "trash": ("Move to the trash", "contact.delete", None),
}
NOBODY = "none"


class BulkForm(FlaskForm):
    operation = RadioField("Action", validators=[DataRequired("Choose an action.")])
    tags = StringField("Tags", description="Comma-separated; new tags are created")
    responsible = SelectField("Responsible user")
    category = SelectField("Category")
    segment = SelectField("Segment (static)")
    marketing_list = SelectField("Marketing list")
    confirm = BooleanField("Yes, apply this to all of them")

    def fill_choices(self) -> None:
        """Only the actions this user may do, and the current users, categories, lists."""
        self.operation.choices = as_choices(
            (key, label)
            for key, (label, permission, _) in OPERATIONS.items()
            if can(current_user, permission)
        )
        users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.email))
        self.responsible.choices = as_choices(
            [(NOBODY, "(nobody)"), *((str(u.id), str(u)) for u in users)]
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

    def validate_confirm(self, field: BooleanField) -> None:
        if self.operation.data != "export" and not field.data:
            raise ValidationError("Tick the box to confirm.")

    def validate(self, extra_validators: Any = None) -> bool:
        # Only the chosen action's parameter is checked (the others may be empty).
        chosen = OPERATIONS.get(self.operation.data or "", (None, None, None))[2]
        for name in ("responsible", "category", "segment", "marketing_list"):
            if name != chosen:
                getattr(self, name).validate_choice = False
        ok = super().validate(extra_validators)
        if chosen == "tags" and not (self.tags.data or "").strip():
            self.tags.errors = [*self.tags.errors, "Name at least one tag."]
            ok = False
        if chosen and chosen != "tags" and not getattr(self, chosen).data:
            getattr(self, chosen).errors = [
                *getattr(self, chosen).errors,
                "Choose one (create it first if there is none).",
            ]
            ok = False
        return ok

    def run(self, actor: Any, target: Any) -> bulk.BulkResult:
        operation = self.operation.data
        names = [n for n in (self.tags.data or "").split(",") if n.strip()]
        if operation == "add_tags":
            return bulk.add_tags(actor, target, names)
        if operation == "remove_tags":
            return bulk.remove_tags(actor, target, names)
        if operation == "set_responsible":
            chosen = self.responsible.data
            return bulk.set_responsible(actor, target, None if chosen == NOBODY else int(chosen))
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
