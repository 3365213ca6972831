"""Tags: created on the fly from what users type, one tag per name whatever its case; the
tag cloud; renaming, merging and deleting tags (list managers)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, exists, func, insert, literal, select

from crm.auth.permissions import Actor, can
from crm.errors import FieldError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Contact, Tag, contact_tags
from crm.services.platform import audit
from crm.services.platform.access import contact_visibility, sees_every_live_contact
from crm.services.platform.validation import clean_free_text

MAX_TAG_LENGTH = 60


def tag_key(name: str) -> str:
    """How a tag is found: case and runs of spaces do not matter ("vip" finds "VIP")."""
    return " ".join((name or "").split()).lower()


def clean_tag_name(name: str) -> str:
    try:
        cleaned = " ".join((clean_free_text(name) or "").split())
    except FieldError as exc:
        raise ValidationFailed({"tags": [str(exc)]}) from exc
    if not cleaned:
        raise ValidationFailed({"tags": ["A tag needs a name."]})
    if len(cleaned) > MAX_TAG_LENGTH:
        raise ValidationFailed({"tags": [f"A tag has at most {MAX_TAG_LENGTH} characters."]})
    return cleaned


def tags_for_names(names: list[str]) -> list[Tag]:
    """The tags with these names, creating the missing ones ("vip" finds "VIP")."""
    wanted: dict[str, str] = {}
    for name in names:
        if name and name.strip():
            cleaned = clean_tag_name(name)
            wanted.setdefault(cleaned.lower(), cleaned)
    if not wanted:
        raise ValidationFailed({"tags": ["Name at least one tag."]})
    found = {t.key: t for t in db.session.scalars(select(Tag).where(Tag.key.in_(wanted)))}
    for key, name in wanted.items():
        if key not in found:
            found[key] = Tag(name=name)
            db.session.add(found[key])
    db.session.flush()
    return [found[key] for key in wanted]


# ---- the tag cloud and tag management ---------------------------------------------------


@dataclass(frozen=True)
class TagCount:
    """A tag and how many contacts carry it."""

    id: int
    name: str
    contacts: int


def tag_cloud(actor: Actor) -> list[TagCount]:
    """Every tag carried by at least one contact `actor` may see, with how many, by name.

    One grouped query through the visibility gate: a tag whose contacts are all out of
    sight (in the trash) is not shown, since its link would lead to an empty list.
    """
    if not can(actor, "contact.view"):
        raise PermissionDenied("You do not have permission to see contacts.")
    if sees_every_live_contact(actor):
        # Every link counts but those of the trash: read from the link index alone
        # (1M contacts: 50 ms, against 3 s joining every contact).
        counts = Counter(dict(_tag_counts()))
        counts.subtract(dict(_tag_counts(Contact.deleted_at.is_not(None))))
        names = dict(db.session.execute(select(Tag.id, Tag.name).order_by(Tag.key)).all())
        return [TagCount(i, name, counts[i]) for i, name in names.items() if counts[i] > 0]
    rows = db.session.execute(
        select(Tag.id, Tag.name, func.count())
        .join(contact_tags, contact_tags.c.tag_id == Tag.id)
        .join(Contact, Contact.id == contact_tags.c.contact_id)
        .where(contact_visibility(actor))
        .group_by(Tag.id, Tag.name, Tag.key)
        .order_by(Tag.key)
    ).all()
    return [TagCount(tag_id, name, n) for tag_id, name, n in rows]


def _tag_counts(of_contacts: ColumnElement[bool] | None = None) -> list[tuple[int, int]]:
    """(tag id, links) for every tag, or only for the links of contacts matching a
    condition."""
    query = select(contact_tags.c.tag_id, func.count()).group_by(contact_tags.c.tag_id)
    if of_contacts is not None:
        query = query.where(contact_tags.c.contact_id.in_(select(Contact.id).where(of_contacts)))
    return [tuple(row) for row in db.session.execute(query)]


def link_counts(tag_ids: list[int]) -> dict[int, int]:
    """How many contacts (in the trash or not) carry each of these tags: what renaming,
    merging or deleting the tag changes. One grouped query over the link table's index."""
    if not tag_ids:
        return {}
    rows = db.session.execute(
        select(contact_tags.c.tag_id, func.count())
        .where(contact_tags.c.tag_id.in_(tag_ids))
        .group_by(contact_tags.c.tag_id)
    ).all()
    return dict(rows)


