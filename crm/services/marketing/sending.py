"""Sending a campaign: the checks before anything is queued, the job that sends, and pause,
resume and cancel.

Each recipient moves queued -> sending -> sent or failed. A batch is marked `sending` and
committed before its mails go to the server, and marked sent after: a worker that dies
leaves at most one batch `sending`, which the next run marks failed ("may not have gone out")
rather than sending it again. So nobody gets a campaign twice, whatever restarts.

A campaign being sent is leased by its worker (`lease_until`, renewed per batch); the
scheduler (`run_due_campaigns`) starts scheduled campaigns, and takes over a campaign whose
lease ran out (its worker died, or the mail server was down and its retry time came)."""

from __future__ import annotations

import time as clock
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Contact,
    ExclusionReason,
    RecipientStatus,
    User,
)
from crm.models.base import utcnow
from crm.services.contacts import search
from crm.services.marketing import audience, campaigns, templating, unsubscribing
from crm.services.platform import audit, jobs, mail
from crm.services.platform.access import contact_visibility, get_visible_contact
from crm.services.platform.local_time import as_utc, to_local

BATCH = 20  # recipients marked `sending` together (at most this many unknown after a crash)
MAX_BACKOFF = timedelta(minutes=30)
MAIL_OFF = (
    "No mail server is configured (CRM_MAIL_BACKEND=none): set CRM_MAIL_BACKEND=smtp and "
    "CRM_SMTP_HOST (and CRM_SMTP_PORT, CRM_SMTP_USERNAME, CRM_SMTP_PASSWORD as the server "
    "needs) in the server's environment and restart it. Nothing was queued."
)
LOST_IN_CRASH = (
    "The sender stopped while this mail was being handed to the mail server: it may or may "
    "not have gone out, so it is not sent again."
)


def _may_send(actor: Actor) -> None:
    if not can(actor, "campaign.send"):
        raise PermissionDenied("You may not send campaigns.")


def _checked_for_sending(campaign: Campaign) -> None:
    """What must hold before anything is queued: a mail server, an allowed sender, templates
    that render, and an audience."""
    if current_app.config.get("CRM_MAIL_BACKEND", "console") == "none":
        raise DomainError(MAIL_OFF)
    errors: dict[str, list[str]] = {}
    if not campaigns.sender_allowed(campaign.sender_email or ""):
        errors["sender_email"] = [
            f"The mail settings do not allow sending as {campaign.sender_email}."
        ]
    for field, source, html in (
        ("subject", campaign.subject, False),
        ("body_text", campaign.body_text, False),
        ("body_html", campaign.body_html or "", True),
    ):
        if not source and field != "body_html":
            errors[field] = ["Write this before sending."]
            continue
        try:
            (templating.check_html if html else templating.check)(field, source)
        except templating.TemplateProblem as exc:
            errors[field] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)
    if not audience.has_audience(campaign):
        raise DomainError(
            "The audience is empty: choose at least one segment, marketing list or contact. "
            "Nothing was queued."
        )


def _move(campaign: Campaign, allowed: tuple[CampaignStatus, ...], to: CampaignStatus,
          refusal: str) -> None:  # fmt: skip
    """Change the campaign's status only from one of `allowed`, as one conditional UPDATE:
    of two people pressing the same button at once, the second is refused with `refusal`
    (the row is locked until the first commits), never sent twice nor answered with a 500."""
    moved = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(allowed))
        .values(status=to)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(campaign, ["status"])
    if not moved:
        raise DomainError(f"{refusal} (it is {campaign.status.label.lower()} now).")


def send_campaign(actor: Actor, campaign: Campaign, send_at: datetime | None = None) -> Campaign:
    """Send now (`send_at` None: recipients resolved and queued) or schedule for `send_at`
    (an aware moment, in the future). The boundary then calls `commit_and_queue`."""
    _may_send(actor)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise DomainError(
            f"This campaign is {campaign.status.label.lower()}: it cannot be sent again."
        )
    _checked_for_sending(campaign)
    moment = as_utc(send_at) if send_at is not None else None
    if send_at is not None and (moment is None or moment <= utcnow()):
        raise ValidationFailed({"send_at": ["Choose a time in the future."]})
    audit.note_actor(db.session, actor)
    ready = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
    to = CampaignStatus.SCHEDULED if moment is not None else CampaignStatus.SENDING
    _move(campaign, ready, to, "This campaign was sent or scheduled meanwhile")
    campaign.sent_by_id = actor.id
    if moment is not None:
        campaign.send_at = moment
        db.session.flush()
        return campaign
    _start(actor, campaign)
    return campaign


