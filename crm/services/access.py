"""Which contacts and accounts a user may see: the one gate every list, search, count,
action, autocomplete and details page goes through."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, select, true

from crm.auth.permissions import Actor, can
from crm.extensions import db
from crm.models import Account, Contact


def contact_visibility(user: Actor | None, *, trashed: bool = False) -> ColumnElement[bool]:
    """A WHERE clause selecting the contacts `user` may see: live ones, or with
    `trashed=True` the ones in the trash."""
    if not can(user, "contact.view"):
        return false()
    return Contact.deleted_at.is_not(None) if trashed else Contact.deleted_at.is_(None)


def account_visibility(user: Actor | None) -> ColumnElement[bool]:
    """A WHERE clause selecting the accounts `user` may see."""
    if not can(user, "account.view"):
        return false()
    return true()


def visible_contacts(user: Actor | None) -> Select[tuple[Contact]]:
    return select(Contact).where(contact_visibility(user))


def visible_accounts(user: Actor | None) -> Select[tuple[Account]]:
    return select(Account).where(account_visibility(user))


def get_visible_contact(user: Actor | None, contact_id: object) -> Contact | None:
    """The contact with this id if `user` may see it, else None (callers answer 404)."""
    try:
        pk = int(str(contact_id))
    except (TypeError, ValueError):
        return None
    return db.session.scalar(visible_contacts(user).where(Contact.id == pk))


def get_visible_account(user: Actor | None, account_id: object) -> Account | None:
    try:
        pk = int(str(account_id))
    except (TypeError, ValueError):
        return None
    return db.session.scalar(visible_accounts(user).where(Account.id == pk))
