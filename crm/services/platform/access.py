"""Which contacts and accounts a user may see: the one gate every list, search, count,
action, autocomplete and details page goes through.

Access classes (Webasyst's contact classes): a contact or account in a class is seen by the
users granted that class (directly or through one of their roles), by its owner and, for a
contact, its responsible user; users with "contact.all_classes" see every class. Contacts and
accounts without a class are seen by everyone who may see contacts, unless the setting
CRM_UNCLASSED_CONTACTS is "owners": then only by those who see every class and by their
owner and responsible user.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import ColumnElement, Select, false, literal, literal_column, or_, select, union

from crm.auth.permissions import Actor, can
from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    Contact,
    Deal,
    Order,
    access_class_roles,
    access_class_users,
    deal_contacts,
    user_roles,
)

UNCLASSED_SETTINGS = ("everyone", "owners")


def unindexed(column: ColumnElement) -> ColumnElement:
    """The column, phrased so that SQLite's planner will not pick an index for a condition
    on it (SQLite's unary "+"), leaving the index of the sort or of a selective filter to
    drive the query. Other databases get the plain column (their planners weigh costs)."""
    if db.engine.dialect.name != "sqlite":
        return column
    return literal_column(f"+{column.table.name}.{column.name}")


def unclassed_visible_to_all() -> bool:
    setting = current_app.config.get("CRM_UNCLASSED_CONTACTS") if has_app_context() else None
    return (setting or "everyone") != "owners"


def granted_classes(user: Actor | None) -> Select | None:
    """The ids of the access classes `user` was granted, directly or through a role; None
    when the user sees every class."""
    if can(user, "contact.all_classes"):
        return None
    user_id = getattr(user, "id", None)
    direct = select(access_class_users.c.access_class_id).where(
        access_class_users.c.user_id == user_id
    )
    by_role = select(access_class_roles.c.access_class_id).where(
        access_class_roles.c.role_id.in_(
            select(user_roles.c.role_id).where(user_roles.c.user_id == user_id)
        )
    )
    return select(union(direct, by_role).subquery().c[0])


def may_see_class(user: Actor | None, class_id: int | None) -> bool:
    """Whether `user` sees contacts of this class (None: unclassed) by the class alone."""
    granted = granted_classes(user)
    if granted is None:
        return True
    if class_id is None:
        return unclassed_visible_to_all()
    return class_id in set(db.session.scalars(granted))


def visible_classes(user: Actor | None) -> list[AccessClass]:
    """The access classes `user` sees, in their list order (for pickers and filters)."""
    query = select(AccessClass).order_by(AccessClass.position, AccessClass.name)
    granted = granted_classes(user)
    if granted is not None:
        query = query.where(AccessClass.id.in_(granted))
    return list(db.session.scalars(query))


def class_sizes(class_ids: list[int]) -> dict[int, tuple[int, bool]]:
    """(live contacts in the class counted up to the cap, whether there are more) per class:
    a bounded count each, so a page of classes costs little at a million contacts."""
    from crm.services.platform.counting import capped_count

    return {
        class_id: capped_count(
            select(Contact.id).where(
                Contact.access_class_id == class_id, Contact.deleted_at.is_(None)
            )
        )
        for class_id in class_ids
    }


def class_change_error(actor: Actor | None, new_id: int | None, stored_id: int | None) -> str:
    """Why `actor` may not move a contact or account from class `stored_id` to `new_id`
    ("" when allowed, or when nothing changes)."""
    return "" if new_id == stored_id else class_refusal(actor, new_id)


def class_refusal(actor: Actor | None, class_id: int | None) -> str:
    """Why `actor` may not put contacts or accounts in class `class_id` (None: no class);
    "" when allowed."""
    if not can(actor, "contact.set_class"):
        return "You do not have permission to change the access class."
    if class_id is not None and not may_see_class(actor, class_id):
        return "You may not use this access class."
    chosen = db.session.get(AccessClass, class_id) if class_id is not None else None
    if chosen is not None and not chosen.active:
        return f"The access class {chosen.name!r} is no longer offered."
    return ""


def _class_rule(user: Actor | None, table, people: tuple[str, ...]) -> ColumnElement[bool] | None:
    """The access-class part of the gate for `table` (contacts or accounts), None when the
    user sees every class; phrased so that it never drives a query (see `unindexed`)."""
    granted = granted_classes(user)
    if granted is None:
        return None
    everyone = unclassed_visible_to_all()
    if everyone and db.session.scalar(select(AccessClass.id).limit(1)) is None:
        return None  # no class at all: everything is unclassed, and seen by everyone
    class_id = unindexed(table.c.access_class_id)
    allowed = [class_id.in_(granted)]
    if everyone:
        allowed.append(class_id.is_(None))
    user_id = getattr(user, "id", None)
    if user_id is not None:
        allowed += [unindexed(table.c[column]) == user_id for column in people]
    return or_(*allowed)


def contact_visibility(
    user: Actor | None, *, trashed: bool = False, use_index: bool = True
) -> ColumnElement[bool]:
    """A WHERE clause selecting the contacts `user` may see: live ones, or with
    `trashed=True` the ones in the trash, of the access classes the user may see.
    `use_index=False` (lists sorted by something other than the name, counts) keeps the
    planner from driving the query by this condition."""
    if not can(user, "contact.view"):
        return false()
    deleted_at = Contact.deleted_at if use_index else unindexed(Contact.__table__.c.deleted_at)
    # Merged contacts (tombstones) carry deleted_at too, but are not in the trash.
    # Phrased as the partial index ix_contacts_trash is, so that it serves the trash.
    live = (
        deleted_at.is_not(None) & Contact.merged_into_id.is_(None)
        if trashed
        else deleted_at.is_(None)
    )
    classes = _class_rule(user, Contact.__table__, ("owner_id", "responsible_id"))
    return live if classes is None else live & classes


def sees_every_live_contact(user: Actor | None) -> bool:
    """Whether `user` sees every contact not in the trash (no access class hides any): then
    counts can be read from indexes alone, less those of the trash (see tags, responsibles)."""
    return can(user, "contact.view") and (
        _class_rule(user, Contact.__table__, ("owner_id", "responsible_id")) is None
    )


def account_visibility(user: Actor | None) -> ColumnElement[bool]:
    """A WHERE clause selecting the accounts `user` may see."""
    if not can(user, "account.view"):
        return false()
    live = Account.merged_into_id.is_(None)  # a merged account is kept, but not shown
    classes = _class_rule(user, Account.__table__, ("owner_id",))
    return live if classes is None else live & classes


def visible_contacts(user: Actor | None) -> Select[tuple[Contact]]:
    return select(Contact).where(contact_visibility(user))


def visible_accounts(user: Actor | None) -> Select[tuple[Account]]:
    return select(Account).where(account_visibility(user))


def get_visible_contact(user: Actor | None, contact_id: object) -> Contact | None:
    """The contact with this id if `user` may see it, else None (callers answer 404)."""
    return one_of(visible_contacts(user), Contact, contact_id)


def one_of(query: Select, model: type, value: object) -> Any:
    """The row of `query` (a select of `model`, gated to what the actor may see) whose id is
    `value`, from a URL or a form; None when there is none or `value` is not an id."""
    pk = record_id(value)
    if pk is None:
        return None
    return db.session.scalar(query.where(model.id == pk))


def record_id(value: object) -> int | None:
    """A row id from a URL or form, or None when it is not one (not a number, or beyond what
    the database can hold: 30 digits would raise an overflow rather than find nothing)."""
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk < 2**63 else None


def get_visible_account(user: Actor | None, account_id: object) -> Account | None:
    return one_of(visible_accounts(user), Account, account_id)


def deal_visibility(user: Actor | None) -> ColumnElement[bool]:
    """A WHERE clause selecting the deals `user` may see: theirs, and those of a contact
    they may see."""
    if not can(user, "deal.view"):
        return false()
    link = deal_contacts.c
    # A scalar subquery, not EXISTS: under OR, PostgreSQL turns an EXISTS into a hashed
    # subplan that joins every deal's contacts first (0.5 s at 1M contacts) even for a
    # page of 20; a scalar subquery is asked per deal, so a page stops after 20.
    of_visible_contact = (
        select(literal(1))
        .select_from(deal_contacts)
        .join(Contact, Contact.id == link.contact_id)
        .where(link.deal_id == Deal.id, contact_visibility(user, use_index=False))
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    user_id = getattr(user, "id", None)
    return or_(Deal.owner_id == user_id, of_visible_contact) if user_id else of_visible_contact


def order_visibility(user: Actor | None, model: Any = None) -> ColumnElement[bool]:
    """A WHERE clause selecting the orders (or payments: `model`) `user` may see: those of
    a contact they may see."""
    model = model or Order
    if not can(user, "order.view"):
        return false()
    visible = select(Contact.id).where(
        Contact.id == model.contact_id, contact_visibility(user, use_index=False)
    )
    return visible.exists()


def visible_orders(user: Actor | None) -> Select[tuple[Order]]:
    return select(Order).where(order_visibility(user))
