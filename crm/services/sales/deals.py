"""Deals: saving, winning, losing and deleting them, each followed by the status rules for
the contacts they touch (crm.services.contacts.lifecycle)."""

from __future__ import annotations

from sqlalchemy import inspect, select

from crm.auth.permissions import Actor, can
from crm.errors import PermissionDenied, StaleEditError
from crm.extensions import db
from crm.models import Account, Contact, Deal, DealStage, deal_contacts
from crm.models.base import utcnow
from crm.services.contacts import lifecycle
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import (
    account_visibility,
    contact_visibility,
    deal_visibility,
    one_of,
)


def _touched_contacts(deal: Deal) -> set[int]:
    """The deal's contacts now and before this edit (a contact taken off it is touched)."""
    history = inspect(deal).attrs.contacts.history
    return {c.id for c in (*history.unchanged, *history.added, *history.deleted) if c.id}


def save_deal(
    actor: Actor, deal: Deal, *, is_new: bool, expected_version: int | None = None
) -> None:
    """Check a new or edited deal (in the session), keep its close date in step with its
    stage, and apply the status rules to its contacts; ValidationFailed, PermissionDenied."""
    # The checks read the database: the edit must not be flushed before they see what changed.
    with db.session.no_autoflush:
        touched = _check_deal(actor, deal, is_new, expected_version)
    db.session.add(deal)
    db.session.flush()
    lifecycle.apply_status_rules(touched | {c.id for c in deal.contacts})


def _check_deal(actor: Actor, deal: Deal, is_new: bool, expected_version: int | None) -> set[int]:
    if not can(actor, "deal.edit"):
        raise PermissionDenied("You may not change deals.")
    if not is_new and expected_version is not None and expected_version != deal.version:
        raise StaleEditError("Someone else saved this deal after you opened it: reload it.")
    audit.note_actor(db.session, actor)
    errors = v.FieldErrors()
    check = errors.check
    deal.title = check("title", v.clean_limited, deal.title, 200) or ""
    if not deal.title:
        errors.add("title", "Give the deal a title.")
    deal.amount = check("amount", v.clean_amount, deal.amount)
    deal.currency = check("currency", v.clean_currency, deal.currency or "EUR") or "EUR"
    deal.notes = v.clean_text(deal.notes)
    deal.stage = deal.stage or DealStage.OPEN
    if not deal.contacts:
        errors.add("contacts", "Choose the contact(s) of this deal.")
    added = inspect(deal).attrs.contacts.history.added if not is_new else deal.contacts
    ids = [c.id for c in added if c.id is not None]
    if ids:
        visible = set(
            db.session.scalars(
                select(Contact.id).where(Contact.id.in_(ids), contact_visibility(actor))
            )
        )
        if set(ids) - visible:
            errors.add("contacts", "Choose contacts you can see.")
    account_id = deal.account.id if deal.account is not None else deal.account_id
    if account_id is not None and not db.session.scalar(
        select(Account.id).where(Account.id == account_id, account_visibility(actor))
    ):
        errors.add("account", "Choose an account you can see.")
    if is_new and deal.owner_id is None and deal.owner is None:
        deal.owner_id = getattr(actor, "id", None)
    stage_history = inspect(deal).attrs.stage.history
    if is_new or stage_history.has_changes():
        deal.closed_at = None if deal.stage == DealStage.OPEN else utcnow()
    errors.raise_any()
    return _touched_contacts(deal)


def close_deal(actor: Actor, deal: Deal, stage: DealStage) -> None:
    """Mark the deal won or lost (or open it again)."""
    deal.stage = stage
    save_deal(actor, deal, is_new=False)


def delete_deal(actor: Actor, deal: Deal) -> None:
    if not can(actor, "deal.delete"):
        raise PermissionDenied("You may not delete deals.")
    audit.note_actor(db.session, actor)
    touched = {c.id for c in deal.contacts}
    db.session.delete(deal)
    db.session.flush()
    lifecycle.apply_status_rules(touched)


def get_visible_deal(actor: Actor, deal_id: object) -> Deal | None:
    return one_of(select(Deal).where(deal_visibility(actor)), Deal, deal_id)


def deals_of_contact(actor: Actor, contact_id: int) -> list[Deal]:
    """The contact's deals (its Deals tab), open ones first, newest first."""
    link = deal_contacts.c
    return list(
        db.session.scalars(
            select(Deal)
            .join(deal_contacts, link.deal_id == Deal.id)
            .where(link.contact_id == contact_id, deal_visibility(actor))
            .order_by((Deal.stage != DealStage.OPEN), Deal.created_at.desc(), Deal.id.desc())
        )
    )
