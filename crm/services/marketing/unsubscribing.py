"""A campaign recipient's unsubscribe: the signed link in the body (a page that confirms with
one click) and the one-click URL of the List-Unsubscribe header (RFC 8058: a POST with no
session, its signature the proof). Either applies to the address: every contact holding it
loses its email-marketing consent, with the campaign's name in each one's history."""

from __future__ import annotations

from types import SimpleNamespace

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, or_, select

from crm.errors import NotFound
from crm.extensions import db
from crm.models import CampaignRecipient, Contact
from crm.models.base import utcnow
from crm.services.platform import audit

_SALT = "crm-campaign-unsubscribe"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def token_of(recipient_id: int) -> str:
    """The recipient's signed token (it never expires: mail is read long after)."""
    return _serializer().dumps(recipient_id)


def recipient_for(token: str) -> CampaignRecipient:
    """The recipient of a link; NotFound for an altered or unknown one."""
    try:
        recipient_id = _serializer().loads(token)
    except BadSignature:
        raise NotFound(
            "This unsubscribe link is not valid: check that it was copied whole."
        ) from None
    recipient = (
        db.session.get(CampaignRecipient, recipient_id) if isinstance(recipient_id, int) else None
    )
    if recipient is None or not recipient.email:
        raise NotFound("This address is not on our lists any more.")
    return recipient


def subscribed(recipient: CampaignRecipient) -> bool:
    """Whether any live contact with the recipient's address still has consent."""
    return (
        db.session.scalar(
            select(Contact.id)
            .where(_holds(recipient.email or ""), Contact.email_marketing.is_(True))
            .limit(1)
        )
        is not None
    )


def _holds(address: str):
    address = address.lower()
    return (Contact.deleted_at.is_(None)) & or_(
        func.lower(Contact.email) == address, func.lower(Contact.email_secondary) == address
    )


def unsubscribe(token: str, how: str) -> tuple[CampaignRecipient, int]:
    """Turn email-marketing consent off for every contact holding the recipient's address;
    (the recipient, how many contacts changed). `how`: "link" or "one-click"."""
    recipient = recipient_for(token)
    campaign = recipient.campaign
    if recipient.unsubscribed_at is None:
        recipient.unsubscribed_at = utcnow()
    source = f"campaign {campaign.name}"
    changed = 0
    contacts = db.session.scalars(
        select(Contact).where(_holds(recipient.email or ""), Contact.email_marketing.is_(True))
    ).all()
    with audit.acting_as(SimpleNamespace(id=None, email=f"unsubscribe ({source})")):
        for contact in contacts:
            contact.email_marketing = False
            changed += 1
        db.session.flush()
        for contact in contacts:
            audit.record_event(
                db.session, (None, f"unsubscribe ({source})"), "unsubscribe", "contact",
                f"{contact} unsubscribed from marketing email ({how}, {source})",
                {"email_marketing": [True, False]}, entity_id=contact.id, contact_id=contact.id,
            )  # fmt: skip
    db.session.flush()
    return recipient, changed
