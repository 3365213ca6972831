"""Segments, marketing lists and saved views: their rules and member queries."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from sqlalchemy import ColumnElement, Select, case, delete, func, select

from crm.auth.permissions import Actor, can
from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import (
    Contact,
    MarketingList,
    MarketingListMember,
    SavedView,
    Segment,
    SegmentKind,
    segment_members,
)
from crm.services.lists.consent import refuses_marketing
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility

# List arguments a saved query may keep (search, filters, sort, scope, page size).
_KEPT_ARGS = ("search", "sort", "desc", "show", "page_size", "cols")


def clean_list_query(query: str) -> str:
    """The contact-list arguments worth keeping from a query string (no page number)."""
    pairs = [
        (k, v)
        for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=False)
        if k in _KEPT_ARGS or k.startswith("flt")
    ]
    return urlencode(pairs)[:2000]


def in_segment(segment_id: int) -> ColumnElement[bool]:
    return Contact.id.in_(
        select(segment_members.c.contact_id).where(segment_members.c.segment_id == segment_id)
    )


def in_marketing_list(list_id: int) -> ColumnElement[bool]:
    return Contact.id.in_(
        select(MarketingListMember.contact_id).where(MarketingListMember.list_id == list_id)
    )


def _clean_name(name: str | None, errors: dict[str, list[str]]) -> str:
    """A name on one line, without control characters (refused on the field)."""
    try:
        return " ".join((v.clean_free_text(name) or "").split())
    except v.FieldError as exc:
        errors["name"] = [str(exc)]
        return name or ""


def _clean_description(text: str | None, errors: dict[str, list[str]]) -> str | None:
    try:
        return v.clean_free_text(text)
    except v.FieldError as exc:
        errors["description"] = [str(exc)]
        return text


def save_segment(actor: Actor, segment: Segment) -> None:
    if not can(actor, "segment.manage"):
        raise PermissionDenied("You may not change segments.")
    errors: dict[str, list[str]] = {}
    segment.name = _clean_name(segment.name, errors)
    segment.description = _clean_description(segment.description, errors)
    if not segment.name and "name" not in errors:
        errors["name"] = ["A segment needs a name."]
    if segment.kind == SegmentKind.DYNAMIC:
        segment.query = clean_list_query(segment.query or "")
        if not segment.query:
            errors["query"] = ["A dynamic segment needs a filter: save it from a filtered list."]
    if errors:
        raise ValidationFailed(errors)
    if segment.owner_id is None:
        segment.owner_id = getattr(actor, "id", None)


def delete_segment(actor: Actor, segment: Segment) -> None:
    """Delete a segment; its contacts stay (only their membership goes)."""
    if not can(actor, "segment.manage"):
        raise PermissionDenied("You may not change segments.")
    db.session.delete(segment)
    db.session.flush()


def delete_marketing_list(actor: Actor, mlist: MarketingList) -> None:
    """Delete a marketing list and its member rows; the contacts stay."""
    if not can(actor, "marketing_list.manage"):
        raise PermissionDenied("You may not change marketing lists.")
    db.session.delete(mlist)
    db.session.flush()


def segment_member_counts(actor: Actor, segment_ids: list[int]) -> dict[int, int]:
    """Visible members of static segments, one grouped query."""
    if not segment_ids:
        return {}
    rows = db.session.execute(
        select(segment_members.c.segment_id, func.count())
        .join(Contact, Contact.id == segment_members.c.contact_id)
        .where(segment_members.c.segment_id.in_(segment_ids), contact_visibility(actor))
        .group_by(segment_members.c.segment_id)
    )
    return dict(rows.all())


def remove_from_segment(actor: Actor, segment: Segment, target: Select) -> int:
    if not can(actor, "segment.manage"):
        raise PermissionDenied("You may not change segments.")
    return (
        db.session.execute(
            delete(segment_members).where(
                segment_members.c.segment_id == segment.id,
                segment_members.c.contact_id.in_(target),
            )
        ).rowcount
        or 0
    )


def save_marketing_list(actor: Actor, mlist: MarketingList) -> None:
    if not can(actor, "marketing_list.manage"):
        raise PermissionDenied("You may not change marketing lists.")
    errors: dict[str, list[str]] = {}
    mlist.name = _clean_name(mlist.name, errors)
    mlist.description = _clean_description(mlist.description, errors)
    if not mlist.name and "name" not in errors:
        errors["name"] = ["A marketing list needs a name."]
    if errors:
        raise ValidationFailed(errors)
    if mlist.owner_id is None:
        mlist.owner_id = getattr(actor, "id", None)


def marketing_list_counts(actor: Actor, list_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(members, of whom flagged as not wanting marketing email) per list."""
    if not list_ids:
        return {}
    rows = db.session.execute(
        select(
            MarketingListMember.list_id,
            func.count(),
            func.sum(case((refuses_marketing(), 1), else_=0)),
        )
        .join(Contact, Contact.id == MarketingListMember.contact_id)
        .where(MarketingListMember.list_id.in_(list_ids), contact_visibility(actor))
        .group_by(MarketingListMember.list_id)
    )
    return {list_id: (total, int(flagged or 0)) for list_id, total, flagged in rows}


def marketing_list_members(actor: Actor, list_id: int, page: int, per_page: int = 50):
    """One page of (contact, member row, flagged) for a list, by name."""
    rows = db.session.execute(
        select(Contact, MarketingListMember, refuses_marketing())
        .join(MarketingListMember, MarketingListMember.contact_id == Contact.id)
        .where(MarketingListMember.list_id == list_id, contact_visibility(actor))
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
        .offset(max(page, 0) * per_page)
        .limit(per_page)
    )
    return rows.all()


def remove_list_members(actor: Actor, list_id: int, contact_ids: list[int]) -> int:
    if not can(actor, "marketing_list.add_members"):
        raise PermissionDenied("You may not change marketing list members.")
    visible = select(Contact.id).where(Contact.id.in_(contact_ids), contact_visibility(actor))
    return (
        db.session.execute(
            delete(MarketingListMember).where(
                MarketingListMember.list_id == list_id, MarketingListMember.contact_id.in_(visible)
            )
        ).rowcount
        or 0
    )


def save_view(actor: Actor, name: str, query: str) -> SavedView:
    """Save (or overwrite) one of the user's named list views."""
    if not can(actor, "contact.view"):
        raise PermissionDenied("You may not see contacts.")
    name = " ".join((name or "").split())[:100]
    if not name:
        raise ValidationFailed({"name": ["Give the view a name."]})
    view = db.session.scalar(
        select(SavedView).where(SavedView.user_id == actor.id, SavedView.name == name)
    ) or SavedView(user_id=actor.id, name=name)
    view.query = clean_list_query(query)
    db.session.add(view)
    db.session.flush()
    return view


def saved_views(actor: Actor) -> list[SavedView]:
    if not getattr(actor, "is_authenticated", False):
        return []
    return list(
        db.session.scalars(
            select(SavedView).where(SavedView.user_id == actor.id).order_by(SavedView.name)
        )
    )


def delete_view(actor: Actor, view_id: int) -> bool:
    return bool(
        db.session.execute(
            delete(SavedView).where(SavedView.id == view_id, SavedView.user_id == actor.id)
        ).rowcount
    )
