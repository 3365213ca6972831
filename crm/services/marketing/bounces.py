"""Bouncing addresses: `record_bounces` reads delivery status notifications (an `.eml` file, a
folder of them, or an mbox) and marks each address a permanent failure names as bouncing,
and the campaign mail that bounced as bounced. A contact whose address is bouncing gets no
campaign until the address changes (`address_bounces`, for the audience's query); its card
says so (`bouncing_on_card`).

Everything is read before anything is recorded: an unreadable file stops the run with
BounceFileError and records nothing. The caller commits."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, Exists, select

from crm.errors import DomainError
from crm.extensions import db
from crm.models import BouncingAddress, CampaignRecipient, RecipientStatus
from crm.models.base import utcnow
from crm.services.marketing.delivery_reports import Failure, parse_message, read_report
from crm.services.platform.local_time import as_utc, local_text

MBOX_START = b"From "


class BounceFileError(DomainError):
    """The bounces could not be read (nothing was recorded)."""


@dataclass
class BounceReport:
    """What a run read and did. `skipped` holds (where, why) for each message or recipient
    not counted: where is the file's name, with the message's number in an mbox."""

    files: int = 0
    messages: int = 0
    bounces: int = 0
    addresses: list[str] = field(default_factory=list)  # marked as bouncing, in reading order
    recipients: int = 0  # campaign recipients marked as bounced
    skipped: list[tuple[str, str]] = field(default_factory=list)


# ---- reading ----------------------------------------------------------------------------
def _is_mbox(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(MBOX_START)) == MBOX_START


def _messages_of_file(path: Path, name: str) -> Iterator[tuple[str, bytes]]:
    """(where, bytes) of each message in the file: an mbox's one by one, else the file."""
    if _is_mbox(path):
        box = mailbox.mbox(path, create=False)
        try:
            for number, key in enumerate(box.iterkeys(), start=1):
                yield f"{name}, message {number}", box.get_bytes(key)
        finally:
            box.close()
    else:
        yield name, path.read_bytes()


def _files(path: Path) -> list[tuple[Path, str]]:
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not found:
            raise BounceFileError(f"{path} holds no files: give an .eml file, a folder of "
                                  "them or an mbox file.")  # fmt: skip
        return [(p, p.name) for p in found]
    if not path.is_file():
        raise BounceFileError(f"{path} does not exist (or is not a file or a folder).")
    return [(path, path.name)]


def scan(path: Path) -> tuple[BounceReport, list[tuple[str, Failure]]]:
    """Read every message under `path`: the report so far and the failures found, with
    where each was read. BounceFileError when a file cannot be read, or a file given alone
    is no email at all."""
    report = BounceReport()
    failures: list[tuple[str, Failure]] = []
    files = _files(path)
    for file, name in files:
        report.files += 1
        try:
            for where, data in _messages_of_file(file, name):
                message = parse_message(data)
                if not message.keys():  # not a mail: no header line at its start
                    if len(files) == 1 and where == name:
                        raise BounceFileError(
                            f"{file} is not an email (.eml) or an mbox file: it starts with "
                            "no mail header."
                        )
                    report.skipped.append((where, "not an email: it starts with no mail header"))
                    continue
                report.messages += 1
                reading = read_report(message)
                failures.extend((where, failure) for failure in reading.failures)
                report.skipped.extend((where, why) for why in reading.skipped)
        except (OSError, mailbox.Error) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise BounceFileError(f"Could not read {file}: {reason}.") from None
    report.bounces = len(failures)
    return report, failures


# ---- recording ----------------------------------------------------------------------------
def record_bounces(path: Path | str, now: datetime | None = None) -> BounceReport:
    """Read the bounces under `path` (see `scan`), then mark each permanently failed address
    as bouncing (a new bounce adds to its count; the same bounce read again does not) and
    the campaign recipient its mail was: by the bounced mail's Message-ID when the report
    names it, else the address's latest campaign mail. Flushed, not committed."""
    now = now or utcnow()
    report, failures = scan(Path(path))
    seen: dict[str, BouncingAddress] = {}
    for where, failure in failures:
        at = min(failure.at or now, now)
        row = seen.get(failure.email) or db.session.get(BouncingAddress, failure.email)
        if row is None:
            row = BouncingAddress(email=failure.email, first_bounced_at=at, last_bounced_at=at,
                                  bounces=1, reason=failure.reason)  # fmt: skip
            db.session.add(row)
        elif at in (as_utc(row.first_bounced_at), as_utc(row.last_bounced_at)):
            report.skipped.append((where, f"{failure.email}: this bounce was recorded before"))
            seen[failure.email] = row
            continue
        else:
            row.bounces += 1
            if at >= as_utc(row.last_bounced_at):
                row.last_bounced_at, row.reason = at, failure.reason
            row.first_bounced_at = min(as_utc(row.first_bounced_at), at)
        seen[failure.email] = row
        if failure.email not in report.addresses:
            report.addresses.append(failure.email)
        report.recipients += _mark_recipients(failure, at)
    db.session.flush()
    return report


def _mark_recipients(failure: Failure, at: datetime) -> int:
    if failure.message_id:
        ids = {failure.message_id, failure.message_id.strip("<>")}
        query = select(CampaignRecipient).where(CampaignRecipient.message_id.in_(ids))
    else:
        query = (
            select(CampaignRecipient)
            .where(
                CampaignRecipient.email == failure.email,
                CampaignRecipient.status == RecipientStatus.SENT,
            )  # fmt: skip
            .order_by(CampaignRecipient.sent_at.desc(), CampaignRecipient.id.desc())
            .limit(1)
        )
    marked = 0
    for recipient in db.session.scalars(query):
        if recipient.bounced_at is None:
            recipient.bounced_at = at
            marked += 1
    return marked


# ---- asking -------------------------------------------------------------------------------
def bouncing(email: str | None) -> BouncingAddress | None:
    """The bouncing record of `email`, None when its mail does not bounce."""
    if not email or not email.strip():
        return None
    return db.session.get(BouncingAddress, email.strip().lower())


def address_bounces(column: ColumnElement[str | None]) -> Exists:
    """SQL: the address in `column` (a contact's email, stored lower case) is bouncing, e.g.
    `select(Contact).where(~address_bounces(Contact.email))`."""
    return select(BouncingAddress.email).where(BouncingAddress.email == column).exists()


def bouncing_on_card(addresses: list[str]) -> dict[str, str]:
    """For the contact card: each bouncing address of `addresses` with what its badge says on
    hover (the reason, the date, how many bounces)."""
    wanted = {a.lower() for a in addresses if a}
    if not wanted:
        return {}
    rows = db.session.scalars(select(BouncingAddress).where(BouncingAddress.email.in_(wanted)))
    return {row.email: bouncing_words(row) for row in rows}


def bouncing_words(row: BouncingAddress) -> str:
    """'Mail to this address bounces: <reason>. Last bounce 2026-11-03 10:15 (2 bounces).'"""
    times = f" ({row.bounces} bounces)" if row.bounces > 1 else ""
    reason = row.reason.rstrip(".") if row.reason else "refused by the receiving server"
    return (f"Mail to this address bounces: {reason}. Last bounce "
            f"{local_text(row.last_bounced_at)}{times}.")  # fmt: skip
