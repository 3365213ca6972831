"""When scheduled work last ran, and each automation's last piece of work: what the
Automations page shows. Each is one look-up in an index (the email log's newest rows, the
ledger's keys by prefix), whatever the size of the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AutomationKind, Contact, DoneWork, EmailKind, SentEmail
from crm.services.platform.local_time import as_utc


@dataclass(frozen=True)
class LastGreeting:
    at: datetime
    to: str  # the contact's name


def _last_claim(prefix: str) -> datetime | None:
    # Keys from `prefix` up to the next character: a range of the primary key.
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    moment = db.session.scalar(
        select(func.max(DoneWork.done_at)).where(DoneWork.key >= prefix, DoneWork.key < end)
    )
    return as_utc(moment)


def scheduler_last_ran() -> datetime | None:
    """The moment of the last hour's first run of `crm run-due` (each hour's first run
    claims that hour's retention sweep); None when it never ran (or not for two weeks)."""
    return _last_claim("retention:")


def scheduler_is_late(now: datetime, last: datetime | None) -> bool:
    """Whether scheduled work looks stopped: no run in this hour or the one before."""
    return last is None or as_utc(now) - last > timedelta(hours=2)


def last_greeting() -> LastGreeting | None:
    row = db.session.execute(
        select(SentEmail.created_at, Contact.first_name, Contact.last_name)
        .join(Contact, Contact.id == SentEmail.contact_id)
        .where(SentEmail.kind == EmailKind.GREETING)
        .order_by(SentEmail.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return LastGreeting(at=as_utc(row.created_at), to=f"{row.first_name} {row.last_name}")


def last_work() -> dict[AutomationKind, datetime | None]:
    """Each automation's last piece of work: a greeting sent, a day's morning emails
    decided, an appointment reminder claimed."""
    greeting = last_greeting()
    return {
        AutomationKind.BIRTHDAY_GREETING: greeting.at if greeting else None,
        AutomationKind.TASK_DIGEST: _last_claim("digest:"),
        AutomationKind.APPOINTMENT_REMINDER: _last_claim("appointment-reminder:"),
    }
