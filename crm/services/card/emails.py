"""A contact's Emails and Campaigns tabs (24SevenOffice's E-mail and Campaign tabs, SAM's
shipment list): every message the app sent to the contact, newest first, and the campaigns
the contact was in.

Two stores feed them: the email log (crm.models.SentEmail: one-off emails, meeting
confirmations, greetings, password links) and the campaigns' recipients
(crm.models.CampaignRecipient). A campaign's mail is not stored per recipient: it is made
again from the campaign's template with the contact's details when it is read.

Everything here is for a contact the actor may see, with the right contact.view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import String, func, literal_column, select, union_all
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied
from crm.extensions import db
from crm.models import (
    Campaign,
    CampaignRecipient,
    Contact,
    EmailKind,
    EmailStatus,
    RecipientStatus,
    SentEmail,
)
from crm.services.marketing.templating import Rendered, compiled, fields_of
from crm.services.platform.access import contact_visibility, get_visible_contact, record_id
from crm.services.platform.local_time import as_utc, local_text

PAGE_SIZE = 50
MAX_PAGE = 10_000
# Who sent a message nobody pressed a button for (a greeting, a reset asked for at sign-in).
THE_APP = "the app"
# A campaign mail read again: the recipient's own unsubscribe link is not made for staff.
UNSUBSCRIBE_TEXT = "(the recipient's own unsubscribe link)"
UNSUBSCRIBE_HREF = "about:blank"
RERENDERED = (
    "Made again from the campaign's message with the contact's details as they are now: "
    "what was sent may differ where those details changed since. The unsubscribe link was "
    "the recipient's own and is not shown."
)
# The mail a meeting or one-off email shows in the feed in place of its interaction: the
# same address, user and moment (both are recorded in the same request).
SAME_MOMENT_SECONDS = 120

_EMAIL, _CAMPAIGN = "email", "campaign"


# ---- the rows ---------------------------------------------------------------------------
@dataclass
class EmailRow:
    """One message of the Emails tab, in people's words."""

    source: str  # "email" (the email log) or "campaign" (a campaign's recipient)
    id: int  # the SentEmail's or the CampaignRecipient's
    at: datetime | None
    kind: str  # "Email", "Meeting confirmation", "Campaign: Spring sale"
    subject: str
    to: str
    status: str  # "Sent", "Failed: <reason>", "Bounced", "Unsubscribed", "Queued"
    tone: str  # the badge's colour: success, danger, warning, secondary
    who: str  # who sent it

    @property
    def key(self) -> str:
        """The row's id on the page: "email-5", "campaign-7"."""
        return f"{self.source}-{self.id}"

    @property
    def when(self) -> str:
        """In the office's time zone, to the minute."""
        return local_text(self.at)


@dataclass
class EmailsPage:
    rows: list[EmailRow]
    page: int
    has_more: bool


@dataclass
class CampaignRow:
    """A campaign the contact was in, with what happened to their mail."""

    recipient_id: int
    campaign_id: int
    name: str
    status: str  # "Sent on 2026-11-23 14:30 · Unsubscribed on 2026-11-24 09:02"
    tone: str
    at: datetime | None
    emailed: bool  # a mail was (or is to be) sent: the Emails tab has it

    @property
    def when(self) -> str:
        return local_text(self.at)


@dataclass
class CampaignsPage:
    rows: list[CampaignRow]
    page: int
    has_more: bool


@dataclass
class EmailMessage:
    """One message to read in full: its row, the text, and the HTML when there is one (the
    page shows it in a sandboxed frame, never as part of itself)."""

    row: EmailRow
    text: str
    html: str | None
    note: str | None = None  # small print: a campaign mail made again


def _visible_contact(actor: Actor, contact_id: Any) -> Contact:
    if not can(actor, "contact.view"):
        raise PermissionDenied("You may not see contacts.")
    contact = get_visible_contact(actor, contact_id)
    if contact is None:
        raise NotFound("No such contact, or not one you may see.")
    return contact


def _who(user: Any) -> str:
    return str(user) if user is not None else THE_APP


def page_number(page: Any) -> int:
    """A page number from a URL: 1 when it is not one, at most MAX_PAGE."""
    try:
        return max(1, min(int(page or 1), MAX_PAGE))
    except (TypeError, ValueError):
        return 1


