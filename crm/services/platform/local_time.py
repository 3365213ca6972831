"""The office's time zone (setting CRM_TIMEZONE, UTC by default): appointment times are typed
and shown in it, and "today" (overdue tasks) is its date. Times are stored in UTC.

SQLite hands timezone-aware columns back without their zone: a naive datetime read from the
database is UTC (`as_utc`); a naive datetime typed in a form is office time (`from_local`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context

from crm.models.base import utcnow


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone_name() -> str:
    name = current_app.config.get("CRM_TIMEZONE") if has_app_context() else None
    return name or "UTC"


def office_zone() -> ZoneInfo:
    try:
        return _zone(zone_name())
    except (ZoneInfoNotFoundError, ValueError):  # refused at start-up (crm.config)
        return _zone("UTC")


def as_utc(value: datetime | None) -> datetime | None:
    """A stored or computed moment as an aware UTC datetime (naive: already UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def from_local(value: datetime | None) -> datetime | None:
    """A moment typed in a form (naive: office time) as an aware UTC datetime."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=office_zone())
    return value.astimezone(UTC)


def to_local(value: datetime | None) -> datetime | None:
    """A stored moment in office time (aware)."""
    moment = as_utc(value)
    return None if moment is None else moment.astimezone(office_zone())


def local_text(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored moment written in office time, e.g. '2026-11-23 14:30'."""
    moment = to_local(value)
    return "" if moment is None else moment.strftime(fmt)


def today() -> date:
    """Today's date in the office's time zone."""
    return utcnow().astimezone(office_zone()).date()
