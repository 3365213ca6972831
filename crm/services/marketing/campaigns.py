"""Writing a campaign: its fields checked (merge fields, the sender the settings allow, the
audience's segments and lists), its counts, and which campaigns a user may read.

`save_campaign` takes the same `data` from the compose page, the bulk action and the API:
name, subject, body_text, body_html, sender_name, sender_email, reply_to, segment_ids,
marketing_list_ids, excluded_segment_ids, excluded_marketing_list_ids, contact_ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import Select, delete, func, insert, literal, select

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import (
    Campaign,
    CampaignAudience,
    CampaignKind,
    CampaignRecipient,
    CampaignStatus,
    Contact,
    ExclusionReason,
    MarketingList,
    RecipientStatus,
    Segment,
    campaign_contacts,
)
from crm.services.marketing import templating
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility, record_id

MAX_BODY = 200_000  # characters of the Markdown or HTML body
MAX_CHOSEN_CONTACTS = 100_000  # contacts named one by one (the bulk action, the API)
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
STARTED = "This campaign has started sending: its message and audience can no longer change."


def allowed_senders() -> list[str]:
    """The sender addresses and @domains the settings allow (CRM_MAIL_SENDERS, comma
    separated; by default the app's own address and its domain)."""
    configured = current_app.config.get("CRM_MAIL_SENDERS") or ""
    if isinstance(configured, str):
        configured = configured.split(",")
    found = [item.strip().lower() for item in configured if item.strip()]
    if not found:
        own = current_app.config["CRM_MAIL_FROM"].lower()
        found = [own]
        domain = own.rpartition("@")[2]
        if domain and domain != "localhost":
            found.append("@" + domain)
    return found


def sender_allowed(address: str) -> bool:
    address = address.lower()
    return any(
        address == item or (item.startswith("@") and address.endswith(item))
        for item in allowed_senders()
    )


def _ids(values: Any, field: str, errors: v.FieldErrors) -> list[int]:
    if values in (None, ""):
        return []
    if isinstance(values, str):
        values = [part for part in values.split(",") if part.strip()]
    if not isinstance(values, Iterable):
        errors.add(field, "Give a list of ids.")
        return []
    found: list[int] = []
    for value in values:
        number = record_id(value)
        if number is None:
            errors.add(field, f"{str(value)[:40]!r} is not an id.")
            return []
        if number not in found:
            found.append(number)
    return found


def _existing(model: type, ids: list[int], field: str, errors: v.FieldErrors, what: str) -> None:
    if not ids:
        return
    known = set(db.session.scalars(select(model.id).where(model.id.in_(ids))))
    missing = [str(i) for i in ids if i not in known]
    if missing:
        errors.add(field, f"No {what} with id {', '.join(missing[:5])}.")


def _single_line(errors: v.FieldErrors, field: str, value: Any, limit: int, label: str) -> str:
    text = errors.check(field, v.clean_limited, value if value is None else str(value), limit)
    if field in errors.found:
        return ""
    text = " ".join((text or "").split())
    if not text:
        errors.add(field, f"Write {label}.")
    return text


def _template(errors: v.FieldErrors, field: str, source: str, html: bool = False) -> None:
    if field in errors.found or not source:
        return
    try:
        (templating.check_html if html else templating.check)(field, source)
    except templating.TemplateProblem as exc:
        errors.add(field, str(exc))


def save_campaign(actor: Actor, campaign: Campaign | None, data: dict[str, Any]) -> Campaign:
    """Create (`campaign` None) or change a campaign from `data`; ValidationFailed with the
    errors by field. Only a draft or a scheduled campaign can change."""
    if not can(actor, "campaign.edit"):
        raise PermissionDenied("You may not write campaigns.")
    if campaign is not None and campaign.status not in EDITABLE:
        raise DomainError(STARTED)
    errors = v.FieldErrors()
    name = _single_line(errors, "name", data.get("name"), 150, "a name for the campaign")
    subject = _single_line(errors, "subject", data.get("subject"), 200, "a subject")
    _template(errors, "subject", subject)
    body_text = errors.check(
        "body_text", v.clean_limited, _text(data.get("body_text")), MAX_BODY
    )  # fmt: skip
    if not body_text and "body_text" not in errors.found:
        errors.add("body_text", "Write the message.")
    _template(errors, "body_text", body_text or "")
    body_html = _text(data.get("body_html")).strip() or None
    if body_html is not None:
        if len(body_html) > MAX_BODY:
            errors.add("body_html", f"At most {MAX_BODY:,} characters.")
        else:
            body_html = templating.sanitise_html(body_html)
            _template(errors, "body_html", body_html, html=True)
    config = current_app.config
    sender_name = errors.check(
        "sender_name", v.clean_limited, data.get("sender_name"), 100
    ) or config.get("CRM_NAME", "Contacts CRM")  # fmt: skip
    sender_email = errors.check("sender_email", v.clean_email, data.get("sender_email"))
    sender_email = (sender_email or config["CRM_MAIL_FROM"]).lower()
    if "sender_email" not in errors.found and not sender_allowed(sender_email):
        errors.add(
            "sender_email",
            f"The mail settings do not allow sending as {sender_email}: use "
            f"{' or '.join(_shown_senders())} (an administrator sets CRM_MAIL_SENDERS).",
        )
    reply_to = errors.check("reply_to", v.clean_email, data.get("reply_to"))
    groups = {
        field: _ids(data.get(field), field, errors)
        for field in (
            "segment_ids", "marketing_list_ids", "excluded_segment_ids",
            "excluded_marketing_list_ids",
        )
    }  # fmt: skip
    for field in ("segment_ids", "excluded_segment_ids"):
        _existing(Segment, groups[field], field, errors, "segment")
    for field in ("marketing_list_ids", "excluded_marketing_list_ids"):
        _existing(MarketingList, groups[field], field, errors, "marketing list")
    contact_ids = _ids(data.get("contact_ids"), "contact_ids", errors)
    if len(contact_ids) > MAX_CHOSEN_CONTACTS:
        errors.add("contact_ids", f"At most {MAX_CHOSEN_CONTACTS:,} contacts one by one: "
                                  "use a segment or a marketing list for more.")  # fmt: skip
    errors.raise_any()
    if contact_ids:
        visible = set(
            db.session.scalars(
                select(Contact.id).where(Contact.id.in_(contact_ids), contact_visibility(actor))
            )
        )
        hidden = [str(i) for i in contact_ids if i not in visible]
        if hidden:
            raise ValidationFailed(
                {"contact_ids": [f"No contact you may see with id {', '.join(hidden[:5])}."]}
            )
    audit.note_actor(db.session, actor)
    if campaign is None:
        campaign = Campaign(created_by_id=actor.id, status=CampaignStatus.DRAFT)
        kind = data.get("kind")
        campaign.kind = CampaignKind(kind) if kind in CampaignKind._value2member_map_ else (
            CampaignKind.CAMPAIGN
        )  # fmt: skip
        db.session.add(campaign)
    campaign.name, campaign.subject = name, subject
    campaign.body_text, campaign.body_html = body_text or "", body_html
    campaign.sender_name, campaign.sender_email = sender_name, sender_email
    campaign.reply_to = reply_to
    campaign.audience = [
        *[CampaignAudience(segment_id=i) for i in groups["segment_ids"]],
        *[CampaignAudience(marketing_list_id=i) for i in groups["marketing_list_ids"]],
        *[CampaignAudience(segment_id=i, excluded=True) for i in groups["excluded_segment_ids"]],
        *[
            CampaignAudience(marketing_list_id=i, excluded=True)
            for i in groups["excluded_marketing_list_ids"]
        ],
    ]
    db.session.flush()
    if "contact_ids" in data:  # the compose page does not post them: they stay
        db.session.execute(
            delete(campaign_contacts).where(campaign_contacts.c.campaign_id == campaign.id)
        )
        if contact_ids:
            db.session.execute(
                insert(campaign_contacts),
                [{"campaign_id": campaign.id, "contact_id": i} for i in contact_ids],
            )
    return campaign


def _text(value: Any) -> str:
    return "" if value is None else str(value).replace("\r\n", "\n").replace("\r", "\n")


def _shown_senders() -> list[str]:
    return [("an address ending in " + s) if s.startswith("@") else s for s in allowed_senders()]


def chosen_contact_count(campaign: Campaign) -> int:
    return (
        db.session.scalar(
            select(func.count()).where(campaign_contacts.c.campaign_id == campaign.id)
        )
        or 0
    )


def audience_of(campaign: Campaign) -> dict[str, list[Any]]:
    """The campaign's groups as the compose form shows them (ids by field)."""
    found: dict[str, list[Any]] = {
        "segment_ids": [], "marketing_list_ids": [], "excluded_segment_ids": [],
        "excluded_marketing_list_ids": [],
    }  # fmt: skip
    for group in campaign.audience:
        prefix = "excluded_" if group.excluded else ""
        if group.segment_id is not None:
            found[prefix + "segment_ids"].append(group.segment_id)
        else:
            found[prefix + "marketing_list_ids"].append(group.marketing_list_id)
    return found


def visible_campaigns(actor: Actor) -> Select[tuple[Campaign]]:
    """The campaigns `actor` may read: all of them, for the roles that see campaigns (what
    each one sent is counted, never listed with the recipients' names, on its page)."""
    if not can(actor, "campaign.view"):
        return select(Campaign).where(Campaign.id.is_(None))
    return select(Campaign)


def get_campaign(actor: Actor, campaign_id: Any) -> Campaign:
    """The campaign with this id; NotFound when there is none, PermissionDenied without the
    right to see campaigns."""
    if not can(actor, "campaign.view"):
        raise PermissionDenied("You may not see campaigns.")
    try:
        number = int(str(campaign_id))
    except ValueError:
        number = None
    campaign = db.session.get(Campaign, number) if number is not None else None
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def counts(campaign: Campaign) -> dict[str, Any]:
    """queued (waiting or being sent), sent, failed, bounced, unsubscribed, excluded (total
    and by reason), and total: two grouped queries over the recipients' index."""
    by_status = dict(
        db.session.execute(
            select(CampaignRecipient.status, func.count())
            .where(CampaignRecipient.campaign_id == campaign.id)
            .group_by(CampaignRecipient.status)
        ).all()
    )
    by_reason = dict(
        db.session.execute(
            select(CampaignRecipient.reason, func.count())
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.status == RecipientStatus.EXCLUDED,
            )
            .group_by(CampaignRecipient.reason)
        ).all()
    )
    after = db.session.execute(
        select(
            func.count(CampaignRecipient.bounced_at), func.count(CampaignRecipient.unsubscribed_at)
        ).where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.status == RecipientStatus.SENT,
        )
    ).one()
    queued = by_status.get(RecipientStatus.QUEUED, 0) + by_status.get(RecipientStatus.SENDING, 0)
    sent = by_status.get(RecipientStatus.SENT, 0)
    failed = by_status.get(RecipientStatus.FAILED, 0)
    excluded = by_status.get(RecipientStatus.EXCLUDED, 0)
    return {
        "total": queued + sent + failed + excluded,
        "to_send": queued + sent + failed,
        "queued": queued,
        "sent": sent,
        "failed": failed,
        "bounced": after[0] or 0,
        "unsubscribed": after[1] or 0,
        "excluded": excluded,
        "excluded_by_reason": {
            reason.value: n
            for reason, n in sorted(by_reason.items(), key=lambda kv: -kv[1])
            if reason is not None
        },
    }


