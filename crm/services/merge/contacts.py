"""Merging contacts into a master contact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from crm.auth.permissions import Actor, can
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    Contact,
    ContactKind,
    MergeRecord,
    User,
    contact_accounts,
)
from crm.models.base import utcnow
from crm.services.contacts import lifecycle
from crm.services.contacts.saving import refresh_derived_fields, save_contact
from crm.services.merge.engine import (
    Ledger,
    move_references,
    row_json,
    set_column,
    snapshot,
    snapshot_children,
)
from crm.services.merge.plan import (
    CONTACT_FIELDS,
    Option,
    _check_versions,
    _chosen,
    _plan_fields,
    contact_plan,
)
from crm.services.merge.record import _record
from crm.services.platform import audit
from crm.services.platform.access import class_change_error


def merge_contacts(
    actor: Actor,
    contact_ids: Iterable[Any],
    master_id: Any = None,
    choices: Mapping[str, Any] | None = None,
    versions: Mapping[Any, Any] | None = None,
) -> MergeRecord:
    """Merge the contacts into the master (one transaction: the caller commits, and on any
    error rolls back, leaving nothing changed). `choices` maps a field to the option key
    that survives (missing: the preselected one); `versions` are the records' versions as
    the merge page showed them."""
    plan = contact_plan(actor, contact_ids, master_id)
    master, merged = plan.master, plan.records[1:]
    _check_versions(plan.records, versions, "contacts")
    chosen = _chosen(plan, choices or {})
    audit.note_actor(db.session, actor)
    ledger = Ledger()
    contacts_t, accounts_t = Contact.__table__, Account.__table__
    _check_rights(actor, master, chosen)
    hidden_accounts = {c.account_id for c in plan.records if c.account.is_hidden}
    snapshot(contacts_t, [c.id for c in plan.records], ledger)
    snapshot(accounts_t, hidden_accounts, ledger)  # renamed or merged; companies are not
    snapshot_children(contacts_t, master.id, ledger)  # the master's rules may tidy them
    before = {fp.field.name: fp.cells[master.id] for fp in plan.fields}
    links_before = _account_links(master.id)

    now = utcnow()
    for contact in merged:  # tombstones: out of every list, pointing at the master
        contact.merged_into_id = master.id
        contact.deleted_at = now
        contact.deleted_by_id = getattr(actor, "id", None)
    db.session.flush()

    _apply_contact_choices(master, merged, chosen)
    # Stored before the rules run, so that they see the chosen account as the master's own
    # and never delete the one it leaves (that one follows below, and comes back on undo).
    db.session.flush()
    save_contact(actor, master, is_new=False)
    _note_deleted_links(master.id, links_before, ledger)

    # The hidden account of a merged consumer follows its contact into the master's account.
    final_account = master.account_id
    hidden = sorted(a for a in hidden_accounts if a != final_account)
    if hidden:
        _merge_account_rows(hidden, final_account, ledger)
    moved = move_references(contacts_t, [c.id for c in merged], master.id, ledger)
    db.session.expire_all()
    # The deals and orders it received may change its statuses (crm.services.contacts.lifecycle).
    lifecycle.apply_status_rules([master.id])

    # The master's search text and phone flag now cover what it received.
    db.session.expire_all()
    refresh_derived_fields(master)
    db.session.flush()

    after_plan = _plan_fields([master], CONTACT_FIELDS, "contact")
    after = {fp.field.name: fp.cells[master.id] for fp in after_plan}
    return _record(actor, plan, before, after, moved, ledger)


def _check_rights(actor: Actor, master: Contact, chosen: dict[str, Option | None]) -> None:
    """Choosing another record's owner, responsible or access class asks the same rights as
    changing them in the form."""
    errors: dict[str, list[str]] = {}

    def value(name: str) -> Any:
        option = chosen.get(name)
        return option.value if option is not None else None

    if value("owner_id") != master.owner_id and not can(actor, "contact.transfer"):
        errors["owner_id"] = ["You do not have permission to transfer contacts to another owner."]
    if value("responsible_id") != master.responsible_id and not can(
        actor, "contact.assign_responsible"
    ):
        errors["responsible_id"] = ["You do not have permission to assign responsible users."]
    refused = class_change_error(actor, value("access_class_id"), master.access_class_id)
    if refused:
        errors["access_class_id"] = [refused]
    if errors:
        raise ValidationFailed(errors)


def _account_links(contact_id: int) -> list[dict]:
    table = contact_accounts
    rows = db.session.execute(select(table).where(table.c.contact_id == contact_id)).mappings()
    return [row_json(table, row) for row in rows]


def _note_deleted_links(contact_id: int, before: list[dict], ledger: Ledger) -> None:
    """The contact rules drop a link to the account the master now belongs to: kept in the
    ledger so that undo brings it back."""
    now = {tuple(sorted(r.items())) for r in _account_links(contact_id)}
    for row in before:
        if tuple(sorted(row.items())) not in now:
            ledger.deleted.append({"table": contact_accounts.name, "row": row})


def _apply_contact_choices(
    master: Contact, merged: list[Contact], chosen: dict[str, Option | None]
) -> None:
    by_id = {c.id: c for c in (master, *merged)}
    for name, option in chosen.items():
        value = option.value if option is not None else None
        if name == "account":
            _apply_account_choice(master, by_id, option)
        elif name == "owner_id":
            master.owner = db.session.get(User, value) if value else None
        elif name == "responsible_id":
            master.responsible = db.session.get(User, value) if value else None
        elif name == "access_class_id":
            master.access_class = db.session.get(AccessClass, value) if value else None
        elif name == "manager_id":
            master.manager = db.session.get(Contact, value) if value else None
        else:
            setattr(master, name, value)


def _apply_account_choice(
    master: Contact, by_id: dict[int, Contact], option: Option | None
) -> None:
    if option is None:
        return
    kind, account_id = option.value
    if kind == "b2b":
        if master.kind == ContactKind.B2B and master.account_id == account_id:
            return
        master.kind = ContactKind.B2B
        master.account = db.session.get(Account, account_id)
        # Primary in another company says nothing about this one: the flag stays there.
        master.is_primary = False
        return
    if master.kind == ContactKind.B2C:
        return  # its own hidden account stays; the others follow into it
    holder = by_id[next(h for h in option.holders if by_id[h].kind == ContactKind.B2C)]
    master.kind = ContactKind.B2C
    master.account = holder.account  # the consumer's hidden account follows the master


def _merge_account_rows(account_ids: list[int], master_account_id: int, ledger: Ledger) -> dict:
    """Move every reference to these accounts into the master's; mark them merged."""
    moved = move_references(Account.__table__, account_ids, master_account_id, ledger)
    conn = db.session.connection()
    for account_id in account_ids:
        set_column(
            conn,
            Account.__table__,
            {"id": account_id},
            "merged_into_id",
            None,
            master_account_id,
            ledger,
        )
    return moved
