"""Mail: one message at a time, through the backend the configuration names.

`console` (the default) writes each message to the app's log, for development; `smtp` sends
through CRM_SMTP_HOST:CRM_SMTP_PORT (STARTTLS and a login when configured); `none` drops it.
A message that cannot be sent raises MailNotSent with the reason, for the caller to show.
`connection()` keeps one SMTP session open for many messages (a campaign's sender)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app

from crm.errors import DomainError


class MailNotSent(DomainError):
    """The mail server refused the message or could not be reached. `permanent`: the server
    refused this message for good (a 5xx answer, a refused recipient); else it may go later."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def _permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return False
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


@dataclass
class Attachment:
    filename: str
    content_type: str  # "text/calendar", "application/pdf", ...
    data: bytes
    # Content-Type parameters: {"method": "REQUEST"} for an invitation (text/calendar).
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str
    attachments: list[Attachment] = field(default_factory=list)
    reply_to: str | None = None
    html: str | None = None  # an HTML alternative to `body`
    sender: tuple[str, str] | None = None  # (name, address); None: the app's own
    headers: dict[str, str] = field(default_factory=dict)  # List-Unsubscribe, ...
    # The Message-ID to use (the caller records it before sending); None: a new one.
    message_id: str | None = None


def new_message_id() -> str:
    """A Message-ID in the app's mail domain."""
    return make_msgid(domain=current_app.config["CRM_MAIL_FROM"].rpartition("@")[2] or None)


def sends_mail() -> bool:
    """Whether messages leave this machine (the smtp backend)."""
    return current_app.config.get("CRM_MAIL_BACKEND", "console") == "smtp"


def build(mail: Mail) -> EmailMessage:
    """The message as it goes on the wire (headers, text body, attachments)."""
    config = current_app.config
    message = EmailMessage()
    sender = mail.sender or (config.get("CRM_NAME", "Contacts CRM"), config["CRM_MAIL_FROM"])
    message["From"] = formataddr(sender)
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id or new_message_id()
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.body)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        main, _, sub = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=main, subtype=sub, filename=attachment.filename,
            params=attachment.params or None,
        )  # fmt: skip
    return message


def _open_smtp() -> smtplib.SMTP:
    config = current_app.config
    server = smtplib.SMTP(
        config["CRM_SMTP_HOST"], int(config["CRM_SMTP_PORT"]),
        timeout=float(config.get("CRM_SMTP_TIMEOUT", 10)),
    )  # fmt: skip
    try:
        if config.get("CRM_SMTP_STARTTLS"):
            server.starttls(context=ssl.create_default_context())
        if config.get("CRM_SMTP_USERNAME"):
            server.login(config["CRM_SMTP_USERNAME"], config.get("CRM_SMTP_PASSWORD", ""))
    except BaseException:
        server.close()
        raise
    return server


class Connection:
    """One session with the mail server for many messages (opened on the first)."""

    def __init__(self) -> None:
        self._server: smtplib.SMTP | None = None

    def send(self, mail: Mail) -> str:
        """Send `mail`; its Message-ID. MailNotSent when the server fails (the session is
        closed then: the next message opens a new one)."""
        backend = current_app.config.get("CRM_MAIL_BACKEND", "console")
        message = build(mail)
        message_id = str(message["Message-ID"])
        if backend == "none" or not mail.to:
            return message_id
        if backend == "console":
            current_app.logger.info("Mail (console backend, not sent):\n%s", message.as_string())
            return message_id
        try:
            if self._server is None:
                self._server = _open_smtp()
            self._server.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise MailNotSent(f"The mail could not be sent: {exc}", _permanent(exc)) from None
        return message_id

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            try:
                server.quit()
            except (OSError, smtplib.SMTPException):
                server.close()


@contextmanager
def connection() -> Iterator[Connection]:
    """A Connection, closed at the end of the block."""
    opened = Connection()
    try:
        yield opened
    finally:
        opened.close()


def send(mail: Mail) -> str:
    """Send `mail` with the configured backend; its Message-ID. MailNotSent when the server
    fails."""
    with connection() as opened:
        return opened.send(mail)
