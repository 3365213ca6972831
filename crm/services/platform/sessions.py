"""Signed-in sessions kept on the server, so that they can be ended.

A browser holds a random session token in its signed session cookie and, when the user ticked
"Keep me signed in", a remember cookie `selector:validator`. The database holds only their
SHA-256 hashes (crm.models.user_session). A session is valid while its row exists, its user is
active and it has been used within `CRM_SESSION_IDLE_MINUTES`; a remember cookie while its row
exists and has not expired (`CRM_REMEMBER_DAYS`, counted from the sign-in, not extended by use).

What ends them:
- signing out: that session and that browser's remember cookie;
- "Sign out everywhere", an administrator's password reset, role change or deactivation, a
  password set through a one-time link: all of the user's sessions and remember cookies;
- changing one's own password: all of them but the current browser's.

A remember cookie is replaced by a new one each time it starts a session. The replaced one
keeps working for ROTATION_GRACE (a browser that opens several pages at once sends it with
each); presented after that, it was copied: every session and remember cookie of the user
then ends, the thief's included.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import delete, select, update
from sqlalchemy.orm import joinedload

from crm.extensions import db
from crm.models import RememberToken, User, UserSession
from crm.models.base import utcnow
from crm.services.platform import audit

DEFAULT_IDLE_MINUTES = 12 * 60
DEFAULT_REMEMBER_DAYS = 30
TOUCH_EVERY = timedelta(minutes=1)  # how often `last_seen_at` is written, at most
ROTATION_GRACE = timedelta(seconds=30)
_REMEMBER_SHAPE = re.compile(r"^([A-Za-z0-9_-]{22}):([A-Za-z0-9_-]{43})$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _setting(name: str, default: int) -> int:
    if has_app_context():
        return int(current_app.config.get(name) or default)
    return default


def idle_limit() -> timedelta:
    """How long a session may go unused before it ends."""
    return timedelta(minutes=_setting("CRM_SESSION_IDLE_MINUTES", DEFAULT_IDLE_MINUTES))


def remember_period() -> timedelta:
    """How long "Keep me signed in" keeps a browser signed in."""
    return timedelta(days=_setting("CRM_REMEMBER_DAYS", DEFAULT_REMEMBER_DAYS))


def start(user: User, *, address: str | None, user_agent: str | None, remembered=False) -> str:
    """A new session for `user`; returns its token (for the session cookie, never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=_hash(token),
            created_at=now,
            last_seen_at=now,
            address=(address or "")[:64],
            user_agent=(user_agent or "")[:200],
            remembered=remembered,
        )
    )
    db.session.flush()
    return token


def find(token: str | None) -> UserSession | None:
    """The live session of this token (its active user loaded), else None."""
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    found = db.session.scalar(
        select(UserSession)
        .options(joinedload(UserSession.user))
        .where(UserSession.token_hash == _hash(token))
    )
    if found is None or not found.user.active:
        return None
    if _aware(found.last_seen_at) < utcnow() - idle_limit():
        return None
    return found


def touch_due(found: UserSession) -> bool:
    """Mark the session used now when its last mark is older than TOUCH_EVERY (written
    rarely: a page view does not become a write). True when the caller should commit."""
    now = utcnow()
    if now - _aware(found.last_seen_at) < TOUCH_EVERY:
        return False
    # A statement, not the loaded row: the session may end in another request meanwhile
    # (Sign out everywhere), and an update of a row gone would be an error, not a no-op.
    db.session.execute(
        update(UserSession).where(UserSession.id == found.id).values(last_seen_at=now)
    )
    return True


def end(token: str | None) -> None:
    """End one session (signing out)."""
    if token and isinstance(token, str):
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))


def end_by_id(user: User, session_id: int) -> bool:
    """End one of `user`'s own sessions (from the list on their account page)."""
    result = db.session.execute(
        delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
    )
    return bool(result.rowcount)


