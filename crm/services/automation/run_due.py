"""`run_due(now)`: everything scheduled that is due at `now`, each part on its own, so that
one part's failure is reported and the others still run. Safe to run every minute and twice
at once: each piece of work is claimed under a unique key before it is done."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm.errors import DomainError
from crm.extensions import db
from crm.models.base import utcnow
from crm.services.automation import greetings, reminders, retention
from crm.services.marketing import sending

log = logging.getLogger(__name__)


@dataclass
class Part:
    name: str
    outcome: str  # what was done, in words ("3 sent"), or why nothing was
    error: str | None = None


@dataclass
class Report:
    now: datetime
    parts: list[Part] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(part.error for part in self.parts)

    def lines(self) -> list[str]:
        return [
            f"{part.name}: " + (f"FAILED: {part.error}" if part.error else part.outcome)
            for part in self.parts
        ]


def _campaigns(now: datetime) -> str:
    return f"{sending.run_due_campaigns(now)} started or taken over"


def _said(result: Any, off: str) -> str:
    return off if result is None else str(result)


PARTS: list[tuple[str, Callable[[datetime], str]]] = [
    ("Scheduled campaigns", _campaigns),
    ("Birthday greetings", lambda now: _said(greetings.send_due(now), "off")),
    ("Morning task emails", lambda now: _said(reminders.send_digests(now), "off")),
    (
        "Appointment reminders",
        lambda now: _said(reminders.send_appointment_reminders(now), "off"),
    ),
    ("Retention", lambda now: _said(retention.sweep(now), "done earlier this hour")),
]


def run_due(now: datetime | None = None) -> Report:
    """Run every part due at `now` (default: this moment; naive means UTC). The caller
    need not commit: each part commits its own claims and results."""
    now = utcnow() if now is None else now
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    report = Report(now=now)
    for name, part in PARTS:
        try:
            outcome = part(now)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - a part's failure must not stop the others
            db.session.rollback()
            log.exception("Scheduled work %r failed", name)
            said = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
            report.parts.append(Part(name, "", error=said))
        else:
            report.parts.append(Part(name, outcome))
    return report
