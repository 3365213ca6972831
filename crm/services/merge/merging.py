"""Merging duplicate contacts (or accounts) into one master without losing anything.

A merge is one transaction, in small steps:
1. check: the permission, 2 to MAX_MERGED records the actor sees, live, unchanged since
   the merge page showed them (their versions: optimistic locking);
2. plan (`contact_plan`, `account_plan`): for every field, the distinct values side by side,
   the master's preselected unless empty; an empty value never wins over a filled one;
3. snapshot the rows the merge rewrites (the records, their accounts);
4. mark the merged records as tombstones pointing at the master (contacts also leave every
   list: `deleted_at`), apply the chosen values to the master with its usual rules;
5. move every row that references a merged record to the master (crm.services.merge.engine,
   from the database's foreign keys); a B2C contact's hidden account follows its contact;
6. write a MergeRecord (what undo replays) and the history.
`undo_merge` (crm_admin) replays the record backwards while nothing has changed since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, NotFound, PermissionDenied, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    Contact,
    ContactKind,
    CustomerStatus,
    MergeRecord,
    User,
    contact_accounts,
)
from crm.models.base import LabeledEnum, utcnow
from crm.services.contacts import lifecycle
from crm.services.contacts.accounts import save_account
from crm.services.contacts.saving import refresh_derived_fields, save_contact
from crm.services.contacts.search import search_text_for
from crm.services.merge.engine import (
    Ledger,
    move_references,
    references_to,
    row_json,
    set_column,
    snapshot,
    snapshot_children,
    undo,
)
from crm.services.platform import audit
from crm.services.platform.access import (
    account_visibility,
    class_change_error,
    contact_visibility,
)
from crm.services.platform.access import record_id as _record_id

MAX_MERGED = 10
COMBINE = "combine"  # the option that joins every distinct text (notes)


@dataclass(frozen=True)
class MergeField:
    name: str
    label: str
    combine: bool = False  # long texts: "all of them, one after the other" is offered


CONTACT_FIELDS = (
    MergeField("title", "Title"),
    MergeField("first_name", "First name"),
    MergeField("middle_name", "Middle name"),
    MergeField("last_name", "Last name"),
    MergeField("account", "Account"),
    MergeField("job_title", "Job title"),
    MergeField("department", "Department"),
    MergeField("email", "Email"),
    MergeField("email_secondary", "Secondary email"),
    MergeField("website", "Website"),
    MergeField("owner_id", "Owner"),
    MergeField("responsible_id", "Responsible"),
    MergeField("access_class_id", "Access class"),
    MergeField("customer_status", "Customer status"),
    MergeField("prospect_status", "Prospect status"),
    MergeField("birthday", "Birthday"),
    MergeField("gender", "Gender"),
    MergeField("manager_id", "Manager"),
    MergeField("contact_preference", "Contact preference"),
    MergeField("email_marketing", "Email marketing consent"),
    MergeField("do_not_email", "Do not email"),
    MergeField("do_not_call", "Do not call"),
    MergeField("timezone", "Time zone"),
    MergeField("language", "Language"),
    MergeField("certificate", "Certificate"),
    MergeField("customer_currency", "Customer currency"),
    MergeField("payment_terms_days", "Payment terms (days)"),
    MergeField("active", "Active"),
    MergeField("other_contacts", "Other contacts", combine=True),
    MergeField("notes", "Notes", combine=True),
    MergeField("picture", "Picture"),
)
# Contact columns that are not chosen: the account pair (chosen as "account"), values kept
# by the rules, and bookkeeping. A test fails when a new column is in neither list.
CONTACT_NOT_CHOSEN = frozenset(
    {
        "id",
        "kind",
        "account_id",
        "is_primary",
        "birthday_month",
        # The master keeps its own customer number: a number is never moved or given again
        # (orders and invoices name it); a merged consumer's stays with its tombstone.
        "customer_number",
        "deleted_at",
        "deleted_by_id",
        "merged_into_id",
        "search_text",
        "name_key",
        "has_phone",
        "version",
        "created_at",
        "updated_at",
    }
)
ACCOUNT_FIELDS = (
    MergeField("name", "Name"),
    MergeField("website", "Website"),
    MergeField("owner_id", "Owner"),
    MergeField("access_class_id", "Access class"),
    MergeField("notes", "Notes", combine=True),
)
ACCOUNT_NOT_CHOSEN = frozenset(
    {"id", "is_hidden", "merged_into_id", "version", "created_at", "updated_at"}
)
# Privacy wins: if any of the records asked not to be emailed or called, the master does.
_ANY_TRUE = frozenset({"do_not_email", "do_not_call"})
_STATUS_RANK = {
    CustomerStatus.CUSTOMER: 3,
    CustomerStatus.PROSPECT: 2,
    CustomerStatus.NON_CUSTOMER: 1,
}

# How the merge page names the rows that move; other tables show their own name.
REFERENCE_LABELS = {
    ("phones", "contact_id"): "Phones",
    ("addresses", "contact_id"): "Addresses",
    ("social_links", "contact_id"): "Social links",
    ("contact_tags", "contact_id"): "Tags",
    ("contact_categories", "contact_id"): "Categories",
    ("contact_criteria", "contact_id"): "Criteria",
    ("contact_accounts", "contact_id"): "Further accounts",
    ("segment_members", "contact_id"): "Segments",
    ("marketing_list_members", "contact_id"): "Marketing lists",
    ("selected_contacts", "contact_id"): "In users' selections",
    ("not_duplicates", "low_id"): "Marked not duplicates",
    ("not_duplicates", "high_id"): "Marked not duplicates",
    ("contacts", "manager_id"): "Contacts they manage",
    ("contacts", "merged_into_id"): "Contacts merged into them before",
    ("contacts", "account_id"): "Contacts",
    ("contact_accounts", "account_id"): "Contacts linked",
    ("account_criteria", "account_id"): "Criteria",
    ("accounts", "merged_into_id"): "Accounts merged into them before",
}


# ---- the plan: every field's values side by side ---------------------------------------
@dataclass
class Option:
    key: str  # what the page posts: a record's id ("12"), "12:email", or "combine"
    value: Any  # what is stored
    shown: str
    holders: list[int] = field(default_factory=list)


@dataclass
class FieldPlan:
    field: MergeField
    cells: dict[int, str]  # record id -> its value as shown ("" when empty)
    keys: dict[int, str | None]  # record id -> the option key of its value (None: empty)
    options: list[Option]
    chosen: str | None  # the option preselected (None: every value is empty)
    extra: list[Option] = field(default_factory=list)  # options no single cell holds

    @property
    def differs(self) -> bool:
        return len(self.options) + len(self.extra) > 1

    def option(self, key: str) -> Option | None:
        return next((o for o in (*self.options, *self.extra) if o.key == key), None)


@dataclass
class MergePlan:
    kind: str  # "contact" or "account"
    records: list[Any]  # the master first
    fields: list[FieldPlan]
    related: list[tuple[str, dict[int, int]]]  # (label, record id -> rows) that move

    @property
    def master(self) -> Any:
        return self.records[0]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, LabeledEnum):
        return value.label
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _names(model: type, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        row.id: str(row) for row in db.session.scalars(select(model).where(model.id.in_(wanted)))
    }


def _contact_value(contact: Contact, name: str) -> Any:
    if name == "account":
        if contact.kind == ContactKind.B2C:
            return ("b2c", None)
        return ("b2b", contact.account_id)
    return getattr(contact, name)


def _values(records: list[Any], fields: tuple[MergeField, ...], kind: str) -> dict:
    """record id -> field -> (stored value, as shown)."""
    users = _names(
        User,
        (getattr(r, f) for r in records for f in ("owner_id", "responsible_id") if hasattr(r, f)),
    )
    classes = _names(AccessClass, (r.access_class_id for r in records))
    accounts = _names(Account, (r.account_id for r in records)) if kind == "contact" else {}
    managers = _names(Contact, (r.manager_id for r in records)) if kind == "contact" else {}
    merged = {r.id for r in records}
    out: dict[int, dict[str, tuple[Any, str]]] = {}
    for record in records:
        row = {}
        for f in fields:
            value = _contact_value(record, f.name) if kind == "contact" else getattr(record, f.name)
            if f.name in {"owner_id", "responsible_id"}:
                shown = users.get(value, "")
            elif f.name == "access_class_id":
                shown = classes.get(value, "")
            elif f.name == "manager_id":
                # A manager among the merged records would be the master itself: empty.
                value = None if value in merged else value
                shown = managers.get(value, "")
            elif f.name == "account":
                shown = "Consumer (B2C)" if value[0] == "b2c" else accounts.get(value[1], "")
            else:
                shown = _shown(value)
            row[f.name] = (None if _empty(value) else value, shown if not _empty(value) else "")
        out[record.id] = row
    return out


def _plan_fields(records: list[Any], fields: tuple[MergeField, ...], kind: str) -> list[FieldPlan]:
    values = _values(records, fields, kind)
    master = records[0]
    plans = []
    picked: dict[str, Any] = {}
    for f in fields:
        options: list[Option] = []
        keys: dict[int, str | None] = {}
        for record in records:
            value, shown = values[record.id][f.name]
            if value is None:
                keys[record.id] = None
                continue
            same = next((o for o in options if o.value == value), None)
            if same is None:
                same = Option(str(record.id), value, shown)
                options.append(same)
            same.holders.append(record.id)
            keys[record.id] = same.key
        extra: list[Option] = []
        if f.combine and len(options) > 1:
            joined = "\n\n".join(str(o.value).strip() for o in options)
            extra.append(Option(COMBINE, joined, "All of them, one after the other"))
        if kind == "contact" and f.name == "email_secondary":
            extra += _other_emails(records, values, options)
        chosen = _preselect(f, master, options, extra, keys, picked)
        chosen_option = next((o for o in (*options, *extra) if o.key == chosen), None)
        picked[f.name] = chosen_option.value if chosen_option is not None else None
        plans.append(
            FieldPlan(
                field=f,
                cells={r.id: values[r.id][f.name][1] for r in records},
                keys=keys,
                options=options,
                chosen=chosen,
                extra=extra,
            )
        )
    return plans


def _other_emails(records: list[Any], values: dict, options: list[Option]) -> list[Option]:
    """Each record's primary email offered as the master's secondary one, so that no
    address is lost when only one can be the primary."""
    held = {o.value for o in options}
    extra = []
    for record in records:
        email = values[record.id]["email"][0]
        if email and email not in held:
            held.add(email)
            extra.append(Option(f"{record.id}:email", email, f"{email} (email of #{record.id})"))
    return extra


def _preselect(
    f: MergeField,
    master: Any,
    options: list[Option],
    extra: list[Option],
    keys: dict[int, str | None],
    picked: dict[str, Any],
) -> str | None:
    if f.name in _ANY_TRUE:
        return next((o.key for o in options if o.value is True), keys.get(master.id))
    if f.name == "customer_status" and options:
        return max(options, key=lambda o: _STATUS_RANK.get(o.value, 0)).key
    if f.combine and extra:
        return COMBINE
    if keys.get(master.id) is not None:
        return keys[master.id]
    if f.name == "email_secondary" and extra:
        # Another record's email, not the one the master keeps as its primary.
        return next((o.key for o in extra if o.value != picked.get("email")), None)
    return options[0].key if options else None


def _related(table, ids: list[int]) -> list[tuple[str, dict[int, int]]]:
    """(label, record id -> rows that reference it) for every referencing table."""
    found: dict[str, dict[int, int]] = {}
    for ref_table, column in references_to(table):
        label = REFERENCE_LABELS.get(
            (ref_table.name, column.name), ref_table.name.replace("_", " ").capitalize()
        )
        rows = db.session.execute(
            select(column, func.count()).where(column.in_(ids)).group_by(column)
        ).all()
        counts = found.setdefault(label, {})
        for record_id, n in rows:
            counts[record_id] = counts.get(record_id, 0) + n
    return [(label, counts) for label, counts in found.items() if counts]


def load_contacts(actor: Actor, contact_ids: Iterable[Any], master_id: Any = None) -> list[Contact]:
    """The contacts to merge, the master first (given, else the oldest)."""
    if not can(actor, "contact.merge"):
        raise PermissionDenied("You do not have permission to merge contacts.")
    ids = _ids(contact_ids)
    found = db.session.scalars(
        select(Contact)
        .where(Contact.id.in_(ids), contact_visibility(actor))
        .options(selectinload(Contact.account))
        .order_by(Contact.id)
    ).all()
    return _ordered(found, ids, _id(master_id), "contacts")


def load_accounts(actor: Actor, account_ids: Iterable[Any], master_id: Any = None) -> list[Account]:
    if not can(actor, "contact.merge"):
        raise PermissionDenied("You do not have permission to merge accounts.")
    ids = _ids(account_ids)
    found = db.session.scalars(
        select(Account)
        .where(Account.id.in_(ids), account_visibility(actor), Account.is_hidden.is_(False))
        .order_by(Account.id)
    ).all()
    return _ordered(found, ids, _id(master_id), "accounts")


def _id(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _ids(values: Iterable[Any]) -> list[int]:
    ids = []
    for value in values:
        for part in str(value).split(","):
            number = _id(part.strip())
            if number is None:
                raise ValidationFailed({"ids": [f"{part.strip()!r} is not a record number."]})
            if number not in ids:
                ids.append(number)
    return ids


def _ordered(found: list[Any], ids: list[int], master_id: int | None, what: str) -> list[Any]:
    if len(ids) < 2:
        raise ValidationFailed({"ids": [f"Choose two to {MAX_MERGED} {what} to merge."]})
    if len(ids) > MAX_MERGED:
        raise ValidationFailed(
            {"ids": [f"At most {MAX_MERGED} {what} can be merged at once ({len(ids)} chosen)."]}
        )
    missing = sorted(set(ids) - {r.id for r in found})
    if missing:
        shown = ", ".join(f"#{i}" for i in missing)
        raise NotFound(
            f"{what.capitalize()} {shown} cannot be merged: not found, merged already, in the "
            "trash, or not visible to you."
        )
    master = next((r for r in found if r.id == master_id), None)
    if master_id is not None and master is None:
        raise ValidationFailed({"master": ["The master must be one of the records merged."]})
    master = master or found[0]
    return [master, *(r for r in found if r is not master)]


def contact_plan(actor: Actor, contact_ids: Iterable[Any], master_id: Any = None) -> MergePlan:
    contacts = load_contacts(actor, contact_ids, master_id)
    return MergePlan(
        kind="contact",
        records=contacts,
        fields=_plan_fields(contacts, CONTACT_FIELDS, "contact"),
        related=_related(Contact.__table__, [c.id for c in contacts]),
    )


def account_plan(actor: Actor, account_ids: Iterable[Any], master_id: Any = None) -> MergePlan:
    accounts = load_accounts(actor, account_ids, master_id)
    return MergePlan(
        kind="account",
        records=accounts,
        fields=_plan_fields(accounts, ACCOUNT_FIELDS, "account"),
        related=_related(Account.__table__, [a.id for a in accounts]),
    )


def _check_versions(records: list[Any], versions: Mapping[Any, Any] | None, what: str) -> None:
    """Optimistic locking: refuse when any record moved on since the page showed it."""
    if versions is None:
        return
    for record in records:
        seen = _id(versions.get(record.id, versions.get(str(record.id))))
        if seen is None:
            raise ValidationFailed({"versions": ["The merge page is incomplete: open it again."]})
        if seen != record.version:
            raise StaleEditError(
                f"{record} (#{record.id}) was changed by someone else after you opened the "
                f"merge page. Nothing was merged: look at the {what} again, then merge."
            )


def _chosen(plan: MergePlan, choices: Mapping[str, Any]) -> dict[str, Option | None]:
    errors: dict[str, list[str]] = {}
    chosen: dict[str, Option | None] = {}
    for fp in plan.fields:
        key = choices.get(fp.field.name)
        key = fp.chosen if key in (None, "") else str(key)
        option = fp.option(key) if key is not None else None
        if key is not None and option is None:
            errors[fp.field.name] = ["Choose one of the values shown."]
        chosen[fp.field.name] = option
    if errors:
        raise ValidationFailed(errors)
    return chosen


# ---- merging contacts ------------------------------------------------------------------------
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


# ---- merging accounts ------------------------------------------------------------------------
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


# ---- old links ---------------------------------------------------------------------------------
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


# ---- undo --------------------------------------------------------------------------------------
def merges_of(kind: str, record_id: int) -> list[MergeRecord]:
    """The merges whose master is this record, newest first."""
    return list(
        db.session.scalars(
            select(MergeRecord)
            .where(MergeRecord.kind == kind, MergeRecord.master_id == record_id)
            .order_by(MergeRecord.id.desc())
        )
    )


def undo_refusal(record: MergeRecord) -> str:
    """Why this merge cannot be undone now ("" when it can)."""
    if record.undone_at is not None:
        return "This merge was undone already."
    later = db.session.scalar(
        select(MergeRecord.id)
        .where(
            MergeRecord.kind == record.kind,
            MergeRecord.id > record.id,
            MergeRecord.undone_at.is_(None),
            MergeRecord.master_id.in_([record.master_id, *record.merged_ids]),
        )
        .order_by(MergeRecord.id)
        .limit(1)
    )
    if later is not None:
        return f"A later merge (#{later}) involves these records: undo it first."
    guard = record.changes.get("guard") or {}
    current = _versions(guard)
    for name, version in guard.items():
        table_name, row_id = name.split(":", 1)
        now = current.get(name)
        if now is None:
            return f"{_record_name(table_name)} #{row_id} no longer exists."
        if now != version:
            return (
                f"{_record_name(table_name)} #{row_id} was changed after the merge: undoing "
                "would lose that change."
            )
    return ""


def _record_name(table_name: str) -> str:
    return "Contact" if table_name == "contacts" else "Account"


def undo_merge(actor: Actor, record: MergeRecord) -> None:
    """Put everything back as it was before the merge (crm_admin; the caller commits)."""
    if not can(actor, "merge.undo"):
        raise PermissionDenied("Only administrators may undo a merge.")
    refused = undo_refusal(record)
    if refused:
        raise DomainError(refused)
    audit.note_actor(db.session, actor)
    ledger = Ledger.from_json(record.changes)
    db.session.flush()
    undo(ledger)  # raises UndoRefused (a DomainError) when a moved row changed since
    if record.kind == "account":  # contacts went back to their companies: found by those
        _refresh_search_text(_moved_contacts(ledger))
    db.session.expire_all()
    record.undone_at = utcnow()
    record.undone_by_email = getattr(actor, "email", None)
    link = (
        {"contact_id": record.master_id}
        if record.kind == "contact"
        else {"account_id": record.master_id}
    )
    audit.record_event(
        db.session,
        actor,
        "unmerge",
        record.kind,
        f"Undid merge #{record.id}: {record.summary}"[:300],
        {"merge_id": record.id, "restored_ids": record.merged_ids},
        entity_id=record.master_id,
        contact_ids=record.merged_ids if record.kind == "contact" else None,
        **link,
    )
    db.session.flush()
