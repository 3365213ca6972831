"""Rules for saving and deleting accounts."""

from __future__ import annotations

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Account, Address, Contact, contact_accounts
from crm.services.contacts.search import search_text_for
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import class_change_error, contact_visibility


def save_account(
    actor: Actor, account: Account, *, is_new: bool, previous_owner_id: int | None = None
) -> None:
    """Clean and check a new or edited account; raises ValidationFailed or PermissionDenied.

    `previous_owner_id` is the owner before the edit; when not given, the stored one counts.
    """
    # No autoflush: the checks read the database and must see it as it was before the edit.
    with db.session.no_autoflush:
        _save_account(actor, account, is_new, previous_owner_id)


def _save_account(
    actor: Actor, account: Account, is_new: bool, previous_owner_id: int | None
) -> None:
    if not can(actor, "account.create" if is_new else "account.edit"):
        raise PermissionDenied("You may not change accounts.")
    audit.note_actor(db.session, actor)
    errors: dict[str, list[str]] = {}
    name = v.clean_text(account.name)
    limit = Account.__table__.c["name"].type.length
    if not name:
        errors["name"] = ["The account name is required."]
    elif len(name) > limit:
        errors["name"] = [f"Too long (at most {limit} characters)."]
    account.name = name or ""
    try:
        account.website = v.clean_url(account.website)
    except v.FieldError as exc:
        errors["website"] = [str(exc)]
    account.notes = v.clean_text(account.notes)
    new_owner = _chosen_owner_id(account)
    if is_new:
        before = getattr(actor, "id", None)
    elif previous_owner_id is not None:
        before = previous_owner_id
    else:  # not given by the caller: the stored owner counts
        before = db.session.scalar(select(Account.owner_id).where(Account.id == account.id))
    if is_new and new_owner is None:
        account.owner_id = getattr(actor, "id", None)
    elif new_owner != before and not can(actor, "contact.transfer"):
        errors["owner"] = ["You do not have permission to transfer accounts to another owner."]
    _check_access_class(actor, account, is_new, errors)
    if errors:
        raise ValidationFailed(errors)
    if is_new:
        db.session.add(account)
    elif inspect(account).attrs["name"].history.has_changes():
        # Contacts are found by their company's name: keep their search text in step.
        for contact in db.session.scalars(select(Contact).where(Contact.account_id == account.id)):
            contact.search_text = search_text_for(contact)


def _check_access_class(
    actor: Actor, account: Account, is_new: bool, errors: dict[str, list[str]]
) -> None:
    if inspect(account).attrs["access_class"].history.has_changes():
        new_id = account.access_class.id if account.access_class is not None else None
    else:
        new_id = account.access_class_id
    stored = None
    if not is_new:
        stored = db.session.scalar(select(Account.access_class_id).where(Account.id == account.id))
    refused = class_change_error(actor, new_id, stored)
    if refused:
        errors["access_class"] = [refused]


def _chosen_owner_id(account: Account) -> int | None:
    """The owner the account is being given: a newly set `owner`, else `owner_id`."""
    added = inspect(account).attrs["owner"].history.added
    if added:
        return added[0].id if added[0] is not None else None
    return account.owner_id


def delete_account(actor: Actor, account: Account) -> None:
    """Refused while contacts are stored in the account (they would lose their account)."""
    if not can(actor, "account.delete"):
        raise PermissionDenied("You may not delete accounts.")
    audit.note_actor(db.session, actor)
    stored = db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.account_id == account.id)
    )
    if stored:
        raise DomainError(
            f"{account.name} still holds {stored} contact(s) as their account: move or delete "
            "them first."
        )
    db.session.execute(contact_accounts.delete().where(contact_accounts.c.account_id == account.id))
    db.session.delete(account)
    db.session.flush()


def _in_account(account_ids: list[int]):
    """Contacts stored in these accounts or linked to them, as (account_id, contact_id)."""
    stored = select(Contact.account_id.label("account_id"), Contact.id.label("contact_id")).where(
        Contact.account_id.in_(account_ids)
    )
    linked = select(
        contact_accounts.c.account_id.label("account_id"),
        contact_accounts.c.contact_id.label("contact_id"),
    ).where(contact_accounts.c.account_id.in_(account_ids))
    return stored.union(linked).subquery()


def contact_counts(actor: Actor, account_ids: list[int]) -> dict[int, int]:
    """How many visible contacts each account holds (stored in it or linked to it)."""
    if not account_ids:
        return {}
    pairs = _in_account(account_ids)
    rows = db.session.execute(
        select(pairs.c.account_id, func.count())
        .join(Contact, Contact.id == pairs.c.contact_id)
        .where(contact_visibility(actor))
        .group_by(pairs.c.account_id)
    ).all()
    return dict(rows)


def contacts_of_account(actor: Actor, account_id: int, limit: int = 500) -> list[Contact]:
    """The visible contacts stored in or linked to an account, by name."""
    pairs = _in_account([account_id])
    return list(
        db.session.scalars(
            select(Contact)
            .join(pairs, pairs.c.contact_id == Contact.id)
            .where(contact_visibility(actor))
            .order_by(Contact.last_name, Contact.first_name, Contact.id)
            .limit(limit)
            # The account's page maps their addresses: loaded with them, not one by one.
            .options(selectinload(Contact.addresses).selectinload(Address.address_type))
        )
    )
