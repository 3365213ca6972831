"""Users' reminders, mailed to the users themselves (not kept in a contact's Emails tab):

- the morning digest: each active user with `task_digest` on gets, once a day from the
  configured time (office time), the list of their open tasks due that day or before; a
  day with none sends nothing. Key `digest:<user id>:<date>`.
- appointment reminders: the organiser and the users taking part in a scheduled appointment
  get one mail the configured number of minutes before it starts. Key
  `appointment-reminder:<appointment id>:<user id>:<start>`: an appointment moved to another
  time is reminded of again.

Each key is claimed (crm.services.automation.ledger) before the mail goes; when the mail
server refuses the mail the claim is given back, so the next minute's run tries again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import String, cast, exists, func, literal, select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.models import (
    OPEN_TASK_STATUSES,
    Appointment,
    AppointmentStatus,
    Contact,
    DoneWork,
    Task,
    User,
)
from crm.services.automation import ledger, settings
from crm.services.contacts import dashboard
from crm.services.platform import local_time, mail
from crm.services.platform.access import contact_visibility
from crm.services.platform.password_links import external_url

DIGEST_TASKS = 50  # listed in one mail; the rest are counted


@dataclass
class Reminded:
    sent: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent" + (f", {self.failed} failed" if self.failed else "")


def _send(key: str, message: mail.Mail, done: Reminded) -> None:
    """Send a claimed reminder; a refused one gives its claim back (tried again next run)."""
    try:
        mail.send(message)
    except mail.MailNotSent:
        ledger.release(key)
        done.failed += 1
    else:
        done.sent += 1


# ---- the morning digest --------------------------------------------------------------------
def digest_key(user_id: int, day: date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def _digest_users(day: date) -> list[int]:
    """Users who get a digest on `day` and have not had it."""
    done = exists().where(
        DoneWork.key
        == literal("digest:", String) + cast(User.id, String) + literal(f":{day.isoformat()}")
    )
    return list(
        db.session.scalars(
            select(User.id)
            .where(User.active.is_(True), User.task_digest.is_(True), ~done)
            .order_by(User.id)
        )
    )


def _due_count(user: User, day: date) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Task)
        .where(Task.owner_id == user.id, Task.status.in_(OPEN_TASK_STATUSES), Task.due_on <= day)
    )


def digest_for(user: User, day: date) -> mail.Mail | None:
    """The digest of `user`'s open tasks due on `day` or before; None when there are none."""
    tasks = dashboard.my_tasks(user, today=day, limit=DIGEST_TASKS)
    if not tasks:
        return None
    total = _due_count(user, day)
    overdue = sum(1 for t in tasks if t.overdue)
    due_today = len(tasks) - overdue
    lines = [f"Good morning {user.full_name or user.email},", ""]
    lines.append(
        f"You have {_count(due_today, 'task')} due today"
        + (f" and {overdue} overdue" if overdue else "")
        + (f" ({total} in all, the oldest {len(tasks)} listed)" if total > len(tasks) else "")
        + ":"
    )
    lines.append("")
    for item in tasks:
        task = item.task
        when = f"overdue since {task.due_on:%d %B}" if item.overdue else "today"
        about = ""
        if item.contact_seen and (task.contact or task.account):
            about = f" ({task.contact or task.account})"
        lines.append(f"- {task.title}{about}: {when}")
        lines.append(f"  {external_url('task.edit_view', id=str(task.id))}")
    lines += ["", f"All your tasks: {external_url('task.index_view')}", ""]
    lines.append(
        "You get this email each morning you have tasks due. To stop it, untick "
        f'"Email me my tasks every morning" on your profile: {external_url("profile.index")}'
    )
    subject = f"Your tasks for {day:%A %d %B}: {_count(due_today, 'due today')}" + (
        f", {overdue} overdue" if overdue else ""
    )
    return mail.Mail(to=[user.email], subject=subject, body="\n".join(lines) + "\n")


def _count(n: int, what: str) -> str:
    if what == "task":
        return f"{n} task{'' if n == 1 else 's'}"
    return f"{n} {what}"


