"""Users: creation, password checks and role assignment."""

from __future__ import annotations

import re
import secrets
from functools import cache

from flask import current_app, has_app_context
from sqlalchemy import inspect, select
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from crm.auth.permissions import ADMIN, Actor, can
from crm.errors import DomainError, FieldError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import ROLE_NAMES, Role, User
from crm.models.base import utcnow
from crm.services.platform import sessions
from crm.services.platform.validation import clean_email, clean_limited

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# zxcvbn's 0-4 guessability score a password must reach: 3 is "safely unguessable:
# moderate protection from offline slow-hash scenario" (about 10^10 guesses).
MIN_PASSWORD_SCORE = 3
DEFAULT_HASH_METHOD = "scrypt"


def _hash_method() -> str:
    """Werkzeug's hash method: scrypt, unless CRM_PASSWORD_HASH_METHOD names a cheaper one
    (test suites do, to keep thousands of users fast to create)."""
    if has_app_context():
        return current_app.config.get("CRM_PASSWORD_HASH_METHOD") or DEFAULT_HASH_METHOD
    return DEFAULT_HASH_METHOD


@cache
def _dummy_hash(method: str) -> str:
    """Compared against when the email is unknown, so both paths cost the same time."""
    return generate_password_hash("not-a-real-password", method=method)


def check_password_strength(password: str, *, about: tuple[str, ...] = ()) -> None:
    """The password policy: 10 to 128 characters, and not easy to guess (zxcvbn: common
    passwords, keyboard patterns, dates, repeats, and words from `about`, such as the
    user's email and name, are found). Raises FieldError with what to change."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise FieldError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise FieldError(f"The password must have at most {MAX_PASSWORD_LENGTH} characters.")
    words = {
        word
        for value in about
        if value
        for word in (
            value.lower(),
            value.lower().split("@")[0],
            *re.split(r"[@.\s_-]+", value.lower()),
        )
        if len(word) > 2
    }
    verdict = zxcvbn(
        password[:72], user_inputs=[*sorted(words), "crm", "contacts"]
    )  # 72: its limit
    if verdict["score"] < MIN_PASSWORD_SCORE:
        feedback = verdict["feedback"]
        why = feedback.get("warning") or ""
        tips = " ".join(feedback.get("suggestions") or ["Use a few uncommon words."])
        raise FieldError(
            " ".join(p for p in ("This password is too easy to guess.", why, tips) if p)
        )


def set_password(user: User, password: str) -> None:
    check_password_strength(password, about=(user.email, user.full_name))
    user.password_hash = generate_password_hash(password, method=_hash_method())


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def ensure_roles() -> dict[str, Role]:
    """The fixed roles, created when missing."""
    existing = {r.name: r for r in db.session.scalars(select(Role))}
    for name, description in ROLE_NAMES.items():
        if name not in existing:
            existing[name] = Role(name=name, description=description)
            db.session.add(existing[name])
    return existing


def create_user(email: str, password: str, roles: list[str], full_name: str = "") -> User:
    """A new active user with the given roles; raises ValidationFailed on bad input."""
    errors: dict[str, list[str]] = {}
    try:
        email = clean_email(email) or ""
        if not email:
            raise FieldError("An email is required.")
    except FieldError as exc:
        errors["email"] = [str(exc)]
    if email and db.session.scalar(select(User).where(User.email == email)):
        errors["email"] = [f"A user with the email {email} already exists."]
    try:
        check_password_strength(password, about=(email, full_name))
    except FieldError as exc:
        errors["password"] = [str(exc)]
    try:
        full_name = clean_limited(full_name, User.__table__.c["full_name"].type.length) or ""
    except FieldError as exc:
        errors["full_name"] = [str(exc)]
    unknown = sorted(set(roles) - set(ROLE_NAMES))
    if unknown:
        errors["roles"] = [f"Unknown role(s): {', '.join(unknown)}"]
    if errors:
        raise ValidationFailed(errors)
    known = ensure_roles()
    user = User(
        email=email, full_name=full_name, active=True, roles=[known[name] for name in roles]
    )
    set_password(user, password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, else None (same answer for every failure)."""
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        check_password_hash(_dummy_hash(_hash_method()), password or "")
        return None
    if not user.password_hash or not check_password_hash(user.password_hash, password or ""):
        return None
    if not user.active:
        return None
    user.last_login_at = utcnow()
    return user