def _email_status(sent: SentEmail) -> tuple[str, str]:
    if sent.status == EmailStatus.FAILED:
        return (f"Failed: {sent.error}" if sent.error else "Failed"), "danger"
    if sent.status == EmailStatus.SENDING:
        return "Sending", "secondary"
    return "Sent", "success"


def _delivery(recipient: CampaignRecipient) -> tuple[str, str]:
    """What became of the mail to a campaign's recipient: sent, failed, waiting, not sent."""
    status = recipient.status
    if status == RecipientStatus.SENT:
        return "Sent", "success"
    if status == RecipientStatus.FAILED:
        return (f"Failed: {recipient.error}" if recipient.error else "Failed"), "danger"
    if status == RecipientStatus.QUEUED:
        waiting = f"Queued: to be tried again ({recipient.error})" if recipient.error else "Queued"
        return waiting, "secondary"
    if status == RecipientStatus.SENDING:
        return "Sending", "secondary"
    reason = recipient.reason.label if recipient.reason is not None else ""
    return (f"Not sent: {reason}" if reason else "Not sent"), "secondary"


def _recipient_status(recipient: CampaignRecipient) -> tuple[str, str]:
    """The status of a campaign mail in a word or two (the Emails tab): a bounce or an
    unsubscribe says more than "Sent"."""
    if recipient.bounced_at is not None:
        return "Bounced", "danger"
    if recipient.unsubscribed_at is not None:
        return "Unsubscribed", "warning"
    return _delivery(recipient)


def _campaign_status(recipient: CampaignRecipient) -> tuple[str, str]:
    """The contact's part in a campaign in words, with dates (the Campaigns tab)."""
    status, tone = _delivery(recipient)
    if recipient.status == RecipientStatus.SENT and recipient.sent_at is not None:
        status = f"Sent on {local_text(recipient.sent_at)}"
    parts = [status]
    if recipient.bounced_at is not None:
        parts.append(f"Bounced on {local_text(recipient.bounced_at)}")
        tone = "danger"
    if recipient.unsubscribed_at is not None:
        parts.append(f"Unsubscribed on {local_text(recipient.unsubscribed_at)}")
        tone = tone if tone == "danger" else "warning"
    return " · ".join(parts), tone


def _campaign_moment() -> Any:
    """When a campaign mail counts as sent, for sorting: its own time, else the campaign's."""
    return func.coalesce(
        CampaignRecipient.sent_at, Campaign.started_at, Campaign.send_at, Campaign.created_at
    )


def _email_row(sent: SentEmail) -> EmailRow:
    status, tone = _email_status(sent)
    return EmailRow(_EMAIL, sent.id, sent.sent_at or sent.created_at, sent.kind.label,
                    sent.subject, sent.to_address, status, tone, _who(sent.sent_by))  # fmt: skip


def _campaign_sender(campaign: Campaign) -> str:
    return _who(campaign.sent_by or campaign.created_by)


def _render(campaign: Campaign, contact: Contact, unsubscribe: str) -> Rendered:
    template = compiled(campaign.subject, campaign.body_text, campaign.body_html)
    return template.render(fields_of(contact, unsubscribe))


def _campaign_subject(campaign: Campaign, contact: Contact) -> str:
    """The subject as the contact got it (merge fields filled in)."""
    try:
        return _render(campaign, contact, UNSUBSCRIBE_TEXT).subject
    except (TemplateError, TypeError, ValueError):
        return campaign.subject


def _recipient_row(recipient: CampaignRecipient, contact: Contact) -> EmailRow:
    campaign = recipient.campaign
    status, tone = _recipient_status(recipient)
    at = recipient.sent_at or campaign.started_at or campaign.send_at or campaign.created_at
    return EmailRow(_CAMPAIGN, recipient.id, at, f"Campaign: {campaign.name}",
                    _campaign_subject(campaign, contact), recipient.email or "", status, tone,
                    _campaign_sender(campaign))  # fmt: skip


# ---- the Emails tab -------------------------------------------------------------------------
def _source(name: str) -> Any:
    """Which store a row of the union comes from, written into the SQL (no parameter whose
    type a database would have to guess)."""
    return literal_column(f"'{name}'", String).label("source")


