"""Lookup lists (phone, address and social platform types, categories, criteria, and the
access classes): rules for changing them."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    Address,
    AddressType,
    Category,
    Connection,
    ConnectionType,
    Contact,
    Criterion,
    CriterionScope,
    Phone,
    PhoneType,
    SocialLink,
    SocialPlatform,
    account_criteria,
    contact_categories,
    contact_criteria,
)
from crm.services.platform import validation as v

Lookup = (
    PhoneType | AddressType | SocialPlatform | Category | Criterion | AccessClass | ConnectionType
)

# Who may change each list (list managers, but access classes are the administrators').
PERMISSION = {
    AccessClass: ("access_class.manage", "Only administrators may change access classes.")
}
_LIST_MANAGERS = ("lookup.manage", "Only list managers may change lookup lists.")

# Which rows use each lookup entry: (the referring column, what its rows are called).
# Contacts in the trash count: restored, they keep their categories and criteria.
USAGE = {
    PhoneType: ((Phone.__table__.c.phone_type_id, "phone number(s)"),),
    AddressType: ((Address.__table__.c.address_type_id, "address(es)"),),
    SocialPlatform: ((SocialLink.__table__.c.platform_id, "social link(s)"),),
    Category: ((contact_categories.c.category_id, "contact(s)"),),
    ConnectionType: ((Connection.__table__.c.type_id, "connection(s)"),),
    Criterion: (
        (contact_criteria.c.criterion_id, "contact(s)"),
        (account_criteria.c.criterion_id, "account(s)"),
    ),
    AccessClass: (
        (Contact.__table__.c.access_class_id, "contact(s)"),
        (Account.__table__.c.access_class_id, "account(s)"),
    ),
}


def criteria_for(scope: CriterionScope) -> list[Criterion]:
    """The criteria a record may be given anew: active ones for its kind (contacts are
    individuals, accounts companies) or for both, in the list managers' order."""
    return list(
        db.session.scalars(
            select(Criterion)
            .where(
                Criterion.applies_to.in_([scope, CriterionScope.BOTH]),
                Criterion.active.is_(True),
            )
            .order_by(Criterion.position, Criterion.name)
        )
    )


def _require(actor: Actor, item: Lookup) -> None:
    permission, refusal = PERMISSION.get(type(item), _LIST_MANAGERS)
    if not can(actor, permission):
        raise PermissionDenied(refusal)


def usages(item: Lookup) -> list[tuple[int, str]]:
    """(how many, what) for each kind of row using `item`."""
    found = []
    for column, what in USAGE[type(item)]:
        n = db.session.scalar(
            select(func.count()).select_from(column.table).where(column == item.id)
        )
        found.append((n or 0, what))
    return found


def usage_count(item: Lookup) -> int:
    """How many rows use `item`, all kinds together."""
    return sum(n for n, _ in usages(item))


def save_lookup(actor: Actor, item: Lookup) -> None:
    """Clean and check a new or edited lookup entry; raises ValidationFailed."""
    # No autoflush: a new item already added to the session would be inserted before it is
    # checked (and then found as its own duplicate, or refused by the unique index).
    with db.session.no_autoflush:
        _save_lookup(actor, item)


def _save_lookup(actor: Actor, item: Lookup) -> None:
    _require(actor, item)
    errors: dict[str, list[str]] = {}
    item.name = v.clean_text(item.name) or ""
    limit = type(item).__table__.c["name"].type.length
    if not item.name:
        errors["name"] = ["A name is required."]
    elif len(item.name) > limit:
        errors["name"] = [f"Too long (at most {limit} characters)."]
    else:
        model = type(item)
        query = select(model.id).where(func.lower(model.name) == item.name.lower())
        if item.id is not None:
            query = query.where(model.id != item.id)
        clash = db.session.scalar(query.limit(1))
        if clash is not None:
            errors["name"] = [f"{item.name!r} already exists."]
    if isinstance(item, SocialPlatform):
        item.hosts = ",".join(h.strip().lower() for h in (item.hosts or "").split(",") if h.strip())
        item.url_template = v.clean_text(item.url_template) or ""
        if item.url_template and "{handle}" not in item.url_template:
            errors["url_template"] = ["The profile URL pattern must contain {handle}."]
        elif item.url_template:
            try:
                v.clean_url(item.url_template.replace("{handle}", "x"))
            except v.FieldError as exc:
                errors["url_template"] = [str(exc)]
        item.handle_pattern = v.clean_text(item.handle_pattern) or ""
        if item.handle_pattern:
            try:
                re.compile(item.handle_pattern)
            except re.error as exc:
                errors["handle_pattern"] = [f"Not a valid regular expression: {exc}"]
    if isinstance(item, Criterion):
        _check_scope(item, errors)
    if isinstance(item, ConnectionType):
        # A type without its own inverse reads the same from both ends ("Colleague").
        item.inverse_name = v.clean_text(item.inverse_name) or item.name
        if len(item.inverse_name) > 60:
            errors["inverse_name"] = ["Too long (at most 60 characters)."]
    if isinstance(item, AccessClass):
        item.description = v.clean_text(item.description) or ""
    if item.position is None:
        item.position = 0
    if errors:
        raise ValidationFailed(errors)


def _check_scope(item: Criterion, errors: dict[str, list[str]]) -> None:
    """A criterion stays offered to the kind of record already using it."""
    if item.applies_to is None:
        item.applies_to = CriterionScope.BOTH
    if item.id is None or item.applies_to == CriterionScope.BOTH:
        return
    if item.applies_to == CriterionScope.INDIVIDUALS:
        column, what, kind = account_criteria.c.criterion_id, "account(s)", "companies"
    else:
        column, what, kind = contact_criteria.c.criterion_id, "contact(s)", "individuals"
    used = db.session.scalar(
        select(func.count()).select_from(column.table).where(column == item.id)
    )
    if used:
        errors["applies_to"] = [
            f"{used} {what} already have this criterion: it must stay offered for {kind}."
        ]


def delete_lookup(actor: Actor, item: Lookup) -> None:
    """An entry in use cannot be deleted; it can be deactivated instead."""
    _require(actor, item)
    used = [f"{n} {what}" for n, what in usages(item) if n]
    if used:
        raise DomainError(
            f"{item.name!r} is used by {' and '.join(used)} and cannot be deleted. "
            "Untick 'Active' instead: it then stays on existing records but is no longer offered."
        )
    db.session.delete(item)
    db.session.flush()
