"""Tags: created on the fly from what users type, one tag per name whatever its case."""

from __future__ import annotations

from sqlalchemy import select

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.models import Tag

MAX_TAG_LENGTH = 60


def clean_tag_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
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