def end_all(
    user: User | int,
    *,
    keep_token: str | None = None,
    keep_remember: str | None = None,
    why: str = "",
) -> int:
    """End every session and remember cookie of the user, but the session of `keep_token` and
    the remember cookie `keep_remember` (the browser making the change). Returns how many
    sessions ended; with `why`, the user's history says so."""
    user_id = user if isinstance(user, int) else user.id
    sessions = delete(UserSession).where(UserSession.user_id == user_id)
    if keep_token:
        sessions = sessions.where(UserSession.token_hash != _hash(keep_token))
    ended = db.session.execute(sessions).rowcount or 0
    remembered = delete(RememberToken).where(RememberToken.user_id == user_id)
    kept = _REMEMBER_SHAPE.match(keep_remember or "")
    if kept:
        family = select(RememberToken.family).where(RememberToken.selector == kept.group(1))
        remembered = remembered.where(RememberToken.family.not_in(family))
    db.session.execute(remembered)
    if why:
        audit.record_event(db.session, None, "sessions_ended", "user", why, {}, entity_id=user_id)
    return ended


def remember(user: User, expires_at: datetime | None = None, family: str | None = None) -> str:
    """A new remember cookie value for `user` (shown to the browser once, stored hashed);
    `expires_at` and `family` are carried over from the cookie it replaces."""
    selector = secrets.token_urlsafe(16)
    validator = secrets.token_urlsafe(32)
    db.session.add(
        RememberToken(
            user_id=user.id,
            selector=selector,
            family=family or selector,
            validator_hash=_hash(validator),
            created_at=utcnow(),
            expires_at=expires_at or utcnow() + remember_period(),
        )
    )
    db.session.flush()
    return f"{selector}:{validator}"


def forget(cookie: str | None) -> None:
    """End the remember cookie of this browser (signing out): this cookie and those it
    replaced."""
    shape = _REMEMBER_SHAPE.match(cookie or "")
    if shape:
        family = select(RememberToken.family).where(RememberToken.selector == shape.group(1))
        db.session.execute(delete(RememberToken).where(RememberToken.family.in_(family)))


@dataclass
class Resumed:
    """A session started from a remember cookie: its token, and the cookie that replaces the
    one used (None when the used one was already replaced a moment ago, within the grace)."""

    user: User
    token: str
    cookie: str | None
    expires_at: datetime


def resume(cookie: str | None, *, address: str | None, user_agent: str | None) -> Resumed | None:
    """Start a session from a remember cookie, or None when the cookie is not (or no longer)
    valid. A cookie replaced longer than ROTATION_GRACE ago was copied: the user's sessions
    and remember cookies all end."""
    shape = _REMEMBER_SHAPE.match(cookie or "")
    if not shape:
        return None
    selector, validator = shape.groups()
    found = db.session.scalar(
        select(RememberToken).where(RememberToken.selector == selector).with_for_update()
    )
    if found is None or not hmac.compare_digest(found.validator_hash, _hash(validator)):
        return None
    now = utcnow()
    expires_at = _aware(found.expires_at)
    user = db.session.get(User, found.user_id)
    if expires_at <= now or user is None or not user.active:
        db.session.delete(found)
        return None
    new_cookie = None
    if found.replaced_at is None:
        found.replaced_at = now
        new_cookie = remember(user, expires_at, found.family)
    elif now - _aware(found.replaced_at) > ROTATION_GRACE:
        end_all(
            user,
            why="A used 'Keep me signed in' cookie was presented again (copied?): every "
            "session of this user was ended",
        )
        return None
    token = start(user, address=address, user_agent=user_agent, remembered=True)
    return Resumed(user, token, new_cookie, expires_at)


def live_sessions(user: User) -> list[UserSession]:
    """The user's sessions that have not ended, the most recently used first."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.last_seen_at >= utcnow() - idle_limit(),
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
            .limit(100)
        )
    )


def purge_expired() -> None:
    """Forget sessions idle past the limit and remember tokens past their expiry (called at
    each sign-in: cheap, indexed). Replaced tokens are kept until then: presented again, they
    tell a copied cookie."""
    now = utcnow()
    db.session.execute(delete(UserSession).where(UserSession.last_seen_at < now - idle_limit()))
    db.session.execute(delete(RememberToken).where(RememberToken.expires_at < now))
