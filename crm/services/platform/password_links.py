"""Password links: the one-time links on which a person sets a password, for a generated
login (its invitation) and for "Forgot password?" (a reset).

A link carries the user's id, a fingerprint of the password hash and what it is for, signed
with the app's secret and dated. It expires after CRM_PASSWORD_LINK_HOURS (an invitation) or
CRM_PASSWORD_RESET_HOURS (a reset); once a password is set the fingerprint no longer matches,
so every link made before stops working: each works once.

A reset is asked for with an email alone, by someone who is not signed in: the answer is the
same whether or not an active user has that email (RESET_SENT), the same work is done either
way, and the mail leaves after the answer (a slow or failing mail server says nothing about
the account). Requests are throttled per email and per client address in the sign-in
attempts table, under keys of their own so that they never count towards a sign-in lock.

A link mailed to a contact's login is kept in that contact's Emails tab, without the link
itself (whoever reads the card must not be able to use it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select, update

from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.models import ContactLogin, EmailKind, LoginAttempt, User
from crm.models.base import utcnow
from crm.services.marketing import email_log
from crm.services.platform import audit, sessions, sign_in
from crm.services.platform import validation as v
from crm.services.platform.mail import Mail, MailNotSent, send
from crm.services.platform.users import set_password

_SALT = "crm-set-password"
LOGIN, RESET = "login", "reset"  # what a link is for
DEFAULT_HOURS = {LOGIN: 72, RESET: 2}
_SETTING = {LOGIN: "CRM_PASSWORD_LINK_HOURS", RESET: "CRM_PASSWORD_RESET_HOURS"}
_LINK_NAMES = {LOGIN: "their login link", RESET: "a password reset link"}  # in the history

# Reset requests allowed within sign_in.WINDOW, per email and per client address.
MAX_RESETS_PER_EMAIL = 3
MAX_RESETS_PER_ADDRESS = 10
_RESET_KEY = "reset:"  # prefixes both keys of a reset request's row in login_attempts

RESET_SENT = (
    "If an account exists for that address, we have sent a link to choose a new password. "
    "Check your mail (and its spam folder); the link works once, for {hours}."
)


# A set-password link in a mail's text, and what the kept copy says instead.
_LINK_IN_TEXT = re.compile(r"\S+/set-password/\S+")
LINK_NOT_KEPT = "(the one-time link: not kept)"


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


def _hours_in_words(hours: int) -> str:
    return "1 hour" if hours == 1 else f"{hours} hours"


def link_hours(purpose: str = LOGIN) -> int:
    """How many hours a link made for `purpose` works."""
    return int(current_app.config.get(_SETTING[purpose], DEFAULT_HOURS[purpose]))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:20]


def password_token(user: User, purpose: str = LOGIN) -> str:
    """The signed, dated token of the user's set-password link."""
    return _token(user.id, user.password_hash, purpose)


def _token(user_id: int, password_hash: str, purpose: str) -> str:
    data: dict[str, object] = {"user": user_id, "hash": _fingerprint(password_hash)}
    if purpose != LOGIN:  # an invitation's token has no purpose (links already mailed work)
        data["for"] = purpose
    return _serializer().dumps(data)


def user_for_password_token(token: str) -> User:
    """The user whose link this is, while it works; DomainError saying why not."""
    return _open(token)[0]


def _open(token: str) -> tuple[User, str]:
    """The link's user and what the link is for; DomainError when it does not work."""
    try:
        data, signed_at = _serializer().loads(token, return_timestamp=True)
    except BadSignature:
        raise DomainError("This link is not valid: check that it was copied whole.") from None
    purpose = data.get("for", LOGIN) if isinstance(data, dict) else None
    if purpose not in _SETTING:
        raise DomainError("This link is not valid: check that it was copied whole.")
    ask_again = (
        "ask for a new one with “Forgot password?” on the sign-in page"
        if purpose == RESET
        else "ask for a new login link"
    )
    if time.time() - signed_at.timestamp() > link_hours(purpose) * 3600:  # itsdangerous' clock
        raise DomainError(f"This link has expired: {ask_again}.")
    user = db.session.get(User, data.get("user"))
    if user is None or not user.active or data.get("hash") != _fingerprint(user.password_hash):
        raise DomainError(
            f"This link was used already or no longer works: sign in, or {ask_again}."
        )
    return user, purpose


def set_password_with_token(token: str, password: str, again: str) -> User:
    """Set the password of the link's user (once); ValidationFailed on the fields."""
    user, purpose = _open(token)
    if password != again:
        raise ValidationFailed({"again": ["The two passwords differ."]})
    old_hash = user.password_hash
    try:
        set_password(user, password)
    except v.FieldError as exc:
        raise ValidationFailed({"password": [str(exc)]}) from None
    # Once only, also when the link is used twice at the same moment (two tabs): the hash
    # is replaced only if it is still the one the link was made from.
    with db.session.no_autoflush:  # the user's new hash is not written before this check
        replaced = db.session.execute(
            update(User)
            .where(User.id == user.id, User.password_hash == old_hash)
            .values(password_hash=user.password_hash)
            .execution_options(synchronize_session=False)
        ).rowcount
    if replaced != 1:
        raise DomainError(
            "This link was used already or no longer works: sign in, or ask for a new one."
        )
    sessions.end_all(user)  # whoever was signed in with the old password is not any more
    audit.record_event(
        db.session, (user.id, user.email), "set_password", "user",
        f"Password set by {user.email} on {_LINK_NAMES[purpose]}", {}, entity_id=user.id,
    )  # fmt: skip
    return user


@dataclass
class ResetRequest:
    """What to answer, and the mail to send once the answer's transaction is committed."""

    message: str
    refused: bool = False  # too many requests: nothing was done
    mail: Mail | None = None


