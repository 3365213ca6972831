"""The merge plan: every field's values side by side, the master's preselected, and
the checks both kinds of merge share (the records the actor may merge, their versions,
the choices posted)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import AccessClass, Account, Contact, ContactKind, CustomerStatus, User
from crm.models.base import LabeledEnum
from crm.services.merge.engine import references_to
from crm.services.platform.access import account_visibility, contact_visibility
from crm.services.platform.validation import birthday_shown

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
            elif f.name == "birthday":
                shown = birthday_shown(value)  # "17 May" without a year
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
