"""Tags: the tag cloud (everyone who sees contacts) and tag management (list managers:
rename, merge, delete). Thin views over crm.services.lists.tags."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.model.template import DeleteRowAction, EndpointLinkRowAction
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import RadioField
from wtforms.validators import InputRequired

from crm.admin.base import CrmModelView
from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.fields import as_choices
from crm.admin.pages import PermissionPage
from crm.auth.permissions import can
from crm.extensions import db
from crm.models import Tag
from crm.services.lists.tags import (
    TagCount,
    delete_tag,
    link_counts,
    merge_tags,
    rename_tag,
    tag_cloud,
)


def tag_list_url(name: str) -> str:
    """The contact list of everyone carrying the tag, active or not."""
    return url_for("contact.index_view", flt0_tag_is=name, show="all")


@dataclass(frozen=True)
class CloudEntry:
    tag: TagCount
    size_rem: float
    url: str


SMALLEST_REM, LARGEST_REM = 0.9, 2.4


def cloud_entries(tags: list[TagCount]) -> list[CloudEntry]:
    """Font sizes on a log scale of the counts: a tag on 1,000 contacts is bigger than one
    on 10, without dwarfing everything else."""
    top = max((t.contacts for t in tags), default=0)
    entries = []
    for tag in tags:
        share = math.log1p(tag.contacts) / math.log1p(top) if top > 0 else 0.0
        size = round(SMALLEST_REM + (LARGEST_REM - SMALLEST_REM) * share, 2)
        entries.append(CloudEntry(tag, size, tag_list_url(tag.name)))
    return entries


class TagCloudView(PermissionPage):
    """Every tag on a contact the user may see, sized by how many; a click opens the list."""

    permission = "contact.view"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "Tags")
        kwargs.setdefault("category", "Contacts")
        super().__init__(endpoint="tags", url="tags", **kwargs)

    @expose("/")
    def index(self):
        entries = cloud_entries(tag_cloud(current_user))
        return self.render(
            "admin/tags_cloud.html",
            entries=entries,
            can_manage=can(current_user, "tag.manage"),
        )


class MergeTagsForm(FlaskForm):
    survivor = RadioField("Keep", coerce=int, validators=[InputRequired()])


def _contact_count(view: Any, _context: Any, model: Tag, _name: str) -> Markup | int:
    count = getattr(model, "_contact_count", 0)
    if not can(current_user, "contact.view"):
        return count
    return Markup('<a href="{}">{}</a>').format(tag_list_url(model.name), count)


def _ids(values: list[str]) -> list[int]:
    return sorted({int(v) for v in values if str(v).isdigit()})


class TagView(CrmModelView):
    """The list of tags for list managers: rename (edit), merge (action), delete."""

    list_template = "admin/tags_list.html"
    edit_template = "admin/tags_edit.html"
    column_list = ("name", "contacts")
    column_labels = {"contacts": "Contacts"}
    column_descriptions = {"contacts": "Contacts carrying the tag, including any in the trash"}
    column_formatters = {"contacts": _contact_count}
    column_sortable_list = (("name", "key"),)
    column_default_sort = [("key", False), ("id", False)]
    column_searchable_list = ("name",)
    form_columns = ("name",)
    form_args = {
        "name": {
            "description": "Renamed to the name of another tag (whatever its case), the two "
            "tags are merged into that one."
        }
    }
    can_view_details = False
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-trash", ".confirm_delete_view", title="Delete")
    ]

    def __init__(self, **kwargs: Any):
        super().__init__(
            Tag,
            name="Tags",
            endpoint="tag",
            url="tags/manage",
            category="List management",
            **kwargs,
        )

    def _allowed(self, verb: str) -> bool:
        return can(current_user, "tag.manage")

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return False  # tags are created where they are used: on contacts

    @property
    def can_view_cloud(self) -> bool:
        return can(current_user, "contact.view")

    def get_list_row_actions(self):
        # Deleting goes through a page saying how many contacts lose the tag.
        actions = super().get_list_row_actions()
        return [a for a in actions if not isinstance(a, DeleteRowAction)]

    def get_list(self, *args: Any, **kwargs: Any):
        count, rows = super().get_list(*args, **kwargs)
        counts = link_counts([row.id for row in rows])  # one grouped query per page
        for row in rows:
            row._contact_count = counts.get(row.id, 0)
        return count, rows

    def update_model(self, form: Any, model: Tag) -> bool:
        old_name = model.name
        kept: list[Tag] = []

        def change() -> None:
            kept.append(rename_tag(current_user, model, form.name.data))

        if not self.save_and_commit(form, change):
            return False
        if kept[0].id != model.id:
            flash(f"{old_name!r} was merged into {kept[0].name!r}.", "success")
        return True

    def delete_record(self, model: Tag) -> None:
        delete_tag(current_user, model)

    def _tags(self, ids: list[int]) -> list[Tag]:
        if not ids:
            return []
        return list(db.session.scalars(select(Tag).where(Tag.id.in_(ids)).order_by(Tag.key)))

    # ---- merge -----------------------------------------------------------------------
    @action("merge", "Merge into…")
    def action_merge(self, ids: list[str]):
        """Ask which of the ticked tags survives (the merge page)."""
        return redirect(url_for(".merge_view", ids=_ids(ids)))

    @expose("/merge/", methods=("GET", "POST"))
    def merge_view(self):
        tags = self._tags(_ids(request.values.getlist("ids")))
        if len(tags) < 2:
            flash("Tick at least two tags to merge.", "error")
            return redirect(self.get_url(".index_view"))
        counts = link_counts([t.id for t in tags])
        form = MergeTagsForm()
        form.survivor.choices = as_choices((str(t.id), t.name) for t in tags)
        if request.method == "GET":
            form.survivor.data = max(tags, key=lambda t: counts.get(t.id, 0)).id
        elif form.validate_on_submit():
            survivor = next(t for t in tags if t.id == form.survivor.data)
            merged = [t for t in tags if t.id != survivor.id]
            names = ", ".join(repr(t.name) for t in merged)
            with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
                moved = merge_tags(current_user, survivor, merged)
            if outcome:
                flash(
                    f"Merged {names} into {survivor.name!r}: {moved} contact(s) gained "
                    f"{survivor.name!r}.",
                    "success",
                )
                return redirect(self.get_url(".index_view"))
        return self.render(
            "admin/tags_merge.html",
            form=form,
            rows=list(zip(tags, form.survivor, strict=True)),
            counts=counts,
            return_url=self.get_url(".index_view"),
        )

    # ---- delete ----------------------------------------------------------------------
    @expose("/confirm-delete/", methods=("GET", "POST"))
    def confirm_delete_view(self):
        """Say how many contacts lose the tag; the POST deletes it."""
        tag = self.get_one(request.values.get("id"))
        count = link_counts([tag.id]).get(tag.id, 0)
        if request.method == "POST":
            name = tag.name
            with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
                removed = delete_tag(current_user, tag)
            if outcome:
                flash(f"Tag {name!r} deleted: removed from {removed} contact(s).", "success")
            return redirect(self.get_url(".index_view"))
        return self.render(
            "admin/tags_delete.html",
            tag=tag,
            count=count,
            return_url=self.get_url(".index_view"),
        )

    @action(
        "delete",
        "Delete",
        "Delete the selected tags? They are removed from every contact carrying them.",
    )
    def action_delete(self, ids: list[str]) -> None:
        """Delete the ticked tags in one transaction."""
        tags = self._tags(_ids(ids))
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            removed = sum(delete_tag(current_user, tag) for tag in tags)
        if outcome:
            flash(
                f"{len(tags)} tag(s) deleted: {removed} tag link(s) removed from contacts.",
                "success",
            )
