"""Birthday greetings: each contact in the audience (everyone with email-marketing consent,
or a segment's members with it) gets the greeting once a year, on its birthday in its own
time zone (Contact.timezone, else the office's), at or after the configured time of day
there; a run that missed that minute sends later the same local day. 29 February is greeted
on 28 February in common years. Each greeting is a SentEmail of kind GREETING (the contact's
Emails tab) whose unique key `greeting:<contact id>:<year>` is claimed before the mail goes.

The candidates are read by month (the indexed `birthday_month`) and day, for the two or three
dates that are "today" somewhere on Earth, less those greeted already: a few thousand rows a
minute at a million contacts, not the table."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    exists,
    extract,
    literal,
    or_,
    select,
)
from sqlalchemy.exc import OperationalError

from crm.auth.permissions import Actor
from crm.errors import DomainError
from crm.extensions import db
from crm.models import (
    Automation,
    Contact,
    EmailKind,
    EmailStatus,
    Segment,
    SegmentKind,
    SentEmail,
    User,
)
from crm.services.automation import ledger, settings
from crm.services.lists.consent import may_receive_marketing, one_click_link, unsubscribe_link
from crm.services.lists.segments import in_segment
from crm.services.marketing import email_log, templating
from crm.services.marketing.audience import segment_ids_select
from crm.services.marketing.bounces import address_bounces
from crm.services.platform import local_time, mail
from crm.services.platform.access import contact_visibility, unindexed

BATCH = 500  # candidates read at a time (each greeting commits its claim)
# The zones furthest behind and ahead of UTC (Etc/GMT+12, Pacific/Kiritimati).
_BEHIND, _AHEAD = timedelta(hours=-12), timedelta(hours=14)


@dataclass
class Greeted:
    sent: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent" + (f", {self.failed} failed" if self.failed else "")


def key(contact_id: int, year: int) -> str:
    return f"greeting:{contact_id}:{year}"


def greeting_day(birthday: date, year: int) -> date:
    """The day a birthday is greeted in `year` (29 February: the 28th in a common year)."""
    if (birthday.month, birthday.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, birthday.month, birthday.day)


def zone_of(name: str | None) -> ZoneInfo:
    """The contact's time zone, else the office's."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return local_time.office_zone()


def _dates_somewhere(now: datetime) -> list[date]:
    """The dates it is somewhere on Earth at `now`."""
    return sorted({(now + offset).date() for offset in (_BEHIND, timedelta(0), _AHEAD)})


def _on_birthday(days: list[date]) -> ColumnElement[bool]:
    pairs = set()
    for day in days:
        pairs.add((day.month, day.day))
        if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
            pairs.add((2, 29))
    day_of = extract("day", Contact.birthday)
    return or_(*(and_(Contact.birthday_month == m, day_of == d) for m, d in sorted(pairs)))


def _greeted(years: set[int]) -> ColumnElement[bool]:
    """The contact has its greeting of one of `years` (the unique index on the key)."""
    keys = [
        literal("greeting:", String) + cast(Contact.id, String) + literal(f":{year}", String)
        for year in sorted(years)
    ]
    return exists().where(SentEmail.key.in_(keys))


def audience(automation: Automation) -> ColumnElement[bool] | None:
    """Who may be greeted besides the consent rules: None for everyone with consent."""
    segment = db.session.get(Segment, automation.segment_id) if automation.segment_id else None
    if segment is None:
        return None
    if segment.kind == SegmentKind.STATIC:
        return in_segment(segment.id)
    chooser = db.session.get(User, automation.updated_by_id) if automation.updated_by_id else None
    if chooser is None or not chooser.active:
        raise DomainError(
            f"The greetings go to the dynamic segment {segment.name}, whose members are the "
            "contacts its filter shows to the user who chose it, and that user is no longer "
            "active: save the automation again."
        )
    # A dynamic segment's members are the contacts its saved filter shows to a user: the one
    # who chose it for the greetings (as a campaign's are its sender's).
    return Contact.id.in_(segment_ids_select(chooser, segment))


def _receives(drive_by_birthday: bool = False) -> list[ColumnElement[bool]]:
    """Who may get a greeting: consent.may_receive_marketing(), a birthday, an address that
    does not bounce. `drive_by_birthday`: the same, phrased so that SQLite's planner drives
    the query by the birthday's month (the index on consent would read every contact who
    gave it)."""
    if not drive_by_birthday:
        consent = [may_receive_marketing()]
    else:
        column = Contact.__table__.c
        consent = [
            unindexed(column.deleted_at).is_(None),
            unindexed(column.email).is_not(None),
            unindexed(column.email_marketing).is_(True),
            unindexed(column.do_not_email).is_(False),
        ]
    return [
        *consent,
        Contact.birthday.is_not(None),
        ~address_bounces(Contact.email),
    ]


