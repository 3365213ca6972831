"""The log of every message the app sends to a contact (the card's Emails tab and the activity
feed): one-off emails, meeting confirmations, birthday greetings, password links. Campaign
mails are kept per recipient (crm.models.CampaignRecipient) and listed beside these.

`send_logged` sends and records in one step: nothing is recorded for a mail the server
refused (the caller shows the error). `claim` and `finish` serve scheduled mail: the row is
committed first under a unique key, so a mail claimed once is never sent twice."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.extensions import db
from crm.models import Contact, EmailKind, EmailStatus, SentEmail
from crm.models.base import utcnow
from crm.services.platform import mail

SUBJECT_LENGTH = 200


def _subject(subject: str) -> str:
    text = " ".join((subject or "").split())
    return text if len(text) <= SUBJECT_LENGTH else text[: SUBJECT_LENGTH - 1] + "…"


def record(kind: EmailKind, contact: Contact | int, to: str, message: mail.Mail, *,
           message_id: str | None, actor=None, status: EmailStatus = EmailStatus.SENT,
           error: str | None = None, key: str | None = None) -> SentEmail:  # fmt: skip
    """Keep `message` (sent to `to`) in the contact's Emails tab; flushed."""
    contact_id = contact if isinstance(contact, int) else contact.id
    row = SentEmail(
        contact_id=contact_id, kind=kind, status=status, to_address=to.lower(),
        subject=_subject(message.subject), body_text=message.body, body_html=message.html,
        message_id=message_id, error=error, key=key,
        sent_at=utcnow() if status == EmailStatus.SENT else None,
        sent_by_id=getattr(actor, "id", None),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    return row


def send_logged(kind: EmailKind, recipients: Iterable[tuple[Contact | int, str]],
                message: mail.Mail, actor=None) -> str:  # fmt: skip
    """Send `message` and record it for each (contact, address) it went to; its Message-ID.
    MailNotSent (nothing recorded) when the server refuses it."""
    message_id = mail.send(message)
    for contact, address in recipients:
        record(kind, contact, address, message, message_id=message_id, actor=actor)
    return message_id


def claim(
    key: str, kind: EmailKind, contact: Contact, to: str, message: mail.Mail
) -> SentEmail | None:
    """Record `message` as being sent under `key`, committed: None when the key was claimed
    already (by this run or another), so the caller sends nothing."""
    if db.session.scalar(select(SentEmail.id).where(SentEmail.key == key)) is not None:
        return None
    try:
        with db.session.begin_nested():
            row = record(kind, contact, to, message, message_id=mail.new_message_id(),
                         status=EmailStatus.SENDING, key=key)  # fmt: skip
    except IntegrityError:
        return None
    db.session.commit()
    return row


def finish(row: SentEmail, message: mail.Mail) -> SentEmail:
    """Send a claimed message and record the outcome (committed): sent, or failed with the
    server's reason. A failed claim stays failed: scheduled mail is tried once."""
    message.message_id = row.message_id
    try:
        mail.send(message)
    except mail.MailNotSent as exc:
        row.status, row.error = EmailStatus.FAILED, exc.message
    else:
        row.status, row.sent_at = EmailStatus.SENT, utcnow()
    db.session.commit()
    return row
