"""Signing in: the password check, throttling of repeated failures, and a history entry
for every attempt.

After MAX_FAILURES_PER_EMAIL failed attempts for one email within WINDOW (since its last
successful sign-in), that email is locked until the window has passed; after
MAX_FAILURES_PER_ADDRESS failures from one client address, so is that address. The answer
is the same whether or not a user with the email exists, so the lock tells an attacker
nothing about which accounts exist; a right password does not open a locked account.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from crm.extensions import db
from crm.models import LoginAttempt, User
from crm.models.base import utcnow
from crm.services.platform import audit
from crm.services.platform.users import authenticate

MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW = timedelta(minutes=15)
KEEP = timedelta(days=1)  # attempts older than this are forgotten

WRONG = "Wrong email or password, or the account is disabled."


@dataclass
class SignInResult:
    user: User | None
    message: str = ""


def sign_in(email: str, password: str, address: str | None) -> SignInResult:
    """The user for these credentials, or why not (a message for the sign-in page)."""
    key = (email or "").strip().lower()[:254]
    address = (address or "unknown")[:64]
    now = utcnow()
    wait = max(
        throttle_wait(LoginAttempt.email, key, MAX_FAILURES_PER_EMAIL, now, per_email=True),
        throttle_wait(LoginAttempt.address, address, MAX_FAILURES_PER_ADDRESS, now),
    )
    known = db.session.scalar(select(User.id).where(User.email == key))
    if wait:
        minutes = math.ceil(wait.total_seconds() / 60)
        _history("login_refused", known, None, key, address, "Sign-in refused: too many failures")
        return SignInResult(None, f"Too many failed sign-ins. Try again in {minutes} minute(s).")
    user = authenticate(key, password)
    db.session.add(LoginAttempt(at=now, email=key, address=address, succeeded=user is not None))
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - KEEP))
    if user is None:
        _history("login_failed", known, None, key, address, "Failed sign-in")
        return SignInResult(None, WRONG)
    _history("login", user.id, user.id, key, address, "Signed in")
    return SignInResult(user)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def throttle_wait(
    column, value: str, limit: int, now: datetime, *, per_email: bool = False
) -> timedelta:
    """How long `value` (an email or an address) is locked for (zero: not locked): `limit`
    failures within WINDOW lock it (for an email, failures since its last success).
    Password reset requests (crm.services.platform.password_links) are counted here too."""
    since = now - WINDOW
    if per_email:
        success = db.session.scalar(
            select(func.max(LoginAttempt.at)).where(column == value, LoginAttempt.succeeded)
        )
        if success is not None:
            since = max(since, _aware(success))
    failures = list(
        db.session.scalars(
            select(LoginAttempt.at)
            .where(column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since)
            .order_by(LoginAttempt.at.desc())
            .limit(limit)
        )
    )
    if len(failures) < limit:
        return timedelta(0)
    return max(timedelta(0), _aware(failures[-1]) + WINDOW - now)


def _history(
    action: str, entity_id: int | None, user_id: int | None, email: str, address: str, what: str
) -> None:
    audit.record_event(
        db.session,
        (user_id, email),
        action,
        "user",
        f"{what} ({email} from {address})",
        {"address": [None, address]},
        entity_id=entity_id,
    )