def _require_manager(actor: Actor) -> None:
    if not can(actor, "tag.manage"):
        raise PermissionDenied("Only list managers may rename, merge or delete tags.")


def _record(actor: Actor, action: str, tag: Tag, summary: str, changes: dict) -> None:
    """One history entry for a change to a tag and to every contact carrying it."""
    audit.record_event(db.session, actor, action, "tag", summary, changes, entity_id=tag.id)


def _forget_loaded_tag_lists() -> None:
    """Links were changed with set-based SQL: contacts already loaded reread their tags."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Contact):
            db.session.expire(obj, ["tags"])


def merge_tags(actor: Actor, survivor: Tag, merged: list[Tag]) -> int:
    """Fold the `merged` tags into `survivor`: every contact carrying one of them carries
    `survivor` (once), and the merged tags are deleted. Set-based, whatever the number of
    contacts; one history entry. Returns how many contacts gained `survivor`."""
    _require_manager(actor)
    merged = sorted(
        (t for t in {t.id: t for t in merged}.values() if t.id != survivor.id),
        key=lambda t: t.key,
    )
    if not merged:
        raise ValidationFailed({"tags": ["Choose at least one other tag to merge."]})
    db.session.flush()
    merged_ids = [t.id for t in merged]
    names = [t.name for t in merged]
    carriers = link_counts([*merged_ids, survivor.id])
    link = contact_tags.alias("merged_link")
    already = contact_tags.alias("survivor_link")
    missing = (
        select(link.c.contact_id)
        .where(
            link.c.tag_id.in_(merged_ids),
            ~exists().where(
                already.c.contact_id == link.c.contact_id, already.c.tag_id == survivor.id
            ),
        )
        .distinct()
    )
    # Counted before, not from the INSERT's rowcount: SQLAlchemy reports -1 for an
    # INSERT ... SELECT on PostgreSQL.
    moved = db.session.scalar(select(func.count()).select_from(missing.subquery())) or 0
    db.session.execute(
        insert(contact_tags).from_select(
            ["contact_id", "tag_id"],
            select(missing.subquery().c.contact_id, literal(survivor.id)),
        )
    )
    db.session.execute(delete(contact_tags).where(contact_tags.c.tag_id.in_(merged_ids)))
    db.session.execute(
        delete(Tag).where(Tag.id.in_(merged_ids)).execution_options(synchronize_session="auto")
    )
    _forget_loaded_tag_lists()
    _record(
        actor,
        "merge_tags",
        survivor,
        f"Merged tags {', '.join(names)} into {survivor.name}",
        {
            "tags": [names, survivor.name],
            "tag_ids": [merged_ids, survivor.id],
            "contacts_with_tag": [
                {name: carriers.get(t.id, 0) for name, t in zip(names, merged, strict=True)},
                carriers.get(survivor.id, 0) + moved,
            ],
        },
    )
    db.session.flush()
    return moved


def rename_tag(actor: Actor, tag: Tag, new_name: str) -> Tag:
    """Give `tag` a new name. Renamed onto another tag's name (whatever its case), the two
    are merged: the existing tag, with its name, carries both sets of contacts. Returns the
    tag that now holds the contacts."""
    _require_manager(actor)
    try:
        cleaned = clean_tag_name(new_name)
    except ValidationFailed as exc:
        raise ValidationFailed({"name": exc.errors["tags"]}) from exc
    other = db.session.scalar(select(Tag).where(Tag.key == cleaned.lower(), Tag.id != tag.id))
    if other is not None:
        merge_tags(actor, other, [tag])
        return other
    old = tag.name
    if old != cleaned:
        tag.name = cleaned
        _record(
            actor, "rename_tag", tag, f"Renamed tag {old} to {cleaned}", {"name": [old, cleaned]}
        )
        db.session.flush()
    return tag


def delete_tag(actor: Actor, tag: Tag) -> int:
    """Delete `tag` and take it off every contact carrying it; returns how many."""
    _require_manager(actor)
    db.session.flush()
    removed = (
        db.session.execute(delete(contact_tags).where(contact_tags.c.tag_id == tag.id)).rowcount
        or 0
    )
    _record(
        actor,
        "delete_tag",
        tag,
        f"Deleted tag {tag.name} (removed from {removed} contact(s))",
        {"name": [tag.name, None], "contacts_with_tag": [removed, 0]},
    )
    db.session.delete(tag)
    _forget_loaded_tag_lists()
    db.session.flush()
    return removed