def reason_label(code: str) -> str:
    try:
        return ExclusionReason(code).label
    except ValueError:
        return code


def delete_campaign(actor: Actor, campaign: Campaign) -> None:
    """Delete a draft. A campaign that went to anyone is kept: its recipients' Emails tabs
    and the unsubscribe links in their mail refer to it."""
    if not can(actor, "campaign.edit"):
        raise PermissionDenied("You may not delete campaigns.")
    if campaign.status != CampaignStatus.DRAFT:
        raise DomainError(
            f"{campaign.name} is {campaign.status.label.lower()}: only a draft can be deleted "
            "(a campaign that was sent stays on record)."
        )
    audit.note_actor(db.session, actor)
    db.session.delete(campaign)
    db.session.flush()


def start_one_off(actor: Actor, target: Select, described: str) -> tuple[Campaign, int]:
    """ "Send an email…" on contacts of the list: a draft campaign whose audience is those of
    `target` (a select of contact ids) the actor sees; (the campaign, how many). The same
    checks as any campaign apply when it is sent."""
    if not can(actor, "campaign.edit"):
        raise PermissionDenied("You may not write campaigns.")
    chosen = select(Contact.id).where(Contact.id.in_(target), contact_visibility(actor)).distinct()
    how_many = db.session.scalar(select(func.count()).select_from(chosen.subquery())) or 0
    if not how_many:
        raise DomainError("No contact to write to: choose some in the list first.")
    if how_many > MAX_CHOSEN_CONTACTS:
        raise DomainError(
            f"{how_many:,} contacts: at most {MAX_CHOSEN_CONTACTS:,} can be written to this "
            "way. Save the list as a dynamic segment and write a campaign to it."
        )
    config = current_app.config
    audit.note_actor(db.session, actor)
    campaign = Campaign(
        name=f"Email to {described}"[:150], kind=CampaignKind.ONE_OFF,
        status=CampaignStatus.DRAFT, created_by_id=actor.id,
        sender_name=config.get("CRM_NAME", "Contacts CRM"),
        sender_email=config["CRM_MAIL_FROM"].lower(), subject="", body_text="",
    )  # fmt: skip
    db.session.add(campaign)
    db.session.flush()
    db.session.execute(
        insert(campaign_contacts).from_select(
            ["campaign_id", "contact_id"], select(literal(campaign.id), chosen.subquery().c[0])
        )
    )
    return campaign, how_many


