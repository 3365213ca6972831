"""The first rows of a file as an import would store them, or why not (nothing is
kept)."""

from __future__ import annotations

from dataclasses import dataclass

from crm.auth.permissions import Actor
from crm.errors import DomainError
from crm.extensions import db
from crm.models import Contact, ImportJob
from crm.services.contacts.batch import begin_for_savepoints
from crm.services.contacts.saving import create_contact
from crm.services.platform.validation import birthday_shown
from crm.services.transfer.importing.jobs import _own, read_job_source
from crm.services.transfer.importing.run import _problems, _reader
from crm.services.transfer.importing.targets import Mapping


@dataclass
class PreviewRow:
    number: int
    values: dict[str, str]  # as they would be stored
    problems: list[tuple[str, str]]


def preview(actor: Actor, job: ImportJob, mapping: Mapping, limit: int = 10) -> list[PreviewRow]:
    """The first rows as they would be stored (names, emails, phones in E.164, addresses,
    account, tags) or why not; nothing is kept."""
    _own(actor, job)
    source = read_job_source(job)
    reader = _reader(job, mapping, source.headers)
    db.session.flush()
    begin_for_savepoints()
    shown: list[PreviewRow] = []
    for number, cells in source.rows():
        if len(shown) >= limit:
            break
        row = reader.read(cells)
        if row.problems:
            shown.append(PreviewRow(number, {}, row.problems))
            continue
        data = dict(row.data)
        tags = data.pop("tags", [])
        if "account" in data and "kind" not in data:
            data["kind"] = "b2b"
        savepoint = db.session.begin_nested()
        try:
            contact = create_contact(actor, data)
            values = _shown_values(contact, tags)
            shown.append(PreviewRow(number, values, []))
        except DomainError as exc:
            shown.append(PreviewRow(number, {}, _problems(exc)))
        finally:
            savepoint.rollback()
    return shown


PREVIEW_COLUMNS = ("Name", "Type", "Account", "Email", "Phones", "Addresses", "Tags", "Other")


def _shown_values(contact: Contact, tags: list[str]) -> dict[str, str]:
    other = [
        f"{label}: {value}"
        for label, value in (
            ("job title", contact.job_title),
            ("birthday", birthday_shown(contact.birthday)),
            ("owner", contact.owner and contact.owner.email),
            ("notes", contact.notes and contact.notes[:60]),
        )
        if value
    ]
    return {
        "Name": contact.full_name,
        "Type": contact.kind.label if contact.kind else "",
        "Account": ""
        if contact.account is None or contact.account.is_hidden
        else contact.account.name,
        "Email": ", ".join(e for e in (contact.email, contact.email_secondary) if e),
        "Phones": "; ".join(
            f"{p.phone_type.name if p.phone_type else ''} {p.display}" for p in contact.phones
        ),
        "Addresses": "; ".join(a.one_line for a in contact.addresses),
        "Tags": ", ".join(tags),
        "Other": "; ".join(other),
    }