def _start(actor: Actor, campaign: Campaign) -> int:
    queued = audience.resolve(actor, campaign)
    if queued == 0:
        shown = campaigns.counts(campaign)
        reasons = "; ".join(
            f"{campaigns.reason_label(code)}: {n:,}"
            for code, n in shown["excluded_by_reason"].items()
        )
        raise DomainError(
            "Nobody to send to: "
            + (f"all {shown['total']:,} contacts of the audience are excluded ({reasons})."
               if shown["total"] else "the audience has no contacts.")
            + " Nothing was queued."
        )  # fmt: skip
    campaign.status = CampaignStatus.SENDING
    campaign.started_at = utcnow()
    campaign.send_at = campaign.send_at or campaign.started_at
    campaign.lease_until = None
    db.session.flush()
    return queued


def commit_and_queue(campaign: Campaign) -> str | None:
    """Commit, then hand a campaign being sent to the job queue: None, or why the queue
    could not take it (the scheduler tries again within a minute)."""
    db.session.commit()
    if campaign.status != CampaignStatus.SENDING:
        return None

    def not_queued(message: str) -> None:
        campaign.last_error = message
        campaign.retry_at = utcnow() + timedelta(minutes=1)

    try:
        jobs.submit(run_campaign, campaign, not_queued=not_queued)
    except jobs.JobQueueDown as exc:
        return exc.message
    return None


def pause(actor: Actor, campaign: Campaign) -> None:
    _may_send(actor)
    if campaign.status != CampaignStatus.SENDING:
        raise DomainError("Only a campaign being sent can be paused.")
    audit.note_actor(db.session, actor)
    _move(campaign, (CampaignStatus.SENDING,), CampaignStatus.PAUSED, "It can no longer be paused")
    db.session.flush()


def resume(actor: Actor, campaign: Campaign) -> None:
    """A paused campaign goes on (the boundary calls `commit_and_queue`)."""
    _may_send(actor)
    if campaign.status != CampaignStatus.PAUSED:
        raise DomainError("Only a paused campaign can be resumed.")
    if current_app.config.get("CRM_MAIL_BACKEND", "console") == "none":
        raise DomainError(MAIL_OFF)
    audit.note_actor(db.session, actor)
    _move(campaign, (CampaignStatus.PAUSED,), CampaignStatus.SENDING, "It can no longer be resumed")
    campaign.lease_until = None
    db.session.flush()


def cancel(actor: Actor, campaign: Campaign) -> int:
    """Stop for good: the recipients not mailed yet are marked "cancelled before sending".
    How many were left unsent."""
    _may_send(actor)
    if campaign.status not in (
        CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED
    ):  # fmt: skip
        raise DomainError("Only a scheduled, sending or paused campaign can be cancelled.")
    audit.note_actor(db.session, actor)
    _move(campaign, (CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED),
          CampaignStatus.CANCELLED, "It can no longer be cancelled")  # fmt: skip
    campaign.finished_at = utcnow()
    left = db.session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.status == RecipientStatus.QUEUED,
        )
        .values(status=RecipientStatus.EXCLUDED, reason=ExclusionReason.CANCELLED)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.flush()
    return left or 0


def unschedule(actor: Actor, campaign: Campaign) -> None:
    """A scheduled campaign back to a draft (to change it, or send it now)."""
    _may_send(actor)
    if campaign.status != CampaignStatus.SCHEDULED:
        raise DomainError("Only a scheduled campaign can be unscheduled.")
    _move(campaign, (CampaignStatus.SCHEDULED,), CampaignStatus.DRAFT,
          "It can no longer be unscheduled")  # fmt: skip
    campaign.send_at = None
    db.session.flush()


# ---- what a recipient receives ---------------------------------------------------------


def _links(recipient_id: int) -> tuple[str, str]:
    """(the body's unsubscribe page, the one-click URL of the header)."""
    from crm.services.platform.password_links import external_url

    token = unsubscribing.token_of(recipient_id)
    return (
        external_url("public.campaign_unsubscribe", token=token),
        external_url("public.campaign_one_click", token=token),
    )


def _unsubscribe_mailto(campaign: Campaign) -> str:
    address = current_app.config.get("CRM_UNSUBSCRIBE_MAILTO") or campaign.sender_email
    return f"mailto:{address}?subject=unsubscribe"


