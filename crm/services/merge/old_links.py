"""Old links: where the id of a merged contact or account leads now."""

from __future__ import annotations

from typing import Any

from crm.auth.permissions import Actor
from crm.extensions import db
from crm.models import Contact
from crm.services.platform.access import record_id as _record_id

MAX_HOPS = 10


def merged_into(model: type, record_id: object) -> tuple[Any, Any] | None:
    """For the id of a merged contact or account: (it, the live record it was merged into,
    following later merges up to MAX_HOPS), or None when it is not merged (or the chain is
    broken). Whether the user may see the master is for the caller to ask."""
    pk = _record_id(record_id)
    if pk is None:
        return None
    merged = db.session.get(model, pk)
    if merged is None or merged.merged_into_id is None:
        return None
    current, seen = merged, {merged.id}
    while current is not None and current.merged_into_id is not None:
        if current.merged_into_id in seen or len(seen) > MAX_HOPS:
            return None
        seen.add(current.merged_into_id)
        current = db.session.get(model, current.merged_into_id)
    return (merged, current) if current is not None else None


def merge_successor(actor: Actor, model: type, record_id: object) -> tuple[Any, Any] | None:
    """For the id of a merged contact or account: (it, the live record it was merged into),
    when `actor` may see that one; None otherwise (not merged, a broken chain, or out of the
    actor's sight). What old links (pages, API) follow."""
    from crm.services.platform.access import get_visible_account, get_visible_contact

    found = merged_into(model, record_id)
    if found is None:
        return None
    visible = get_visible_contact if model is Contact else get_visible_account
    master = visible(actor, found[1].id)
    return (found[0], master) if master is not None else None