def request_password_reset(email: str, address: str | None) -> ResetRequest:
    """Someone asks for a new password for `email`: a reset link is prepared for an active
    user with that email, nothing for anyone else, and the answer is the same either way.
    Throttled per email and per address (the same answer too); every request is in the
    history. The boundary commits, answers, then hands `mail` to `send_after_answer`."""
    key = (email or "").strip().lower()[: 254 - len(_RESET_KEY)]
    address = (address or "unknown")[: 64 - len(_RESET_KEY)]
    now = utcnow()
    wait = max(
        sign_in.throttle_wait(LoginAttempt.email, _RESET_KEY + key, MAX_RESETS_PER_EMAIL, now),
        sign_in.throttle_wait(
            LoginAttempt.address, _RESET_KEY + address, MAX_RESETS_PER_ADDRESS, now
        ),
    )
    user = db.session.scalar(select(User).where(User.email == key))
    known = user.id if user is not None else None
    if wait:
        minutes = math.ceil(wait.total_seconds() / 60)
        _history("reset_refused", known, key, address,
                 "Password reset refused: too many requests")  # fmt: skip
        return ResetRequest(
            f"Too many requests for a new password. Try again in {minutes} minute(s).",
            refused=True,
        )
    db.session.add(
        LoginAttempt(at=now, email=_RESET_KEY + key, address=_RESET_KEY + address, succeeded=False)
    )
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - sign_in.KEEP))
    subject = user if user is not None and user.active else None
    # The same work whether or not the user exists: a link is signed either way.
    if subject is not None:
        token = _token(subject.id, subject.password_hash, RESET)
    else:
        token = _token(0, secrets.token_hex(32), RESET)
    link = external_url("auth.set_password", token=token)
    if subject is None:
        _history("password_reset", known, key, address,
                 "Password reset asked for, no mail: no active user has this email")  # fmt: skip
        return ResetRequest(RESET_SENT.format(hours=_hours_in_words(link_hours(RESET))))
    _history("password_reset", known, key, address, "Password reset link mailed")
    return ResetRequest(
        RESET_SENT.format(hours=_hours_in_words(link_hours(RESET))), mail=_reset_mail(user, link)
    )


def _reset_mail(user: User, link: str) -> Mail:
    name = current_app.config.get("CRM_NAME", "Contacts CRM")
    hours = _hours_in_words(link_hours(RESET))
    return Mail(
        to=[user.email],
        subject=f"A new password for {name}",
        body=(
            f"Hello {user.full_name or user.email},\n\n"
            f"someone (we hope you) asked for a new password for {user.email} on {name}. "
            f"Choose it here (the link works once, for {hours}):\n\n{link}\n\n"
            "Choosing it signs out every browser signed in with the old password. If you did "
            "not ask for this, ignore this mail: your password stays as it is.\n"
        ),
    )


def send_after_answer(mail: Mail | None) -> None:
    """Send `mail` from a thread of its own, so that the answer leaves at once: its time and
    a failure of the mail server are the same for a known and an unknown email. A failure
    is written to the app's log (telling the requester would tell them the account exists)."""
    if mail is None:
        return
    app = current_app._get_current_object()
    thread = threading.Thread(
        target=_send_in_app, args=(app, mail), name="crm-reset-mail", daemon=False
    )
    with _threads_lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()


_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


def wait_for_mail(timeout: float = 30.0) -> None:
    """Wait for the mails this process is sending after an answer (a test's end, before its
    database goes: the thread writes the mail to the contact's Emails tab)."""
    with _threads_lock:
        pending = list(_threads)
        _threads.clear()
    for thread in pending:
        thread.join(timeout)


def _send_in_app(app: Flask, mail: Mail) -> None:
    with app.app_context():
        started = time.monotonic()
        try:
            message_id = send(mail)
        except MailNotSent as exc:
            app.logger.warning("Password reset mail to %s not sent: %s", mail.to[0], exc.message)
        except Exception:  # a thread's error would otherwise vanish into stderr
            app.logger.exception("Password reset mail to %s not sent", mail.to[0])
        else:
            app.logger.info(
                "Password reset mail sent to %s (%.1f s)", mail.to[0], time.monotonic() - started
            )
            try:
                user_id = db.session.scalar(select(User.id).where(User.email == mail.to[0]))
                if user_id is not None and log_link_mail(user_id, mail, message_id):
                    db.session.commit()
            except Exception:
                db.session.rollback()
                app.logger.exception("Password reset mail to %s not kept", mail.to[0])
            finally:
                db.session.remove()  # this thread's connection goes back to the pool now


def kept_copy(mail: Mail) -> Mail:
    """The mail as the contact's Emails tab keeps it: the set-password link left out."""
    return dataclasses.replace(mail, body=_LINK_IN_TEXT.sub(LINK_NOT_KEPT, mail.body))


def log_link_mail(user_id: int, mail: Mail, message_id: str, actor=None) -> bool:
    """Keep a password link mailed to a user (without the link) in the Emails tab of the
    contact whose login it is; False (nothing kept) for a user who is no contact's login.
    Flushed."""
    contact_id = db.session.scalar(
        select(ContactLogin.contact_id).where(ContactLogin.user_id == user_id)
    )
    if contact_id is None:
        return False
    email_log.record(EmailKind.PASSWORD_LINK, contact_id, mail.to[0], kept_copy(mail),
                     message_id=message_id, actor=actor)  # fmt: skip
    return True


def _history(action: str, entity_id: int | None, email: str, address: str, what: str) -> None:
    audit.record_event(
        db.session,
        (None, email),
        action,
        "user",
        f"{what} ({email} from {address})",
        {"address": [None, address]},
        entity_id=entity_id,
    )
