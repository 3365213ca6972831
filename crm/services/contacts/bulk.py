"""Actions on many contacts at once, set-based (INSERT ... SELECT, UPDATE ... WHERE id IN),
each one transaction at the boundary, each reporting what it changed and what it skipped.

A target is a SELECT of contact ids (a page's ticked rows, the selection basket, or every
contact matching a list's filters); it is always re-checked against the visibility gate.
Every bulk action writes one history entry naming the action and the contacts it touched.
Exports are in `crm.services.transfer.exporting`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, delete, exists, func, literal, select, update

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    Category,
    Contact,
    MarketingList,
    MarketingListMember,
    Segment,
    SegmentKind,
    Tag,
    User,
    contact_categories,
    contact_tags,
    segment_members,
)
from crm.models.base import utcnow
from crm.services.lists.consent import refuses_marketing
from crm.services.lists.tags import tag_key, tags_for_names
from crm.services.platform import audit
from crm.services.platform.access import class_refusal, contact_visibility
from crm.services.platform.counted_insert import insert_counted


@dataclass
class BulkResult:
    """What a bulk action did: `changed` contacts, and `skipped` ones counted by reason."""

    action: str
    changed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str, how_many: int) -> None:
        if how_many:
            self.skipped[reason] = self.skipped.get(reason, 0) + how_many

    @property
    def message(self) -> str:
        parts = [f"{self.action}: {self.changed:,} contact(s) changed"]
        parts += [f"{n:,} skipped ({reason})" for reason, n in self.skipped.items()]
        return "; ".join(parts) + "." + "".join(f" {note}" for note in self.notes)


def gated_ids(actor: Actor, target: Select) -> Select:
    """The ids of `target` that `actor` may see."""
    return select(Contact.id).where(Contact.id.in_(target), contact_visibility(actor))


def count(actor: Actor, target: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(gated_ids(actor, target).subquery()))


def _require(actor: Actor, permission: str, what: str) -> None:
    if not can(actor, permission):
        raise PermissionDenied(f"You do not have permission to {what}.")


def _record(actor: Actor, summary: str, ids: Select, changes: dict) -> None:
    """One history entry for the whole action, with how many contacts it touched; each of
    them has it in its history (links written by one INSERT ... SELECT, no id in Python)."""
    if not audit.recording():
        return
    touched = db.session.scalar(select(func.count()).select_from(ids.subquery()))
    if not touched:  # nothing the actor may see was targeted: nothing happened
        return
    sample = list(db.session.scalars(ids.order_by(Contact.id).limit(audit.SAMPLE_SIZE)))
    audit.record_event(
        db.session, actor, "bulk", "contact", summary,
        {**changes, "contacts": touched, "contact_sample": sample},
        contact_ids=ids, distinct_ids=True,
    )  # fmt: skip


def _link_many(
    actor: Actor, target: Select, table, column: str, value_id: int, extra: dict | None = None
) -> tuple[int, int]:
    """Insert (contact, value) links missing for the target; returns (added, already had)."""
    ids = gated_ids(actor, target)
    link_col = table.c[column]
    have = exists().where(table.c.contact_id == Contact.id, link_col == value_id)
    missing = select(Contact.id).where(Contact.id.in_(ids), ~have)
    total = count(actor, target)
    values = [Contact.id, literal(value_id)] + [literal(v) for v in (extra or {}).values()]
    added = insert_counted(
        table,
        ["contact_id", column, *(extra or {})],
        select(*values).where(Contact.id.in_(missing)),
    )
    return added, total - added


def add_tags(actor: Actor, target: Select, names: list[str]) -> BulkResult:
    _require(actor, "contact.bulk_edit", "tag contacts")
    if count(actor, target) == 0:  # no contact to tag: no new tag either
        return BulkResult("Add tag " + ", ".join(n.strip() for n in names if n.strip()))
    tags = tags_for_names(names)
    result = BulkResult("Add tag " + ", ".join(t.name for t in tags))
    for tag in tags:
        added, had = _link_many(actor, target, contact_tags, "tag_id", tag.id)
        result.changed = max(result.changed, added)
        result.skip(f"already had the tag {tag.name}", had)
    _record(actor, result.message, gated_ids(actor, target), {"tags_added": [t.name for t in tags]})
    return result


def remove_tags(actor: Actor, target: Select, names: list[str]) -> BulkResult:
    _require(actor, "contact.bulk_edit", "tag contacts")
    keys = [tag_key(n) for n in names if n.strip()]
    tags = list(db.session.scalars(select(Tag).where(Tag.key.in_(keys))))
    result = BulkResult("Remove tag " + ", ".join(t.name for t in tags))
    total = count(actor, target)
    ids = gated_ids(actor, target)
    for tag in tags:
        removed = (
            db.session.execute(
                delete(contact_tags).where(
                    contact_tags.c.tag_id == tag.id, contact_tags.c.contact_id.in_(ids)
                )
            ).rowcount
            or 0
        )
        result.changed = max(result.changed, removed)
        result.skip(f"did not have the tag {tag.name}", total - removed)
    if not tags:
        raise ValidationFailed({"tags": ["No such tag."]})
    _record(actor, result.message, ids, {"tags_removed": [t.name for t in tags]})
    return result


def set_responsible(actor: Actor, target: Select, user_id: int | None) -> BulkResult:
    _require(actor, "contact.assign_responsible", "assign responsible users")
    user = db.session.get(User, user_id) if user_id is not None else None
    if user_id is not None and (user is None or not user.active):
        raise ValidationFailed({"responsible": ["Choose an active user."]})
    ids = gated_ids(actor, target)
    total = count(actor, target)
    changed = (
        db.session.execute(
            update(Contact)
            .where(Contact.id.in_(ids), Contact.responsible_id.is_distinct_from(user_id))
            .values(responsible_id=user_id, version=Contact.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    who = str(user) if user else "nobody"
    result = BulkResult(f"Set responsible user to {who}", changed)
    result.skip(f"{who} was already responsible", total - changed)
    _record(actor, result.message, ids, {"responsible_id": [None, user_id]})
    return result


def set_access_class(actor: Actor, target: Select, class_id: int | None) -> BulkResult:
    """Put the contacts (and the B2C ones' own hidden accounts) in an access class."""
    _require(actor, "contact.set_class", "change access classes")
    chosen = db.session.get(AccessClass, class_id) if class_id is not None else None
    if class_id is not None and chosen is None:
        raise ValidationFailed({"access_class": ["No such access class."]})
    refused = class_refusal(actor, class_id)
    if refused:
        raise ValidationFailed({"access_class": [refused]})
    ids = gated_ids(actor, target)
    total = count(actor, target)
    moving = select(Contact.id).where(
        Contact.id.in_(ids), Contact.access_class_id.is_distinct_from(class_id)
    )
    # The B2C contacts' own hidden accounts first (the second statement changes `moving`).
    db.session.execute(
        update(Account)
        .where(
            Account.is_hidden.is_(True),
            Account.id.in_(select(Contact.account_id).where(Contact.id.in_(moving))),
        )
        .values(access_class_id=class_id, version=Account.version + 1)
        .execution_options(synchronize_session=False)
    )
    moved = (
        db.session.execute(
            update(Contact)
            .where(Contact.id.in_(moving))
            .values(access_class_id=class_id, version=Contact.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    name = chosen.name if chosen is not None else "no class"
    result = BulkResult(f"Set access class to {name}", moved)
    result.skip(f"already in {name}", total - moved)
    _record(actor, result.message, ids, {"access_class_id": [None, class_id]})
    return result


def add_category(actor: Actor, target: Select, category_id: int) -> BulkResult:
    _require(actor, "contact.bulk_edit", "categorise contacts")
    category = db.session.get(Category, category_id)
    if category is None or not category.active:
        raise ValidationFailed({"category": ["Choose an active category."]})
    added, had = _link_many(actor, target, contact_categories, "category_id", category.id)
    result = BulkResult(f"Add category {category.name}", added)
    result.skip("already in the category", had)
    _record(actor, result.message, gated_ids(actor, target), {"category": [None, category.name]})
    return result


def add_to_segment(actor: Actor, target: Select, segment_id: int) -> BulkResult:
    _require(actor, "segment.manage", "change segments")
    segment = db.session.get(Segment, segment_id)
    if segment is None:
        raise NotFound("No such segment.")
    if segment.kind != SegmentKind.STATIC:
        raise ValidationFailed(
            {"segment": [f"{segment.name} is dynamic: its members come from its filter."]}
        )
    added, had = _link_many(
        actor, target, segment_members, "segment_id", segment.id, extra={"added_at": utcnow()}
    )
    result = BulkResult(f"Add to segment {segment.name}", added)
    result.skip("already in the segment", had)
    _record(actor, result.message, gated_ids(actor, target), {"segment": [None, segment.name]})
    return result


def remove_from_segment(actor: Actor, target: Select, segment_id: int) -> BulkResult:
    _require(actor, "segment.manage", "change segments")
    segment = db.session.get(Segment, segment_id)
    if segment is None or segment.kind != SegmentKind.STATIC:
        raise ValidationFailed({"segment": ["Choose a static segment."]})
    ids = gated_ids(actor, target)
    total = count(actor, target)
    removed = (
        db.session.execute(
            delete(segment_members).where(
                segment_members.c.segment_id == segment.id, segment_members.c.contact_id.in_(ids)
            )
        ).rowcount
        or 0
    )
    result = BulkResult(f"Remove from segment {segment.name}", removed)
    result.skip("not in the segment", total - removed)
    _record(actor, result.message, ids, {"segment": [segment.name, None]})
    return result


def add_to_marketing_list(actor: Actor, target: Select, list_id: int) -> BulkResult:
    """Contacts who refused email marketing or are do-not-email are added too, and flagged
    in the list: never silently dropped."""
    _require(actor, "marketing_list.add_members", "add contacts to marketing lists")
    mlist = db.session.get(MarketingList, list_id)
    if mlist is None or not mlist.active:
        raise ValidationFailed({"marketing_list": ["Choose an active marketing list."]})
    ids = gated_ids(actor, target)
    have = exists().where(
        MarketingListMember.contact_id == Contact.id, MarketingListMember.list_id == mlist.id
    )
    missing = select(Contact.id).where(Contact.id.in_(ids), ~have)
    total = count(actor, target)
    flagged = (
        db.session.scalar(
            select(func.count()).where(
                Contact.id.in_(missing),
                refuses_marketing(),
            )
        )
        or 0
    )
    added = insert_counted(
        MarketingListMember,
        ["list_id", "contact_id", "added_at", "added_by_id"],
        select(literal(mlist.id), Contact.id, literal(utcnow()), literal(actor.id)).where(
            Contact.id.in_(missing)
        ),
    )
    result = BulkResult(f"Add to marketing list {mlist.name}", added)
    result.skip("already in the list", total - added)
    if flagged:
        result.notes.append(
            f"{flagged:,} of them do not accept marketing email or are do-not-email: "
            "they are flagged in the list."
        )
    _record(actor, result.message, ids, {"marketing_list": [None, mlist.name]})
    return result


def move_to_trash(actor: Actor, target: Select) -> BulkResult:
    _require(actor, "contact.delete", "delete contacts")
    ids = gated_ids(actor, target)
    touched = select(Contact.id).where(Contact.id.in_(ids))
    total = count(actor, target)
    _record(actor, f"Moved {total:,} contact(s) to the trash", touched, {"deleted": [None, True]})
    db.session.flush()
    changed = (
        db.session.execute(
            update(Contact)
            .where(Contact.id.in_(ids))
            .values(deleted_at=utcnow(), deleted_by_id=actor.id, version=Contact.version + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    return BulkResult("Move to trash", changed)