def message_for(campaign: Campaign, contact: Contact, to: str,
                recipient_id: int | None) -> mail.Mail:  # fmt: skip
    """The mail as `contact` receives it (a test send or preview: no recipient row, a link
    that leads nowhere)."""
    if recipient_id is not None:
        page, one_click = _links(recipient_id)
    else:
        page = one_click = _links(0)[0]
    template = templating.compiled(campaign.subject, campaign.body_text, campaign.body_html)
    shown = template.render(templating.fields_of(contact, page))
    return mail.Mail(
        to=[to], subject=shown.subject, body=shown.text, html=shown.html,
        sender=(campaign.sender_name, campaign.sender_email), reply_to=campaign.reply_to,
        headers={
            "List-Unsubscribe": f"<{_unsubscribe_mailto(campaign)}>, <{one_click}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-CRM-Campaign": str(campaign.id),
        },
    )  # fmt: skip


def preview(
    actor: Actor, campaign: Campaign, contact_id: Any = None
) -> tuple[templating.Rendered, Contact | None]:
    """The message as a contact the actor sees would get it (none: sample details)."""
    if not can(actor, "campaign.view"):
        raise PermissionDenied("You may not see campaigns.")
    contact = get_visible_contact(actor, contact_id) if contact_id not in (None, "") else None
    if contact_id not in (None, "") and contact is None:
        raise NotFound("No such contact, or not one you may see.")
    template = templating.compiled(campaign.subject, campaign.body_text, campaign.body_html)
    values = (
        templating.fields_of(contact, "#unsubscribe") if contact is not None
        else {**templating.SAMPLE_FIELDS, "unsubscribe_url": "#unsubscribe"}
    )  # fmt: skip
    return template.render(values), contact


def preview_contact(actor: Actor, text: str | None) -> tuple[Contact | None, str]:
    """ "Preview as": the first contact the actor sees whose name, email or phone matches
    `text` (the list's search), and a line saying who it is or why there is none."""
    text = (text or "").strip()[:100]
    if not text:
        return None, ""
    clause = search.contact_search_clause(text)
    if clause is None:
        return None, f"Type at least 3 characters to find a contact (not {text!r})."
    found = db.session.scalars(
        select(Contact).where(clause, contact_visibility(actor))
        .order_by(Contact.last_name, Contact.first_name, Contact.id).limit(2)
    ).all()  # fmt: skip
    if not found:
        return None, f"No contact you may see matches {text!r}: sample details are shown."
    more = " (the first of several matches)" if len(found) > 1 else ""
    return found[0], f"As {found[0].full_name} would get it{more}."


def test_send(actor: Actor, campaign: Campaign, contact_id: Any = None) -> str:
    """Send the message to the actor's own address, as `contact_id` (or sample details)
    would get it, "[Test]" before the subject; the address it went to."""
    if not can(actor, "campaign.edit"):
        raise PermissionDenied("You may not write campaigns.")
    if current_app.config.get("CRM_MAIL_BACKEND", "console") == "none":
        raise DomainError(MAIL_OFF.replace(" Nothing was queued.", ""))
    _checked_templates(campaign)
    shown, _contact = preview(actor, campaign, contact_id)
    address = getattr(actor, "email", "")
    mail.send(
        mail.Mail(
            to=[address], subject=f"[Test] {shown.subject}", body=shown.text, html=shown.html,
            sender=(campaign.sender_name, campaign.sender_email), reply_to=campaign.reply_to,
        )
    )  # fmt: skip
    return address


def _checked_templates(campaign: Campaign) -> None:
    errors: dict[str, list[str]] = {}
    for field, source, html in (
        ("subject", campaign.subject, False),
        ("body_text", campaign.body_text, False),
        ("body_html", campaign.body_html or "", True),
    ):
        try:
            (templating.check_html if html else templating.check)(field, source)
        except templating.TemplateProblem as exc:
            errors[field] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)


# ---- the job -------------------------------------------------------------------------


def _lease() -> timedelta:
    """How long a worker holds a campaign without news (CRM_CAMPAIGN_LEASE_SECONDS): after
    that, its worker is taken for dead and another may go on."""
    return timedelta(seconds=float(current_app.config.get("CRM_CAMPAIGN_LEASE_SECONDS", 300)))