def _candidates(now: datetime, who: ColumnElement[bool] | None, after_id: int):
    days = _dates_somewhere(now)
    query = (
        select(Contact.id, Contact.birthday, Contact.timezone)
        .where(
            _on_birthday(days),
            *_receives(drive_by_birthday=True),
            ~_greeted({day.year for day in days}),
            Contact.id > after_id,
        )
        .order_by(Contact.id)
        .limit(BATCH)
    )
    if who is not None:
        query = query.where(who)
    return db.session.execute(query).all()


def message_for(automation: Automation, contact: Contact, link: str) -> mail.Mail:
    """The greeting to `contact`, with `link` to unsubscribe (in the footer and the
    List-Unsubscribe header)."""
    template = templating.compiled(automation.subject, automation.body_text, None)
    rendered = template.render(templating.fields_of(contact, link))
    one_click = one_click_link(contact) if contact.id else link
    return mail.Mail(
        to=[contact.email or ""], subject=rendered.subject, body=rendered.text,
        html=rendered.html, headers={
            "List-Unsubscribe": f"<{_unsubscribe_mailto()}>, <{one_click}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )  # fmt: skip


def _unsubscribe_mailto() -> str:
    """The List-Unsubscribe mailto (as campaigns have): CRM_UNSUBSCRIBE_MAILTO, else the
    app's own address."""
    config = current_app.config
    address = config.get("CRM_UNSUBSCRIBE_MAILTO") or config["CRM_MAIL_FROM"]
    return f"mailto:{address}?subject=unsubscribe"


def _greet(automation: Automation, contact: Contact, year: int) -> EmailStatus | None:
    message = message_for(automation, contact, unsubscribe_link(contact))
    try:
        row = email_log.claim(
            key(contact.id, year), EmailKind.GREETING, contact, contact.email or "", message
        )
    except OperationalError as exc:
        db.session.rollback()
        if ledger.lost_race(exc):
            return None
        raise
    if row is None:
        return None
    return email_log.finish(row, message).status


def send_due(now: datetime) -> Greeted | None:
    """Greet every contact whose birthday it is at `now` (in its time zone, from the time of
    day on); None when greetings are off. Each greeting is sent once, whoever runs this."""
    automation = settings.current(settings.GREETING)
    if not automation.enabled or not automation.subject or not automation.body_text:
        return None
    at = automation.send_time or settings.DEFAULTS[settings.GREETING]["send_time"]
    who = audience(automation)
    done = Greeted()
    after = 0
    while True:
        batch = _candidates(now, who, after)
        for contact_id, birthday, zone_name in batch:
            after = contact_id
            local = now.astimezone(zone_of(zone_name))
            if greeting_day(birthday, local.year) != local.date() or local.time() < at:
                continue
            contact = db.session.get(Contact, contact_id)
            if contact is None:
                continue
            status = _greet(automation, contact, local.year)
            if status == EmailStatus.SENT:
                done.sent += 1
            elif status == EmailStatus.FAILED:
                done.failed += 1
        db.session.rollback()  # end the read; the next batch reads what others claimed too
        if len(batch) < BATCH:
            return done


def sample_contact(actor: Actor, automation: Automation) -> Contact | None:
    """A contact the greeting could go to, that `actor` sees (for the preview)."""
    try:
        who = audience(automation)
    except DomainError:
        who = None
    query = select(Contact).where(*_receives(), contact_visibility(actor)).order_by(Contact.id)
    if who is not None:
        query = query.where(who)
    return db.session.scalars(query.limit(1)).first()


def preview(actor: Actor, automation: Automation) -> tuple[templating.Rendered, str]:
    """The greeting as a contact of the audience would receive it (a made-up contact when
    there is none), and whom it shows. The unsubscribe link is a sample: following it must
    not unsubscribe anyone. TemplateProblem for a template that cannot be rendered."""
    templating.check("subject", automation.subject)
    templating.check("body_text", automation.body_text)
    contact = sample_contact(actor, automation)
    if contact is None:
        values = dict(templating.SAMPLE_FIELDS)
        who = f"{values['full_name']} (a sample contact)"
    else:
        values = templating.fields_of(contact, templating.SAMPLE_FIELDS["unsubscribe_url"])
        who = contact.full_name
    template = templating.compiled(automation.subject, automation.body_text, None)
    return template.render(values), who
