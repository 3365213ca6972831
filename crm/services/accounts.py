"""Rules for saving and deleting accounts."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Account, Contact, contact_accounts
from crm.services import validation as v
from crm.services.access import contact_visibility


def save_account(
    actor: Actor, account: Account, *, is_new: bool, previous_owner_id: int | None = None
) -> None:
    if not can(actor, "account.create" if is_new else "account.edit"):
        raise PermissionDenied("You may not change accounts.")
    errors: dict[str, list[str]] = {}
    name = v.clean_text(account.name)
    if not name:
        errors["name"] = ["The account name is required."]
    account.name = name or ""
    try:
        account.website = v.clean_url(account.website)
    except v.FieldError as exc:
        errors["website"] = [str(exc)]
    account.notes = v.clean_text(account.notes)
    new_owner = account.owner.id if account.owner is not None else None
    before = getattr(actor, "id", None) if is_new else previous_owner_id
    if is_new and account.owner is None:
        account.owner_id = getattr(actor, "id", None)
    elif new_owner != before and not can(actor, "contact.transfer"):
        errors["owner"] = ["You do not have permission to transfer accounts to another owner."]
    if errors:
        raise ValidationFailed(errors)
    if is_new:
        db.session.add(account)


def delete_account(actor: Actor, account: Account) -> None:
    """Refused while contacts are stored in the account (they would lose their account)."""
    if not can(actor, "account.delete"):
        raise PermissionDenied("You may not delete accounts.")
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
        )
    )
