"""Generate login (SimpleOne's action): a user account for a contact, with no roles, and a one-time
link on which that person sets a password.

The link carries the user's id and a fingerprint of its password hash, signed with the
app's secret and dated: it expires after CRM_PASSWORD_LINK_HOURS, and once a password is
set the fingerprint no longer matches, so it works once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Contact, ContactLogin, User
from crm.services.platform import audit, sessions
from crm.services.platform import validation as v
from crm.services.platform.mail import Mail, MailNotSent, send, sends_mail
from crm.services.platform.users import set_password

_SALT = "crm-set-password"


@dataclass
class GeneratedLogin:
    user: User
    link: str
    mailed: bool  # sent to the person by mail (the smtp backend)
    mail_error: str | None = None


def login_of(contact_id: int) -> User | None:
    """The user generated for this contact, if any (the contact's "is user")."""
    return db.session.scalar(
        select(User)
        .join(ContactLogin, ContactLogin.user_id == User.id)
        .where(ContactLogin.contact_id == contact_id)
    )


def generate_login(actor: Actor, contact: Contact, email: str | None) -> GeneratedLogin:
    """A user with no roles for the contact, signing in with `email`, and the link on which
    it sets its password (mailed where mail is configured). Refused when the contact has a
    login already or a user has that email."""
    if not can(actor, "contact.generate_login"):
        raise PermissionDenied("You may not generate logins.")
    existing = login_of(contact.id)
    if existing is not None:
        raise DomainError(f"{contact} has a login already: {existing.email}.")
    errors = v.FieldErrors()
    email = errors.check("email", v.clean_email, email)
    if not email and "email" not in errors.found:
        errors.add("email", "Give the email the person will sign in with.")
    if email and db.session.scalar(select(User.id).where(User.email == email)):
        errors.add("email", f"A user with the email {email} exists already.")
    errors.raise_any()
    audit.note_actor(db.session, actor)
    # No usable password until the person sets one on the link.
    user = User(
        email=email, full_name=contact.full_name[:200], active=True, roles=[],
        password_hash=generate_password_hash(secrets.token_urlsafe(32)),
    )  # fmt: skip
    db.session.add(user)
    db.session.flush()
    db.session.add(ContactLogin(contact_id=contact.id, user_id=user.id))
    audit.record_event(
        db.session, actor, "generate_login", "user",
        f"Login {email} generated for contact {contact}",
        {"email": email, "roles": []}, entity_id=user.id, contact_id=contact.id,
    )  # fmt: skip
    link = external_url("auth.set_password", token=password_token(user))
    result = GeneratedLogin(user, link, mailed=False)
    if sends_mail():
        try:
            send(_invitation(user, link))
            result.mailed = True
        except MailNotSent as exc:
            result.mail_error = exc.message
    return result


def external_url(endpoint: str, **values: str) -> str:
    """An absolute link to a page of the app: from the request being answered, else (CLI,
    background jobs) from CRM_BASE_URL."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = urlsplit(current_app.config.get("CRM_BASE_URL") or "http://localhost")
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http"
    )
    return adapter.build(endpoint, values, force_external=True)


def _invitation(user: User, link: str) -> Mail:
    name = current_app.config.get("CRM_NAME", "Contacts CRM")
    hours = current_app.config.get("CRM_PASSWORD_LINK_HOURS", 72)
    return Mail(
        to=[user.email],
        subject=f"Your login to {name}",
        body=(
            f"Hello {user.full_name or user.email},\n\n"
            f"a login to {name} was made for you. Choose your password here (the link works "
            f"once, for {hours} hours):\n\n{link}\n\n"
            f"Then sign in with {user.email}.\n"
        ),
    )


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:20]


def password_token(user: User) -> str:
    """The signed, dated token of the user's set-password link."""
    return _serializer().dumps({"user": user.id, "hash": _fingerprint(user)})


def user_for_password_token(token: str) -> User:
    """The user whose link this is, while it works; DomainError saying why not."""
    hours = current_app.config.get("CRM_PASSWORD_LINK_HOURS", 72)
    try:
        data = _serializer().loads(token, max_age=int(hours) * 3600)
    except SignatureExpired:
        raise DomainError("This link has expired: ask for a new login link.") from None
    except BadSignature:
        raise DomainError("This link is not valid: check that it was copied whole.") from None
    user = db.session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("hash") != _fingerprint(user):
        raise DomainError("This link was used already or no longer works: sign in, or ask "
                          "for a new login link.")  # fmt: skip
    return user


def set_password_with_token(token: str, password: str, again: str) -> User:
    """Set the password of the link's user (once); ValidationFailed on the fields."""
    user = user_for_password_token(token)
    if password != again:
        raise ValidationFailed({"again": ["The two passwords differ."]})
    try:
        set_password(user, password)
    except v.FieldError as exc:
        raise ValidationFailed({"password": [str(exc)]}) from None
    sessions.end_all(user)  # whoever was signed in with the old password is not any more
    audit.record_event(
        db.session, (user.id, user.email), "set_password", "user",
        f"Password set by {user.email} on their login link", {}, entity_id=user.id,
    )  # fmt: skip
    return user