def save_user(
    actor: Actor,
    user: User,
    *,
    is_new: bool,
    new_password: str | None,
    keep_session: str | None = None,
    keep_remember: str | None = None,
) -> None:
    """Rules for a user edited in the admin: a valid unique email, a password for a new
    user, and no administrator locking themselves out. Raises ValidationFailed.

    A new password, changed roles or a deactivation end every session and remember cookie
    of the user; administrators editing themselves keep this browser's (`keep_session`,
    `keep_remember`: its session token and remember cookie)."""
    myself = user.id is not None and user.id == getattr(actor, "id", None)
    # When admins edit themselves the form has already changed their roles in memory:
    # what they may do is decided by the roles they had.
    allowed = ADMIN in _roles_before(user) if myself else can(actor, "user.manage")
    if not allowed:
        raise PermissionDenied("Only administrators may manage users.")
    errors: dict[str, list[str]] = {}
    try:
        user.email = clean_email(user.email) or ""
        if not user.email:
            raise FieldError("An email is required.")
    except FieldError as exc:
        errors["email"] = [str(exc)]
    user.full_name = (user.full_name or "").strip()[:200]
    if is_new and not new_password:
        errors["new_password"] = ["Set a password for the new user."]
    elif new_password:
        try:
            set_password(user, new_password)
        except FieldError as exc:
            errors["new_password"] = [str(exc)]
    if myself and not user.active:
        errors["active"] = ["You cannot deactivate your own account."]
    if myself and "crm_admin" not in user.role_names:
        errors["roles"] = ["You cannot remove your own Administrator (crm_admin) role."]
    if errors:
        raise ValidationFailed(errors)
    if is_new:
        return
    changed = [
        why
        for why, happened in (
            ("a new password", bool(new_password)),
            ("changed roles", user.role_names != _roles_before(user)),
            ("deactivation", not user.active),
        )
        if happened
    ]
    if changed:
        sessions.end_all(
            user,
            keep_token=keep_session if myself else None,
            keep_remember=keep_remember if myself else None,
            why=f"Signed out by {' and '.join(changed)}",
        )


def change_own_password(
    user: User,
    current: str,
    new: str,
    again: str,
    *,
    keep_session: str | None,
    keep_remember: str | None,
) -> None:
    """A signed-in user changes their own password: the current one must be right, the new
    one follow the policy. Their other sessions and remember cookies end; this browser's
    (`keep_session`, `keep_remember`) stay. Raises ValidationFailed."""
    errors: dict[str, list[str]] = {}
    if not user.password_hash or not check_password_hash(user.password_hash, current or ""):
        errors["current_password"] = ["This is not your current password."]
    if (new or "") != (again or ""):
        errors["again"] = ["The two new passwords differ."]
    elif not errors:
        try:
            set_password(user, new)
        except FieldError as exc:
            errors["new_password"] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)
    sessions.end_all(
        user,
        keep_token=keep_session,
        keep_remember=keep_remember,
        why="Password changed: the user's other sessions were ended",
    )


def _roles_before(user: User) -> set[str]:
    """The user's role names as stored, before unsaved changes to `roles`."""
    history = inspect(user).attrs["roles"].history
    if not history.has_changes():
        return user.role_names
    return {role.name for role in (*history.unchanged, *history.deleted)}


def delete_user(actor: Actor, user: User) -> None:
    if not can(actor, "user.manage"):
        raise PermissionDenied("Only administrators may manage users.")
    if user.id == getattr(actor, "id", None):
        raise DomainError("You cannot delete your own account.")
    db.session.delete(user)
    db.session.flush()


def emails_of(user_ids) -> dict[int, str]:
    """The email of each of these users (ids of deleted users are left out)."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