def _take_lease(campaign_id: int) -> bool:
    """Hold the campaign for this worker (committed); False when another holds it."""
    now = utcnow()
    taken = db.session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status == CampaignStatus.SENDING,
            (Campaign.lease_until.is_(None)) | (Campaign.lease_until < now),
        )
        .values(lease_until=now + _lease())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(taken)


def _rate() -> float:
    """Mails a second (CRM_CAMPAIGN_RATE; 0: as fast as the server takes them)."""
    try:
        return max(0.0, float(current_app.config.get("CRM_CAMPAIGN_RATE", 20) or 0))
    except (TypeError, ValueError):
        return 20.0


def run_campaign(campaign_id: int) -> None:
    """The job: send the campaign's queued recipients, batch by batch, until none is left,
    the campaign is paused or cancelled, or the mail server is down (then the queued wait
    for the retry time the scheduler honours)."""
    if not _take_lease(campaign_id):
        return
    # A batch left `sending` by a worker that died: its outcome is unknown; never send twice.
    db.session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status == RecipientStatus.SENDING,
        )
        .values(status=RecipientStatus.FAILED, error=LOST_IN_CRASH)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    pace = _Pace(_rate())
    with mail.connection() as server:
        while True:
            campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
            if campaign is None or campaign.status != CampaignStatus.SENDING:
                _release(campaign_id)
                return
            batch = _claim_batch(campaign_id)
            if not batch:
                _finish(campaign_id)
                return
            outcome = _send_batch(server, campaign, batch, pace)
            if outcome is not None:  # the server is down: wait and try again later
                _server_down(campaign_id, outcome)
                return


class _Pace:
    """Waits before each mail so that no more than `rate` go out a second (0: no wait)."""

    def __init__(self, rate: float) -> None:
        self.rate, self.started, self.sent = rate, clock.monotonic(), 0

    def wait(self) -> None:
        if self.rate:
            ahead = self.sent / self.rate - (clock.monotonic() - self.started)
            if ahead > 0:
                clock.sleep(ahead)
        self.sent += 1


def _claim_batch(campaign_id: int) -> list[tuple[int, int, str]]:
    """Mark the next batch `sending` (committed); their (recipient id, contact id, email)."""
    rows = db.session.execute(
        select(CampaignRecipient.id, CampaignRecipient.contact_id, CampaignRecipient.email)
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status == RecipientStatus.QUEUED,
        )
        .order_by(CampaignRecipient.id)
        .limit(BATCH)
    ).all()
    if not rows:
        return []
    db.session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.id.in_([r[0] for r in rows]),
            CampaignRecipient.status == RecipientStatus.QUEUED,
        )
        .values(status=RecipientStatus.SENDING, attempts=CampaignRecipient.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(lease_until=utcnow() + _lease())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return [tuple(r) for r in rows]


def _send_batch(server: mail.Connection, campaign: Campaign,
                batch: list[tuple[int, int, str]], pace: _Pace) -> str | None:  # fmt: skip
    """Send each mail of the batch and record its outcome (committed). The server's error
    when it is down (the unsent of the batch are queued again), else None."""
    from sqlalchemy.orm import selectinload

    contacts = {
        c.id: c
        for c in db.session.scalars(
            select(Contact)
            .where(Contact.id.in_([contact_id for _, contact_id, _ in batch]))
            .options(selectinload(Contact.account), selectinload(Contact.owner))
        )
    }
    results: dict[int, dict[str, Any]] = {}
    down: str | None = None
    for recipient_id, contact_id, email in batch:
        contact = contacts.get(contact_id)
        if down is not None:
            results[recipient_id] = {"status": RecipientStatus.QUEUED, "error": down}
            continue
        if contact is None:
            results[recipient_id] = {"status": RecipientStatus.FAILED,
                                     "error": "The contact was deleted."}  # fmt: skip
            continue
        message = message_for(campaign, contact, email, recipient_id)
        pace.wait()
        try:
            message_id = server.send(message)
        except mail.MailNotSent as exc:
            if exc.permanent:
                results[recipient_id] = {"status": RecipientStatus.FAILED, "error": exc.message}
            else:
                down = exc.message
                results[recipient_id] = {"status": RecipientStatus.QUEUED, "error": down}
            continue
        results[recipient_id] = {
            "status": RecipientStatus.SENT, "sent_at": utcnow(), "message_id": message_id,
            "error": None,
        }  # fmt: skip
    # One executemany by primary key for the whole batch (ORM bulk UPDATE).
    columns = ("status", "error", "sent_at", "message_id")
    db.session.execute(
        update(CampaignRecipient),
        [{"id": rid, **{c: values.get(c) for c in columns}} for rid, values in results.items()],
    )
    if down is None:
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id, Campaign.last_error.is_not(None))
            .values(last_error=None, retry_at=None, retries=0)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return down


