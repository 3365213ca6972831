"""What a bounce says: the permanent failures in one delivery status notification.

The standard form is RFC 3464's `multipart/report; report-type=delivery-status` (Postfix,
Gmail, Exchange, Sendmail...): one block per recipient with its `Action`, `Status` (RFC 3463
codes) and `Diagnostic-Code`. Two older forms are read too: Exim's `X-Failed-Recipients`
header, and qmail's "This is a permanent error" text with `<address>:` lines. Only permanent
failures count (status 5.x.x): a delay or a temporary failure says nothing about the address.

Pure parsing, no database: crm.services.marketing.bounces reads the files and records."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

REASON_LENGTH = 500
_ADDRESS = re.compile(r"^[^@\s<>;,]+@[^@\s<>;,]+\.[^@\s<>;,]+$")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# An SMTP reply's code, with its enhanced code, wherever a long reply was cut into lines:
# "550-5.1.1 The email account ... 550 5.1.1 https://...".
_REPLY_CODE = re.compile(r"(?:^|\s)[245]\d\d(?:[ -]\d\.\d{1,3}\.\d{1,3})?(?=[\s-])-?")
_MAIL_SYSTEMS = ("mailer-daemon", "postmaster", "mail delivery")

# RFC 3463's codes people meet, in plain words; the others by their class (the middle digit).
STATUS_WORDS = {
    "5.0.0": "Could not be delivered",
    "5.1.0": "The address was refused",
    "5.1.1": "The mailbox does not exist",
    "5.1.2": "The domain does not exist",
    "5.1.3": "The address is not valid",
    "5.1.6": "The mailbox has moved",
    "5.1.10": "The domain accepts no mail",
    "5.2.0": "The mailbox cannot take mail",
    "5.2.1": "The mailbox is disabled",
    "5.2.2": "The mailbox is full",
    "5.2.3": "The message is too large for the mailbox",
    "5.3.4": "The message is too large",
    "5.4.1": "The receiving server refused the address",
    "5.4.4": "No mail server found for the domain",
    "5.7.0": "Refused by the receiving server's rules",
    "5.7.1": "Refused by the receiving server's rules",
    "5.7.26": "Refused: the sender's domain failed authentication",
}
CLASS_WORDS = {
    "0": "Could not be delivered",
    "1": "The address was refused",
    "2": "The mailbox cannot take mail",
    "3": "The receiving mail system failed",
    "4": "The mail could not be routed",
    "5": "The mail servers could not agree",
    "6": "The message's content was refused",
    "7": "Refused by the receiving server's rules",
}


@dataclass(frozen=True)
class Failure:
    """A permanent failure to deliver to `email` (lower case)."""

    email: str
    status: str  # "5.1.1"; "" when the report gives none
    reason: str  # in plain words, at most REASON_LENGTH characters
    at: datetime | None  # when the receiving side refused it, as the report says (UTC)
    message_id: str | None  # the Message-ID of the mail that bounced, "<...>", when named


@dataclass
class Reading:
    """What one message said: its permanent failures, and why anything else was not counted."""

    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def parse_message(data: bytes) -> Message:
    """A message from its bytes (compat32: every header kept as written, nothing refused)."""
    return email.message_from_bytes(data)


def read_report(message: Message) -> Reading:
    """The permanent failures `message` reports; a message that is no bounce at all gives
    none and one reason."""
    status_part = _delivery_status_part(message)
    if status_part is not None:
        return _from_delivery_status(message, status_part)
    failed = [a for h in message.get_all("X-Failed-Recipients", []) for a in _addresses(h)]
    if failed:
        return _from_exim(message, failed)
    text = _text_of(message)
    if _from_mail_system(message) and "this is a permanent error" in text.lower():
        return _from_qmail(message, text)
    return Reading(skipped=["not a delivery status notification (no bounce in it)"])


# ---- RFC 3464 ---------------------------------------------------------------------------
def _delivery_status_part(message: Message) -> Message | None:
    for part in message.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            return part
    return None


def _blocks(part: Message) -> list[Message]:
    """The report's field blocks: the message's own, then one per recipient."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    raw = part.get_payload(decode=True) or b""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    chunks = [chunk for chunk in re.split(r"\n\s*\n", text) if chunk.strip()]
    return [email.message_from_string(chunk) for chunk in chunks]