def send_digests(now: datetime) -> Reminded | None:
    """Each user's digest of the office day of `now`, from the configured time on; None
    when the digest is off."""
    automation = settings.current(settings.DIGEST)
    if not automation.enabled:
        return None
    local = local_time.to_local(now)
    at = automation.send_time or settings.DEFAULTS[settings.DIGEST]["send_time"]
    done = Reminded()
    if local.time() < at:
        return done
    day = local.date()
    for user_id in _digest_users(day):
        key = digest_key(user_id, day)
        if not ledger.claim(key, now):
            continue
        user = db.session.get(User, user_id)
        message = digest_for(user, day) if user is not None else None
        db.session.rollback()  # nothing of the reading to keep
        if message is not None:
            _send(key, message, done)
    return done


# ---- appointment reminders -----------------------------------------------------------------
def reminder_key(appointment: Appointment, user_id: int) -> str:
    starts = local_time.as_utc(appointment.starts_at)
    return f"appointment-reminder:{appointment.id}:{user_id}:{starts:%Y-%m-%dT%H:%M}"


def _people(appointment: Appointment) -> list[User]:
    """The organiser and the users taking part, active, once each."""
    found: dict[int, User] = {}
    for user in [appointment.owner, *appointment.users]:
        if user is not None and user.active and user.email:
            found.setdefault(user.id, user)
    return list(found.values())


def reminder_for(appointment: Appointment, user: User) -> mail.Mail:
    """The reminder of `appointment` to `user` (the contacts named are those they see)."""
    starts = local_time.to_local(appointment.starts_at)
    ends = local_time.to_local(appointment.ends_at)
    when = f"{starts:%A %d %B %Y, %H:%M}–{ends:%H:%M}" if starts.date() == ends.date() else (
        f"{starts:%A %d %B %Y, %H:%M} – {ends:%A %d %B %Y, %H:%M}"
    )  # fmt: skip
    ids = [c.id for c in appointment.contacts]
    seen = set(
        db.session.scalars(select(Contact.id).where(Contact.id.in_(ids), contact_visibility(user)))
        if ids
        else []
    )
    people = [c.full_name for c in appointment.contacts if c.id in seen]
    people += [str(u) for u in appointment.users if u.id != user.id]
    lines = [
        f"{appointment.subject}",
        "",
        f"When: {when} ({local_time.zone_name()})",
    ]
    if appointment.place:
        lines.append(f"Where: {appointment.place}")
    if people:
        lines.append(f"With: {', '.join(people)}")
    if appointment.description:
        lines += ["", appointment.description]
    lines += ["", external_url("appointment.details_view", id=str(appointment.id)), ""]
    return mail.Mail(
        to=[user.email],
        subject=f"Reminder: {appointment.subject} at {starts:%H:%M}",
        body="\n".join(lines),
    )


def send_appointment_reminders(now: datetime) -> Reminded | None:
    """Remind the users of the scheduled appointments starting within the configured
    minutes after `now`; None when the reminders are off."""
    automation = settings.current(settings.REMINDER)
    if not automation.enabled:
        return None
    lead = automation.lead_minutes or settings.DEFAULTS[settings.REMINDER]["lead_minutes"]
    coming = list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.status == AppointmentStatus.SCHEDULED,
                Appointment.starts_at > now,
                Appointment.starts_at <= now + timedelta(minutes=lead),
            )
            .order_by(Appointment.starts_at, Appointment.id)
            .options(selectinload(Appointment.users), selectinload(Appointment.contacts))
        )
    )
    pending = [
        (appointment.id, user.id, reminder_key(appointment, user.id))
        for appointment in coming
        for user in _people(appointment)
    ]
    done = Reminded()
    for appointment_id, user_id, key in pending:
        if not ledger.claim(key, now):
            continue
        appointment = db.session.get(Appointment, appointment_id)
        user = db.session.get(User, user_id)
        if appointment is None or user is None or reminder_key(appointment, user_id) != key:
            continue  # changed meanwhile: its new time has a key of its own
        message = reminder_for(appointment, user)
        db.session.rollback()
        _send(key, message, done)
    return done
