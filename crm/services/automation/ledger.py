"""The ledger of scheduled work done once (crm.models.DoneWork): a key is claimed in a
committed insert before the work is done, so a second scheduler running the same minute, or
the next minute's run, finds it claimed and does nothing. Timing plays no part."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, OperationalError

from crm.extensions import db
from crm.models import DoneWork
from crm.models.base import utcnow


def lost_race(exc: OperationalError) -> bool:
    """Whether a failed write met another scheduler's (SQLite says the database is locked
    when a writer committed since this transaction began): the work is that one's."""
    return "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower()


def claim(key: str, now: datetime | None = None) -> bool:
    """Claim `key` at `now` (the run's moment), committed: True when this run may do the
    work, False when it was claimed already (by an earlier run, or one running now)."""
    if db.session.get(DoneWork, key) is not None:
        return False
    db.session.add(DoneWork(key=key, done_at=now or utcnow()))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    except OperationalError as exc:
        db.session.rollback()
        if lost_race(exc):
            return False
        raise
    return True


def release(key: str) -> None:
    """Give a claim back (the mail server refused the message): the next run tries again."""
    db.session.rollback()
    db.session.execute(delete(DoneWork).where(DoneWork.key == key))
    db.session.commit()


def forget_before(moment: datetime) -> int:
    """Delete the claims made (by runs of a moment) before `moment`: their keys name days
    and times gone by, which no later run asks for again; how many. Flushed."""
    result = db.session.execute(delete(DoneWork).where(DoneWork.done_at < moment))
    return result.rowcount or 0
