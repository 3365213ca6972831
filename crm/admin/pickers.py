"""What the admin's forms and filters offer to choose people and records from: contact and
company autocompletes that only offer what the user sees, and the employees of user pickers
and owner filters. Shared by every view, so it lives below them and imports none of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import has_request_context
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_login import current_user
from sqlalchemy import select

from crm.extensions import db
from crm.models import Account, Contact, User
from crm.services.contacts import search
from crm.services.platform import access, query_plan
from crm.services.platform.validation import clean_text


class GatedAjaxLoader(QueryAjaxModelLoader):
    """Autocomplete that only offers (and only accepts) rows the user may see.

    `query_factory()` returns the gated query; the page size is capped whatever the
    client asks for.
    """

    max_limit = 20

    def __init__(self, name: str, model: type, query_factory, **options: Any):
        super().__init__(name, db, model, **options)
        self.query_factory = query_factory

    def get_query(self):
        return self.query_factory()

    def get_one(self, pk: Any) -> Any:
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        with db.session.no_autoflush:
            return self.get_query().filter(self.model.id == pk).one_or_none()

    def get_list(self, term: str, offset: int = 0, limit: int = 10) -> Any:
        limit = max(1, min(int(limit or 10), self.max_limit))
        offset = max(0, min(int(offset or 0), 10_000))
        return super().get_list((clean_text(term) or "")[:100], offset, limit)


class ContactAjaxLoader(GatedAjaxLoader):
    """Contact autocomplete through the search index (names, emails, phones), not a scan."""

    def get_list(self, term: str, offset: int = 0, limit: int = 10) -> Any:
        limit = max(1, min(int(limit or 10), self.max_limit))
        offset = max(0, min(int(offset or 0), 10_000))
        query = self.get_query()
        with query_plan.planning() as plan:  # not walking an index: the search drives
            clause = search.contact_search_clause(term[:100])
            if plan.decide():
                clause = search.contact_search_clause(term[:100])
        if clause is not None:
            query = query.filter(clause)
        order = (Contact.last_name, Contact.first_name, Contact.id)
        return query.order_by(*order).offset(offset).limit(limit).all()


def _visible_contacts():
    return db.session.query(Contact).filter(access.contact_visibility(current_user))


def _company_accounts():
    """Accounts offered in the account pickers: visible ones, never a B2C hidden account."""
    return db.session.query(Account).filter(
        access.account_visibility(current_user), Account.is_hidden.is_(False)
    )


def contact_picker(name: str) -> ContactAjaxLoader:
    """The autocomplete of a form field `name` choosing contacts the user sees."""
    return ContactAjaxLoader(
        name,
        Contact,
        _visible_contacts,
        fields=("last_name", "first_name", "email"),
        order_by="last_name",
        placeholder="Type a name",
    )


def company_picker(name: str) -> GatedAjaxLoader:
    """The autocomplete of a form field `name` choosing company accounts the user sees."""
    return GatedAjaxLoader(
        name, Account, _company_accounts, fields=("name",), order_by="name",
        placeholder="Type an account name",
    )  # fmt: skip


def active_users() -> list[User]:
    """The users offered as a record's owner, responsible user or operator: every active
    user, by name (an owner may be any user, a contact's generated login included)."""
    query = select(User).where(User.active.is_(True))
    return list(db.session.scalars(query.order_by(User.full_name, User.email)))


def employees() -> list[User]:
    """The users given tasks and invited to appointments, and the owner filters' choices:
    active users with a role, not contacts' generated logins."""
    query = select(User).where(User.active.is_(True), User.roles.any())
    return list(db.session.scalars(query.order_by(User.full_name, User.email)))


def user_options(with_nobody: bool = True) -> Callable[[], list[tuple[str, str]]]:
    """Options of an owner filter: me, (nobody), then the active users (read per request)."""

    def options() -> list[tuple[str, str]]:
        if not has_request_context():  # Flask-Admin asks once at start-up
            return []
        found = [("me", "Me")] + ([("none", "(nobody)")] if with_nobody else [])
        return found + [(str(u.id), str(u)) for u in employees()]

    return options


def user_choice(value: str) -> int | None:
    """An owner filter's value: the signed-in user's id, None for nobody, or a user id."""
    if value == "me":
        return current_user.id
    if value == "none":
        return None
    pk = access.record_id(value)
    if pk is None:
        raise ValueError(value)
    return pk