def _from_delivery_status(message: Message, part: Message) -> Reading:
    blocks = _blocks(part)
    reading = Reading()
    if not blocks:
        reading.skipped.append("an empty delivery report")
        return reading
    per_message, recipients = blocks[0], blocks[1:]
    if "Final-Recipient" in per_message or "Original-Recipient" in per_message:
        per_message, recipients = Message(), blocks  # a report with no per-message block
    arrived = _date(per_message.get("Arrival-Date")) or _date(message.get("Date"))
    original = _original_message_id(message)
    for block in recipients:
        address = _recipient(block.get("Final-Recipient")) or _recipient(
            block.get("Original-Recipient")
        )
        if address is None:
            reading.skipped.append("a recipient block with no address in it")
            continue
        action = (block.get("Action") or "").strip().lower()
        found = _STATUS.search(block.get("Status") or "")
        status = found.group(0) if found else ""
        if (
            action not in ("failed", "")
            or (status and not status.startswith("5"))
            or (not action and not status)
        ):
            reading.skipped.append(f"{address}: {_not_permanent(action, status)}")
            continue
        reading.failures.append(
            Failure(
                email=address,
                status=status,
                reason=plain_reason(status, _diagnostic(block.get("Diagnostic-Code"))),
                at=_date(block.get("Last-Attempt-Date")) or arrived,
                message_id=original,
            )
        )
    if not recipients:
        reading.skipped.append("a delivery report naming no recipient")
    return reading


def _not_permanent(action: str, status: str) -> str:
    code = f" ({status})" if status else ""
    if status.startswith("4") or action == "delayed":
        return f"a temporary failure{code}, not a bounce"
    if action in ("delivered", "relayed", "expanded") or status.startswith("2"):
        return f"{action or 'delivered'}{code}, not a bounce"
    return f"not a permanent failure (action {action or 'not given'}{code})"


def _recipient(value: str | None) -> str | None:
    """The address of `rfc822; someone@example.org` (other address types: None)."""
    if not value:
        return None
    kind, _, address = value.partition(";")
    if not address:
        kind, address = "rfc822", kind
    if kind.strip().lower() not in ("rfc822", "utf-8"):
        return None
    address = " ".join(address.split()).strip().strip("<>").strip().lower()
    return address if _ADDRESS.match(address) else None


def _diagnostic(value: str | None) -> str:
    """The server's words without the `smtp;` type."""
    text = " ".join((value or "").split())
    kind, sep, rest = text.partition(";")
    return rest.strip() if sep and re.fullmatch(r"[\w.-]+", kind.strip()) else text


# ---- older forms ------------------------------------------------------------------------
def _from_exim(message: Message, failed: list[str]) -> Reading:
    """Exim: `X-Failed-Recipients: a@x, b@y` and, in the text, each address indented with the
    server's answer on the indented lines below it."""
    text = _text_of(message)
    when, original = _date(message.get("Date")), _original_message_id(message)
    reading = Reading()
    for address in dict.fromkeys(failed):
        found = re.search(
            rf"^[ \t]+{re.escape(address)}[ \t]*\n((?:[ \t]+\S.*(?:\n|$))*)", text, re.M | re.I
        )
        detail = " ".join(found.group(1).split()) if found else ""
        # "host mx... [192.0.2.25] SMTP error from remote mail server after RCPT TO:<a@x>:"
        detail = re.sub(r"^.*?SMTP error from remote mail server after [^:]*(:<[^>]*>)?:\s*",
                        "", detail)  # fmt: skip
        reading.failures.extend(_failure(reading, address, detail, when, original))
    return reading


