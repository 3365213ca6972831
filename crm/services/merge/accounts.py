"""Merging company accounts into a master account."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor
from crm.extensions import db
from crm.models import AccessClass, Account, Contact, MergeRecord, User
from crm.services.contacts.accounts import save_account
from crm.services.contacts.search import search_text_for
from crm.services.merge.engine import Ledger, move_references, set_column, snapshot
from crm.services.merge.plan import (
    ACCOUNT_FIELDS,
    _check_versions,
    _chosen,
    _plan_fields,
    account_plan,
)
from crm.services.merge.record import _record
from crm.services.platform import audit


def merge_accounts(
    actor: Actor,
    account_ids: Iterable[Any],
    master_id: Any = None,
    choices: Mapping[str, Any] | None = None,
    versions: Mapping[Any, Any] | None = None,
) -> MergeRecord:
    """Merge company accounts into the master: their contacts, links and criteria move to
    it; the merged accounts are kept, pointing at the master, out of every list."""
    plan = account_plan(actor, account_ids, master_id)
    master, merged = plan.master, plan.records[1:]
    _check_versions(plan.records, versions, "accounts")
    chosen = _chosen(plan, choices or {})
    audit.note_actor(db.session, actor)
    ledger = Ledger()
    snapshot(Account.__table__, [a.id for a in plan.records], ledger)
    before = {fp.field.name: fp.cells[master.id] for fp in plan.fields}

    for account in merged:
        account.merged_into_id = master.id
    db.session.flush()
    for name, option in chosen.items():
        value = option.value if option is not None else None
        if name == "owner_id":
            master.owner = db.session.get(User, value) if value else None
        elif name == "access_class_id":
            master.access_class = db.session.get(AccessClass, value) if value else None
        else:
            setattr(master, name, value)
    save_account(actor, master, is_new=False)
    db.session.flush()

    moved = move_references(Account.__table__, [a.id for a in merged], master.id, ledger)
    arrived = _moved_contacts(ledger)
    _one_primary(master.id, arrived, ledger)
    _refresh_search_text(arrived)

    after_plan = _plan_fields([master], ACCOUNT_FIELDS, "account")
    after = {fp.field.name: fp.cells[master.id] for fp in after_plan}
    return _record(actor, plan, before, after, moved, ledger)


def _moved_contacts(ledger: Ledger) -> list[int]:
    return [
        c["key"]["id"]
        for c in ledger.changes
        if c["table"] == "contacts" and c["column"] == "account_id"
    ]


def _one_primary(account_id: int, arrived: list[int], ledger: Ledger) -> None:
    """One primary contact per account: the master's keeps the flag; arrivals lose theirs."""
    primaries = db.session.scalars(
        select(Contact.id).where(
            Contact.account_id == account_id,
            Contact.is_primary.is_(True),
            Contact.merged_into_id.is_(None),
        )
    ).all()
    keep = next((i for i in primaries if i not in arrived), primaries[0] if primaries else None)
    conn = db.session.connection()
    for contact_id in primaries:
        if contact_id != keep:
            set_column(
                conn, Contact.__table__, {"id": contact_id}, "is_primary", True, False, ledger
            )


def _refresh_search_text(contact_ids: list[int]) -> None:
    """Contacts are found by their company's name: keep their search text in step."""
    db.session.flush()
    db.session.expire_all()
    changed: list[dict] = []
    for start in range(0, len(contact_ids), 500):
        chunk = contact_ids[start : start + 500]
        for contact in db.session.scalars(
            select(Contact)
            .where(Contact.id.in_(chunk))
            .options(selectinload(Contact.account), selectinload(Contact.phones))
        ):
            text = search_text_for(contact)
            if contact.search_text != text:
                changed.append({"contact_id": contact.id, "text": text})
    if changed:  # one executemany; the search index's triggers still run per row
        table = Contact.__table__
        db.session.execute(
            table.update()
            .where(table.c.id == bindparam("contact_id"))
            .values(search_text=bindparam("text")),
            changed,
        )
    db.session.expire_all()
