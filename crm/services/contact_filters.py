"""WHERE clauses for the contact filters. Each is index-backed: `id IN (SELECT contact_id
FROM <link table> WHERE <indexed column> = ...)`, or an indexed column of contacts. The IN
form lets the link table's index drive the query (an EXISTS per contact would probe every
contact). The admin's filters, bulk actions on "all matching", dynamic segments and saved
views all use these."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select

from crm.models import (
    Account,
    Address,
    Contact,
    Phone,
    SelectedContact,
    Tag,
    contact_categories,
    contact_criteria,
    contact_tags,
)
from crm.services.search import fold


def has_tag(name: str) -> ColumnElement[bool]:
    key = " ".join(name.split()).lower()
    tag_id = select(Tag.id).where(Tag.key == key).scalar_subquery()
    return Contact.id.in_(select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == tag_id))


def in_category(category_id: int) -> ColumnElement[bool]:
    return Contact.id.in_(
        select(contact_categories.c.contact_id).where(
            contact_categories.c.category_id == category_id
        )
    )


def has_criterion(criterion_id: int) -> ColumnElement[bool]:
    return Contact.id.in_(
        select(contact_criteria.c.contact_id).where(contact_criteria.c.criterion_id == criterion_id)
    )


def owned_by(user_id: int | None) -> ColumnElement[bool]:
    return Contact.owner_id.is_(None) if user_id is None else Contact.owner_id == user_id


def responsible_is(user_id: int | None) -> ColumnElement[bool]:
    if user_id is None:
        return Contact.responsible_id.is_(None)
    return Contact.responsible_id == user_id


def in_city(city: str) -> ColumnElement[bool]:
    return Contact.id.in_(select(Address.contact_id).where(Address.city_key == fold(city.strip())))


def in_country(code: str) -> ColumnElement[bool]:
    return Contact.id.in_(select(Address.contact_id).where(Address.country == code.upper()))


def in_account_named(fragment: str) -> ColumnElement[bool]:
    """Stored in an account whose name contains `fragment` (accounts are few next to
    contacts: the account look-up scans accounts, the contacts come by index)."""
    like = "%" + fragment.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Contact.account_id.in_(
        select(Account.id).where(
            Account.is_hidden.is_(False), Account.name.ilike(like + "%", escape="\\")
        )
    )


def in_account(account_id: int) -> ColumnElement[bool]:
    return Contact.account_id == account_id


def birthday_in_month(month: int) -> ColumnElement[bool]:
    return Contact.birthday_month == month


def has_email(yes: bool) -> ColumnElement[bool]:
    return Contact.email.is_not(None) if yes else Contact.email.is_(None)


def has_phone(yes: bool) -> ColumnElement[bool]:
    clause = exists().where(Phone.contact_id == Contact.id)
    return clause if yes else ~clause


def in_selection_of(user_id: int) -> ColumnElement[bool]:
    return Contact.id.in_(
        select(SelectedContact.contact_id).where(SelectedContact.user_id == user_id)
    )