def _server_down(campaign_id: int, error: str) -> None:
    campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        return
    wait = min(MAX_BACKOFF, timedelta(minutes=2 ** min(campaign.retries or 0, 6)))
    campaign.retries = (campaign.retries or 0) + 1
    campaign.last_error = error
    campaign.retry_at = utcnow() + wait
    campaign.lease_until = campaign.retry_at  # nobody takes it over before the retry time
    db.session.commit()


def _release(campaign_id: int) -> None:
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(lease_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _finish(campaign_id: int) -> None:
    left = db.session.scalar(
        select(func.count()).where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status.in_([RecipientStatus.QUEUED, RecipientStatus.SENDING]),
        )
    )
    values: dict[str, Any] = {"lease_until": None}
    if not left:
        values.update(status=CampaignStatus.SENT, finished_at=utcnow(), last_error=None,
                      retry_at=None)  # fmt: skip
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# ---- the scheduler's part -----------------------------------------------------------------


def run_due_campaigns(now: datetime | None = None) -> int:
    """Start the scheduled campaigns whose time has come and take over the ones being sent
    whose lease ran out (a dead worker, a retry time reached); each is claimed by a
    conditional update, so two schedulers at once start it once. How many were started or
    taken over. Commits."""
    now = as_utc(now) or utcnow()
    handed = 0
    due = db.session.scalars(
        select(Campaign.id).where(
            Campaign.status == CampaignStatus.SCHEDULED, Campaign.send_at <= now
        )
    ).all()
    for campaign_id in due:
        claimed = db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SCHEDULED)
            .values(status=CampaignStatus.SENDING, started_at=now, lease_until=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            db.session.rollback()
            continue
        campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
        sender = db.session.get(User, campaign.sent_by_id) if campaign.sent_by_id else None
        try:
            if sender is None or not sender.active or not can(sender, "campaign.send"):
                raise DomainError(
                    "The user who scheduled this campaign may no longer send it: schedule it again."
                )
            _checked_for_sending(campaign)
            _start(sender, campaign)
        except DomainError as exc:
            db.session.rollback()
            _could_not_start(campaign_id, exc)
            continue
        commit_and_queue(campaign)
        handed += 1
    stale = db.session.scalars(
        select(Campaign.id).where(
            Campaign.status == CampaignStatus.SENDING,
            (Campaign.lease_until.is_(None)) | (Campaign.lease_until < now),
        )
    ).all()
    for campaign_id in stale:
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is not None and _lease_free(campaign, now):
            commit_and_queue(campaign)
            handed += 1
    return handed


def _lease_free(campaign: Campaign, now: datetime) -> bool:
    lease = as_utc(campaign.lease_until)
    return lease is None or lease < now


def _could_not_start(campaign_id: int, exc: DomainError) -> None:
    """A scheduled campaign that cannot start goes back to a draft, saying why."""
    message = exc.message
    if isinstance(exc, ValidationFailed):
        message = "; ".join(m for msgs in exc.errors.values() for m in msgs)
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(
            status=CampaignStatus.DRAFT, last_error=f"Not sent at the scheduled time: {message}"
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def moment_text(moment: datetime | None) -> str:
    """ "8 Dec 2026 14:30" in office time."""
    local = to_local(moment)
    return "" if local is None else f"{local.day} {local:%b %Y %H:%M}"


def status_detail(campaign: Campaign) -> str:
    """What the status badge does not say: when, or what it waits for ("" if nothing)."""
    status = campaign.status
    if status == CampaignStatus.SCHEDULED and campaign.send_at:
        return f"for {moment_text(campaign.send_at)}"
    if status == CampaignStatus.SENDING and campaign.last_error and campaign.retry_at:
        what = "job queue" if "job queue" in campaign.last_error else "mail server"
        return (
            f"waiting: the {what} could not be reached; next try at "
            f"{to_local(campaign.retry_at):%H:%M}"
        )
    if status in (CampaignStatus.SENT, CampaignStatus.CANCELLED) and campaign.finished_at:
        return moment_text(campaign.finished_at)
    if status == CampaignStatus.DRAFT and campaign.last_error:
        return "not sent at the scheduled time"
    return ""
