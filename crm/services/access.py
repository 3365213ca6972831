"""Which contacts and accounts a user may see: the one gate every list, search, count,
action, autocomplete and details page goes through."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, literal_column, select, true

from crm.auth.permissions import Actor, can
from crm.extensions import db
from crm.models import Account, Contact


def unindexed(column: ColumnElement) -> ColumnElement:
    """The column, phrased so that SQLite's planner will not pick an index for a condition
    on it (SQLite's unary "+"), leaving the index of the sort or of a selective filter to
    drive the query. Other databases get the plain column (their planners weigh costs)."""
    if db.engine.dialect.name != "sqlite":
        return column
    return literal_column(f"+{column.table.name}.{column.name}")


def contact_visibility(
    user: Actor | None, *, trashed: bool = False, use_index: bool = True
) -> ColumnElement[bool]:
    """A WHERE clause selecting the contacts `user` may see: live ones, or with
    `trashed=True` the ones in the trash. `use_index=False` (lists sorted by something other
    than the name, counts) keeps the planner from driving the query by this condition."""
    if not can(user, "contact.view"):
        return false()
    deleted_at = Contact.deleted_at if use_index else unindexed(Contact.__table__.c.deleted_at)
    return deleted_at.is_not(None) if trashed else deleted_at.is_(None)


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
