"""The MergeRecord a merge writes (what undo replays, and the history), and the
versions of the rows it changed, which undo wants unchanged."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from crm.auth.permissions import Actor
from crm.extensions import db
from crm.models import MergeRecord
from crm.models.base import utcnow
from crm.services.merge.engine import Ledger
from crm.services.merge.plan import MergePlan
from crm.services.platform import audit


def _record(
    actor: Actor,
    plan: MergePlan,
    before: dict[str, str],
    after: dict[str, str],
    moved: dict[str, int],
    ledger: Ledger,
) -> MergeRecord:
    master, merged = plan.master, plan.records[1:]
    fields = {
        fp.field.name: {
            "label": fp.field.label,
            "values": {str(r.id): fp.cells[r.id] for r in plan.records},
            "before": before[fp.field.name],
            "after": after[fp.field.name],
        }
        for fp in plan.fields
    }
    changes = ledger.as_json()
    changes["guard"] = _versions_now(ledger)
    names = ", ".join(f"{r} (#{r.id})" for r in merged)
    user_id, email = audit.current_actor(db.session)
    record = MergeRecord(
        kind=plan.kind,
        master_id=master.id,
        merged_ids=[r.id for r in merged],
        at=utcnow(),
        user_id=getattr(actor, "id", user_id),
        user_email=getattr(actor, "email", email),
        summary=f"Merged {names} into {master} (#{master.id})"[:300],
        fields=fields,
        changes=changes,
        master_version=master.version,
    )
    db.session.add(record)
    db.session.flush()
    changed = {f: [before[f], after[f]] for f in before if before[f] != after[f]}
    link = {"contact_id": master.id} if plan.kind == "contact" else {"account_id": master.id}
    audit.record_event(
        db.session,
        actor,
        "merge",
        plan.kind,
        record.summary,
        {
            "merge_id": record.id,
            "merged_ids": record.merged_ids,
            "fields": changed,
            "moved": moved,
        },
        entity_id=master.id,
        # The merged records' pages show it too (their own entries below say where to).
        contact_ids=record.merged_ids if plan.kind == "contact" else None,
        **link,
    )
    for other in merged:
        link = {"contact_id": other.id} if plan.kind == "contact" else {"account_id": other.id}
        audit.record_event(
            db.session,
            actor,
            "merge",
            plan.kind,
            f"Merged into {master} (#{master.id})",
            {"merge_id": record.id, "merged_into_id": master.id},
            entity_id=other.id,
            **link,
        )
    db.session.flush()
    return record


def _versions_now(ledger: Ledger) -> dict[str, int]:
    """The version of every snapshotted row once merged: undo wants them unchanged."""
    return _versions(ledger.snapshots)


def _versions(names: Iterable[str]) -> dict[str, int]:
    """The current versions of rows named "table:id" (of tables with a version), one query
    per table; a row that no longer exists is left out."""
    wanted: dict[str, list[int]] = {}
    for name in names:
        table_name, row_id = name.split(":", 1)
        if "version" in db.metadata.tables[table_name].c:
            wanted.setdefault(table_name, []).append(int(row_id))
    found = {}
    for table_name, ids in wanted.items():
        table = db.metadata.tables[table_name]
        for row_id, version in db.session.execute(
            select(table.c.id, table.c.version).where(table.c.id.in_(ids))
        ):
            found[f"{table_name}:{row_id}"] = version
    return found
