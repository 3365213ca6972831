"""The automations' settings (Marketing > Automations): read with their defaults, saved with
checks (errors per field, a template's with its line) by those with `automation.manage`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from typing import Any

from sqlalchemy import select

from crm.auth.permissions import Actor, can
from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models import Automation, AutomationKind, Segment
from crm.models.base import utcnow
from crm.services.marketing import templating
from crm.services.platform import audit
from crm.services.platform import validation as v

GREETING = AutomationKind.BIRTHDAY_GREETING
DIGEST = AutomationKind.TASK_DIGEST
REMINDER = AutomationKind.APPOINTMENT_REMINDER

DEFAULT_GREETING_SUBJECT = 'Happy birthday, {{ first_name | default("friend") }}!'
DEFAULT_GREETING_BODY = (
    'Dear {{ first_name | default("friend") }},\n\n'
    "All of us wish you a very happy birthday and a wonderful year ahead.\n\n"
    'Best wishes,\n{{ owner | default("the team") }}\n'
)
# What an automation is before anyone saves it: greetings off (they need a message and
# consent to be thought about), the users' reminders on (each user may switch the digest off).
DEFAULTS: dict[AutomationKind, dict[str, Any]] = {
    GREETING: {
        "enabled": False, "subject": DEFAULT_GREETING_SUBJECT,
        "body_text": DEFAULT_GREETING_BODY, "send_time": time(9, 0),
    },
    DIGEST: {"enabled": True, "send_time": time(8, 0)},
    REMINDER: {"enabled": True, "lead_minutes": 30},
}  # fmt: skip
LEAD_MINUTES = (5, 7 * 24 * 60)  # an appointment reminder goes 5 minutes to a week before
BODY_LIMIT = 20_000
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def current(kind: AutomationKind) -> Automation:
    """The automation's saved settings, else its defaults (a row not added to the session)."""
    row = db.session.scalar(select(Automation).where(Automation.kind == kind))
    if row is not None:
        return row
    defaults = {"subject": "", "body_text": "", **DEFAULTS[kind]}
    return Automation(kind=kind, **defaults)


def all_automations() -> dict[AutomationKind, Automation]:
    """Every automation, in the page's order."""
    return {kind: current(kind) for kind in AutomationKind}


def time_text(value: time | None) -> str:
    return value.strftime("%H:%M") if value is not None else ""


def _flag(value: Any) -> bool:
    return str(value or "").strip().lower() in {"1", "y", "on", "true", "yes"}


def _time(errors: v.FieldErrors, data: Mapping[str, Any]) -> time | None:
    text = str(data.get("send_time") or "").strip()
    match = _TIME.fullmatch(text)
    if not match:
        errors.add("send_time", "Give the time of day as hours and minutes, such as 08:00.")
        return None
    return time(int(match[1]), int(match[2]))


def _lead_minutes(errors: v.FieldErrors, data: Mapping[str, Any]) -> int | None:
    text = str(data.get("lead_minutes") or "").strip()
    low, high = LEAD_MINUTES
    if not text.isdigit() or not low <= int(text) <= high:
        errors.add("lead_minutes", f"Give a number of minutes from {low} to {high:,}.")
        return None
    return int(text)


def _segment(errors: v.FieldErrors, data: Mapping[str, Any]) -> int | None:
    text = str(data.get("segment_id") or "").strip()
    if not text:
        return None  # everyone with consent
    segment = db.session.get(Segment, int(text)) if text.isdigit() else None
    if segment is None:
        errors.add("segment_id", "Choose a segment from the list (it may have been deleted).")
        return None
    return segment.id


def _template(errors: v.FieldErrors, field: str, source: str, needed: bool, missing: str) -> None:
    if not source:
        if needed:
            errors.add(field, missing)
        return
    if field not in errors.found:
        errors.check(field, templating.check, field, source)


def _greeting(errors: v.FieldErrors, data: Mapping[str, Any], enabled: bool) -> dict[str, Any]:
    subject = errors.check("subject", v.clean_limited, data.get("subject"), 200) or ""
    if "\n" in subject or "\r" in subject:
        errors.add("subject", "The subject must be a single line.")
    body = errors.check("body_text", v.clean_limited, data.get("body_text"), BODY_LIMIT) or ""
    _template(errors, "subject", subject, enabled, "Write the subject of the greeting.")
    _template(errors, "body_text", body, enabled, "Write the message of the greeting.")
    return {
        "subject": subject,
        "body_text": body,
        "send_time": _time(errors, data),
        "segment_id": _segment(errors, data),
    }


def _checked(kind: AutomationKind, data: Mapping[str, Any]) -> dict[str, Any]:
    """The automation's settings from a form's values; ValidationFailed by field."""
    errors = v.FieldErrors()
    enabled = _flag(data.get("enabled"))
    values: dict[str, Any] = {"enabled": enabled}
    if kind == GREETING:
        values |= _greeting(errors, data, enabled)
    elif kind == DIGEST:
        values["send_time"] = _time(errors, data)
    else:
        values["lead_minutes"] = _lead_minutes(errors, data)
    errors.raise_any()
    return values


def _may_manage(actor: Actor) -> None:
    if not can(actor, "automation.manage"):
        raise PermissionDenied("You may not change the automations.")


def draft(actor: Actor, kind: AutomationKind, data: Mapping[str, Any]) -> Automation:
    """The settings a form holds, checked as saving checks them, not saved (a preview)."""
    _may_manage(actor)
    values = _checked(kind, data)
    return Automation(kind=kind, updated_by_id=getattr(actor, "id", None), **values)


def save_automation(actor: Actor, kind: AutomationKind, data: Mapping[str, Any]) -> Automation:
    """Check and keep one automation's settings from a form's values (text, as posted):
    `enabled`; for greetings `subject`, `body_text` (merge fields), `send_time` (HH:MM, the
    contact's local time), `segment_id` (empty: everyone with consent); for the digest
    `send_time` (office time); for appointment reminders `lead_minutes`. ValidationFailed
    with the messages by field. Flushed, and recorded in the history."""
    _may_manage(actor)
    values = _checked(kind, data)
    row = current(kind)
    changed = {
        name: [_shown(getattr(row, name)), _shown(value)]
        for name, value in values.items()
        if getattr(row, name) != value or row.id is None
    }
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    row.updated_by_id = getattr(actor, "id", None)
    db.session.add(row)
    db.session.flush()
    if changed:
        audit.record_event(
            db.session, actor, "update", "automation",
            f"Update automation {kind.label}",
            changed, entity_id=row.id,
        )  # fmt: skip
    return row


def set_task_digest(actor: Actor, wanted: bool) -> bool:
    """Switch `actor`'s own morning task email on or off (My profile); whether it changed.
    Flushed, and recorded in the history."""
    if not can(actor, "profile.edit"):
        raise PermissionDenied("You may not change your profile.")
    if bool(actor.task_digest) == wanted:
        return False
    actor.task_digest = wanted
    db.session.flush()
    audit.record_event(
        db.session, actor, "update", "user",
        f"Update user {actor.email}",
        {"task_digest": [not wanted, wanted]}, entity_id=actor.id,
    )  # fmt: skip
    return True


def _shown(value: Any) -> Any:
    """A setting as the history keeps it (a time as HH:MM)."""
    return time_text(value) if isinstance(value, time) else value