def _from_qmail(message: Message, text: str) -> Reading:
    """qmail: "This is a permanent error; I've given up." then `<address>:` and the answer."""
    when, original = _date(message.get("Date")), _original_message_id(message)
    reading = Reading()
    for found in re.finditer(r"^<([^<>\s]+@[^<>\s]+)>:[ \t]*\n((?:.*\S.*(?:\n|$))*)", text, re.M):
        address = found.group(1).strip().lower()
        reading.failures.extend(_failure(reading, address, " ".join(found.group(2).split()),
                                         when, original))  # fmt: skip
    if not reading.failures and not reading.skipped:
        reading.skipped.append("a bounce naming no address it could read")
    return reading


def _failure(reading: Reading, address: str, detail: str, when: datetime | None,
             original: str | None) -> list[Failure]:  # fmt: skip
    """The failure of a text bounce, unless the address is not one or its code is not 5.x.x."""
    if not _ADDRESS.match(address):
        reading.skipped.append(f"{address!r}: not an email address")
        return []
    found = _STATUS.search(detail)
    status = found.group(0) if found else ""
    if status and not status.startswith("5"):
        reading.skipped.append(f"{address}: {_not_permanent('', status)}")
        return []
    return [Failure(address, status, plain_reason(status, detail), when, original)]


# ---- shared -----------------------------------------------------------------------------
def plain_reason(status: str, diagnostic: str) -> str:
    """What went wrong, for people: the status code in words, then what the server said
    without its reply codes ("The mailbox does not exist (5.1.1): Recipient address
    rejected: User unknown in virtual mailbox table")."""
    detail = _REPLY_CODE.sub(" ", f" {diagnostic}")
    detail = _STATUS.sub(" ", detail) if status else detail
    detail = " ".join(detail.split())
    detail = re.sub(r"^<[^<>\s]+@[^<>\s]+>:?\s*", "", detail).strip(" :;-")
    words = STATUS_WORDS.get(status) or (CLASS_WORDS.get(status.split(".")[1]) if status else None)
    if words:
        text = f"{words} ({status})" + (f": {detail}" if detail else "")
    else:
        text = detail or "Permanent failure"
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def _addresses(header: str) -> list[str]:
    return [address.strip().lower() for _name, address in getaddresses([header]) if address]


def _from_mail_system(message: Message) -> bool:
    """Sent by a mail server, not a person: a MAILER-DAEMON or postmaster sender, or the
    empty return path of RFC 5321's notifications."""
    sender = (message.get("From") or "").lower()
    return any(name in sender for name in _MAIL_SYSTEMS) or (
        (message.get("Return-Path") or "").strip() == "<>"
    )


def _text_of(message: Message) -> str:
    """The text of the message's plain-text parts (not those of a returned message)."""
    texts: list[str] = []
    stack = [message]
    while stack:
        part = stack.pop(0)
        kind = part.get_content_type()
        if part.is_multipart() and kind.startswith("multipart/"):
            stack[:0] = [p for p in part.get_payload() if isinstance(p, Message)]
        elif kind == "text/plain":
            raw = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                texts.append(raw.decode(charset, "replace"))
            except LookupError:
                texts.append(raw.decode("utf-8", "replace"))
    return "\n".join(texts).replace("\r\n", "\n")


def _original_message_id(message: Message) -> str | None:
    """The Message-ID of the mail that bounced: from the returned message or its headers,
    else from a copy of its headers quoted in the text (Exim, qmail)."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and inner[0].get("Message-ID"):
                return _message_id(inner[0]["Message-ID"])
        elif kind in ("text/rfc822-headers", "message/global-headers"):
            raw = part.get_payload(decode=True) or b""
            found = email.message_from_bytes(raw.lstrip()).get("Message-ID")
            if found:
                return _message_id(found)
    body = _text_of(message)
    found = re.search(r"^Message-ID:\s*(<[^<>\s]+>)", body, re.M | re.I)
    return _message_id(found.group(1)) if found else None


def _message_id(value: str) -> str | None:
    text = "".join(str(value).split())
    if not text:
        return None
    return text if text.startswith("<") else f"<{text.strip('<>')}>"


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(" ".join(str(value).split()))
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
