"""Generate login (SimpleOne's action): a user account for a contact, with no roles, and a one-time
link on which that person sets a password.

The link is a password link (crm.services.platform.password_links): it expires after
CRM_PASSWORD_LINK_HOURS and works once. The mail is kept in the contact's Emails tab, without
the link."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied
from crm.extensions import db
from crm.models import Contact, ContactLogin, User
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.mail import Mail, MailNotSent, send, sends_mail
from crm.services.platform.password_links import (
    LOGIN,
    external_url,
    link_hours,
    log_link_mail,
    password_token,
)

# Kept importable from here for callers that knew them here.
__all__ = ["GeneratedLogin", "external_url", "generate_login", "login_of", "password_token"]


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
        invitation = _invitation(user, link)
        try:
            message_id = send(invitation)
        except MailNotSent as exc:
            result.mail_error = exc.message
        else:
            result.mailed = True
            log_link_mail(user.id, invitation, message_id, actor)
    return result


def _invitation(user: User, link: str) -> Mail:
    name = current_app.config.get("CRM_NAME", "Contacts CRM")
    hours = link_hours(LOGIN)
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
