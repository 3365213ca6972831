"""WHERE clauses for the contact filters, each backed by an index: an indexed column of
contacts, or a look-up in an indexed link table (tags, categories, criteria, addresses).

A link-table filter is `contacts.id IN (SELECT contact_id ... WHERE key = ?)`; whether its
set may drive the query is decided by services.query_plan (measured at 1M contacts: Berlin,
67,000 matches, walking the name index instead: from 360 to 43 ms). The admin's filters,
bulk actions on "all matching", dynamic segments and saved views all use these."""

from __future__ import annotations

from sqlalchemy import Column, ColumnElement, exists, select

from crm.extensions import db
from crm.models import (
    Account,
    Address,
    Contact,
    SelectedContact,
    Tag,
    contact_categories,
    contact_criteria,
    contact_tags,
)
from crm.services.contacts.search import fold
from crm.services.lists.tags import tag_key
from crm.services.platform import query_plan


def linked(contact_id: Column, key: Column, value: object) -> ColumnElement[bool]:
    """Contacts with a row in a link table whose `key` column equals `value`."""
    rows = select(contact_id).where(key == value)
    return query_plan.member_of((contact_id.table.name, key.name, value), rows)


def _tag_id(name: str) -> int:
    """The id of the tag named so (case and spaces ignored), 0 when there is none."""
    return db.session.scalar(select(Tag.id).where(Tag.key == tag_key(name))) or 0


def has_tag(name: str) -> ColumnElement[bool]:
    return linked(contact_tags.c.contact_id, contact_tags.c.tag_id, _tag_id(name))


def lacks_tag(name: str) -> ColumnElement[bool]:
    """Contacts without the tag: a probe of each contact's (contact, tag) key, which both
    databases serve from the link table's primary key (NOT IN would collect every tagged
    contact first; PostgreSQL may even rescan them for each contact)."""
    return ~exists().where(
        contact_tags.c.contact_id == Contact.id, contact_tags.c.tag_id == _tag_id(name)
    )


def in_category(category_id: int) -> ColumnElement[bool]:
    return linked(contact_categories.c.contact_id, contact_categories.c.category_id, category_id)


def has_criterion(criterion_id: int) -> ColumnElement[bool]:
    return linked(contact_criteria.c.contact_id, contact_criteria.c.criterion_id, criterion_id)


def owned_by(user_id: int | None) -> ColumnElement[bool]:
    return Contact.owner_id.is_(None) if user_id is None else Contact.owner_id == user_id


def responsible_is(user_id: int | None) -> ColumnElement[bool]:
    if user_id is None:
        return Contact.responsible_id.is_(None)
    return Contact.responsible_id == user_id


def in_city(city: str) -> ColumnElement[bool]:
    return linked(Address.contact_id, Address.city_key, fold(city.strip()))


def in_country(code: str) -> ColumnElement[bool]:
    return linked(Address.contact_id, Address.country, code.upper())


def in_account_named(fragment: str) -> ColumnElement[bool]:
    """Stored in an account whose name starts with `fragment` (case-insensitive)."""
    like = fragment.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Contact.account_id.in_(
        select(Account.id).where(
            Account.is_hidden.is_(False), Account.name.ilike(like + "%", escape="\\")
        )
    )


def in_access_class(class_id: int | None) -> ColumnElement[bool]:
    if class_id is None:
        return Contact.access_class_id.is_(None)
    return Contact.access_class_id == class_id


def in_account(account_id: int) -> ColumnElement[bool]:
    return Contact.account_id == account_id


def birthday_in_month(month: int) -> ColumnElement[bool]:
    return Contact.birthday_month == month


def has_email(yes: bool) -> ColumnElement[bool]:
    return Contact.email.is_not(None) if yes else Contact.email.is_(None)


def has_phone(yes: bool) -> ColumnElement[bool]:
    return Contact.has_phone.is_(yes)


def in_selection_of(user_id: int) -> ColumnElement[bool]:
    return Contact.id.in_(
        select(SelectedContact.contact_id).where(SelectedContact.user_id == user_id)
    )