RECIPIENTS_PAGE = 50
RECIPIENT_FILTERS = {
    "sent": (RecipientStatus.SENT,),
    "failed": (RecipientStatus.FAILED,),
    "waiting": (RecipientStatus.QUEUED, RecipientStatus.SENDING),
    "excluded": (RecipientStatus.EXCLUDED,),
}


def recipients_page(
    actor: Actor, campaign: Campaign, shown: str | None, page: int
) -> tuple[list[tuple[CampaignRecipient, Contact]], bool]:
    """A page of the campaign's recipients the actor may see (`shown`: one of
    RECIPIENT_FILTERS, else all), by name; (rows, whether there is a next page)."""
    if not can(actor, "campaign.view"):
        raise PermissionDenied("You may not see campaigns.")
    query = (
        select(CampaignRecipient, Contact)
        .join(Contact, Contact.id == CampaignRecipient.contact_id)
        .where(CampaignRecipient.campaign_id == campaign.id, contact_visibility(actor))
    )
    if shown in RECIPIENT_FILTERS:
        query = query.where(CampaignRecipient.status.in_(RECIPIENT_FILTERS[shown]))
    page = max(0, min(page, 100_000))
    rows = db.session.execute(
        query.order_by(Contact.last_name, Contact.first_name, Contact.id)
        .offset(page * RECIPIENTS_PAGE)
        .limit(RECIPIENTS_PAGE + 1)
    ).all()
    return [tuple(r) for r in rows[:RECIPIENTS_PAGE]], len(rows) > RECIPIENTS_PAGE


def recipient_words(recipient: CampaignRecipient) -> str:
    """What became of one recipient's mail, in words."""
    if recipient.status == RecipientStatus.EXCLUDED:
        return f"Not sent: {recipient.reason.label if recipient.reason else 'excluded'}"
    if recipient.status == RecipientStatus.FAILED:
        return f"Failed: {recipient.error or 'the mail server refused it'}"
    words = recipient.status.label
    if recipient.bounced_at:
        words += ", bounced"
    if recipient.unsubscribed_at:
        words += ", unsubscribed"
    return words


def sent_counts(campaign_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(sent, to send) per campaign, in one grouped query: the campaign list's column."""
    if not campaign_ids:
        return {}
    sent = func.count().filter(CampaignRecipient.status == RecipientStatus.SENT)
    mailed = func.count().filter(CampaignRecipient.status != RecipientStatus.EXCLUDED)
    rows = db.session.execute(
        select(CampaignRecipient.campaign_id, sent, mailed)
        .where(CampaignRecipient.campaign_id.in_(campaign_ids))
        .group_by(CampaignRecipient.campaign_id)
    )
    return {campaign_id: (s, m) for campaign_id, s, m in rows}
