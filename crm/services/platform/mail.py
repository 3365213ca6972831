"""Mail: one message at a time, through the backend the configuration names.

`console` (the default) writes each message to the app's log, for development; `smtp` sends
through CRM_SMTP_HOST:CRM_SMTP_PORT (STARTTLS and a login when configured); `none` drops it.
A message that cannot be sent raises MailNotSent with the reason, for the caller to show."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app

from crm.errors import DomainError


class MailNotSent(DomainError):
    """The mail server refused the message or could not be reached."""


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


def sends_mail() -> bool:
    """Whether messages leave this machine (the smtp backend)."""
    return current_app.config.get("CRM_MAIL_BACKEND", "console") == "smtp"


def build(mail: Mail) -> EmailMessage:
    """The message as it goes on the wire (headers, text body, attachments)."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = formataddr((config.get("CRM_NAME", "Contacts CRM"), config["CRM_MAIL_FROM"]))
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain=config["CRM_MAIL_FROM"].rpartition("@")[2] or None)
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message.set_content(mail.body)
    for attachment in mail.attachments:
        main, _, sub = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=main, subtype=sub, filename=attachment.filename,
            params=attachment.params or None,
        )  # fmt: skip
    return message


def send(mail: Mail) -> None:
    """Send `mail` with the configured backend; MailNotSent when the server fails."""
    config = current_app.config
    backend = config.get("CRM_MAIL_BACKEND", "console")
    if backend == "none" or not mail.to:
        return
    message = build(mail)
    if backend == "console":
        current_app.logger.info("Mail (console backend, not sent):\n%s", message.as_string())
        return
    try:
        with smtplib.SMTP(
            config["CRM_SMTP_HOST"], int(config["CRM_SMTP_PORT"]),
            timeout=float(config.get("CRM_SMTP_TIMEOUT", 10)),
        ) as server:  # fmt: skip
            if config.get("CRM_SMTP_STARTTLS"):
                server.starttls(context=ssl.create_default_context())
            if config.get("CRM_SMTP_USERNAME"):
                server.login(config["CRM_SMTP_USERNAME"], config.get("CRM_SMTP_PASSWORD", ""))
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailNotSent(f"The mail could not be sent: {exc}") from None