def emails_of_contact(actor: Actor, contact_id: Any, page: Any = 1) -> EmailsPage:
    """The messages sent to the contact (and the campaign mails queued for it), newest
    first, PAGE_SIZE a page. Both stores are read by the contact's index; only the page's
    rows are loaded."""
    contact = _visible_contact(actor, contact_id)
    page = page_number(page)
    logged = select(
        _source(_EMAIL), SentEmail.id.label("id"), SentEmail.created_at.label("at")
    ).where(SentEmail.contact_id == contact.id)
    campaigns = (
        select(_source(_CAMPAIGN), CampaignRecipient.id.label("id"),
               _campaign_moment().label("at"))
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .where(CampaignRecipient.contact_id == contact.id,
               CampaignRecipient.status != RecipientStatus.EXCLUDED)
    )  # fmt: skip
    both = union_all(logged, campaigns).subquery()
    found = db.session.execute(
        select(both.c.source, both.c.id)
        .order_by(both.c.at.desc(), both.c.source, both.c.id.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    has_more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    email_ids = [row.id for row in found if row.source == _EMAIL]
    recipient_ids = [row.id for row in found if row.source == _CAMPAIGN]
    emails: dict[int, SentEmail] = {}
    if email_ids:
        found_emails = db.session.scalars(
            select(SentEmail).where(SentEmail.id.in_(email_ids))
            .options(selectinload(SentEmail.sent_by))
        )  # fmt: skip
        emails = {sent.id: sent for sent in found_emails}
    recipients: dict[int, CampaignRecipient] = {}
    if recipient_ids:
        found_recipients = db.session.scalars(
            select(CampaignRecipient).where(CampaignRecipient.id.in_(recipient_ids))
            .options(selectinload(CampaignRecipient.campaign).selectinload(Campaign.sent_by),
                     selectinload(CampaignRecipient.campaign).selectinload(Campaign.created_by))
        )  # fmt: skip
        recipients = {r.id: r for r in found_recipients}
    rows = [
        _email_row(emails[row.id])
        if row.source == _EMAIL
        else _recipient_row(recipients[row.id], contact)
        for row in found
    ]
    return EmailsPage(rows, page, has_more)


def sent_email(actor: Actor, contact_id: Any, email_id: Any) -> EmailMessage:
    """One message of the email log, whole; NotFound unless it went to this contact."""
    contact = _visible_contact(actor, contact_id)
    pk = record_id(email_id)
    sent = db.session.get(SentEmail, pk) if pk is not None else None
    if sent is None or sent.contact_id != contact.id:
        raise NotFound("No such email to this contact.")
    return EmailMessage(_email_row(sent), sent.body_text or "", sent.body_html or None)


def campaign_mail(actor: Actor, contact_id: Any, recipient_id: Any) -> EmailMessage:
    """A campaign's mail to this contact, made again from the campaign's message with the
    contact's details (said in `note`); NotFound unless the contact was a recipient to whom
    a mail was, or is to be, sent."""
    contact = _visible_contact(actor, contact_id)
    pk = record_id(recipient_id)
    recipient = db.session.get(CampaignRecipient, pk) if pk is not None else None
    if (
        recipient is None
        or recipient.contact_id != contact.id
        or recipient.status == RecipientStatus.EXCLUDED
    ):
        raise NotFound("No such campaign mail to this contact.")
    campaign = recipient.campaign
    row = _recipient_row(recipient, contact)
    try:
        text = _render(campaign, contact, UNSUBSCRIBE_TEXT).text
        html = _render(campaign, contact, UNSUBSCRIBE_HREF).html
    except (TemplateError, TypeError, ValueError) as exc:
        text, html = f"The campaign's message cannot be made again: {exc}", None
    return EmailMessage(row, text, html, note=RERENDERED)


# ---- the Campaigns tab ----------------------------------------------------------------------
def campaigns_of_contact(actor: Actor, contact_id: Any, page: Any = 1) -> CampaignsPage:
    """The campaigns the contact was in (excluded ones too, with the reason), newest first,
    PAGE_SIZE a page."""
    contact = _visible_contact(actor, contact_id)
    page = page_number(page)
    found = list(
        db.session.scalars(
            select(CampaignRecipient)
            .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
            .where(CampaignRecipient.contact_id == contact.id)
            .order_by(_campaign_moment().desc(), CampaignRecipient.id.desc())
            .limit(PAGE_SIZE + 1)
            .offset((page - 1) * PAGE_SIZE)
            .options(selectinload(CampaignRecipient.campaign))
        )
    )
    rows = []
    for recipient in found[:PAGE_SIZE]:
        campaign = recipient.campaign
        status, tone = _campaign_status(recipient)
        at = recipient.sent_at or campaign.started_at or campaign.send_at or campaign.created_at
        rows.append(CampaignRow(recipient.id, campaign.id, campaign.name, status, tone, at,
                                recipient.status != RecipientStatus.EXCLUDED))  # fmt: skip
    return CampaignsPage(rows, page, len(found) > PAGE_SIZE)


# ---- the activity feed ----------------------------------------------------------------------
@dataclass
class SentNotice:
    """A sent message as the activity feed tells it."""

    at: datetime
    who: str
    title: str
    text: str
    link: tuple[str, dict]  # the page that shows the message
    address: str = ""
    sender_id: int | None = None
    kind: EmailKind | None = None


_FEED_TITLES = {
    EmailKind.ONE_OFF: "Was sent an email: {subject}",
    EmailKind.MEETING: "Was sent a meeting confirmation: {subject}",
    EmailKind.GREETING: "Birthday greeting sent",
    EmailKind.PASSWORD_LINK: "Was sent a password link",
    EmailKind.OPT_IN: "Was sent a confirmation request",
}


def sent_notices(actor: Actor, contact_id: int, limit: int) -> list[SentNotice]:
    """The newest `limit` messages sent to the contact and campaign mails that went (or
    failed), for the activity feed; nothing for a contact the actor may not see."""
    seen = contact_visibility(actor)
    notices: list[SentNotice] = []
    logged = db.session.scalars(
        select(SentEmail).join(Contact, Contact.id == SentEmail.contact_id)
        .where(SentEmail.contact_id == contact_id, seen,
               SentEmail.status != EmailStatus.SENDING)
        .order_by(SentEmail.created_at.desc()).limit(limit)
        .options(selectinload(SentEmail.sent_by))
    )  # fmt: skip
    for sent in logged:
        link = ("contact_emails.sent_email", {"contact_id": contact_id, "email_id": sent.id})
        if sent.status == EmailStatus.FAILED:
            title, text = f"{sent.kind.label} not sent: {sent.subject}", sent.error or ""
        else:
            title, text = _FEED_TITLES[sent.kind].format(subject=sent.subject), ""
        at = sent.sent_at or sent.created_at
        notices.append(SentNotice(at, _who(sent.sent_by), title, text, link, sent.to_address,
                                  sent.sent_by_id, sent.kind))  # fmt: skip
    went = db.session.scalars(
        select(CampaignRecipient).join(Contact, Contact.id == CampaignRecipient.contact_id)
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .where(CampaignRecipient.contact_id == contact_id, seen,
               CampaignRecipient.status.in_([RecipientStatus.SENT, RecipientStatus.FAILED]))
        .order_by(_campaign_moment().desc()).limit(limit)
        .options(selectinload(CampaignRecipient.campaign).selectinload(Campaign.sent_by),
                 selectinload(CampaignRecipient.campaign).selectinload(Campaign.created_by))
    )  # fmt: skip
    for recipient in went:
        campaign = recipient.campaign
        link = ("contact_emails.campaign_mail",
                {"contact_id": contact_id, "recipient_id": recipient.id})  # fmt: skip
        if recipient.status == RecipientStatus.SENT:
            title, text = f"Campaign {campaign.name} sent", ""
        else:
            title, text = f"Campaign {campaign.name} not sent", recipient.error or ""
        at = recipient.sent_at or campaign.started_at or campaign.created_at
        notices.append(SentNotice(at, _campaign_sender(campaign), title, text, link))
    return notices


def is_logged_twice(notices: list[SentNotice], address: str | None, user_id: int | None,
                    at: datetime) -> bool:  # fmt: skip
    """Whether an outgoing email interaction (`address`, `user_id`, `at`) is the record of
    one of these messages (a one-off email or a meeting confirmation logs both)."""
    if not address:
        return False
    moment = as_utc(at)
    for notice in notices:
        if (
            notice.kind in (EmailKind.ONE_OFF, EmailKind.MEETING)
            and notice.address == address.lower()
            and notice.sender_id == user_id
            and abs((as_utc(notice.at) - moment).total_seconds()) <= SAME_MOMENT_SECONDS
        ):
            return True
    return False
