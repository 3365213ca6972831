"""Every real-world file of tests/fixtures/import imported end to end with the mapping the
app proposes, as a new user would: every row stored, none refused."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.models import Contact, DuplicateHandling, ImportJob, Phone
from crm.services.transfer.importing.jobs import create_job, start
from crm.services.transfer.importing.run import run_job
from crm.services.transfer.importing.targets import Mapping
from tests.services.transfer.importing.helpers import fixture_bytes

FILES = {  # file: contacts it holds, and the country of its numbers without a country code
    "google_contacts.csv": (3, None),
    "google_contacts_legacy.csv": (2, None),
    "outlook.csv": (2, None),
    "european_excel.csv": (3, None),  # each row's address says Deutschland or Norwegen
    "utf16.csv": (3, None),
    "utf8_bom.csv": (2, None),
    "contacts.xlsx": (3, "Germany"),  # a German list: 015112345678 is a German mobile
    "vcard21.vcf": (2, None),
    "vcard30.vcf": (2, None),
    "vcard40.vcf": (2, None),
}


def run(actor, name: str, phone_region: str | None = None) -> ImportJob:
    job = create_job(actor, fixture_bytes(name), name)
    started = start(
        actor,
        job,
        Mapping.from_json(job.mapping),
        DuplicateHandling.SKIP,
        dry_run=False,
        phone_region=phone_region,
    )
    db.session.commit()
    run_job(started.id)
    db.session.expire_all()
    return db.session.get(ImportJob, started.id)


def numbers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for last_name, e164 in db.session.execute(
        select(Contact.last_name, Phone.e164).join(Contact.phones).order_by(Phone.id)
    ):
        found.setdefault(last_name, []).append(e164)
    return found


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_fixture_imports_cleanly(manager, name):
    rows, region = FILES[name]
    job = run(manager, name, region)
    assert (job.errors, job.failed, job.message) == ([], 0, None)
    assert job.created == rows
    assert len(db.session.scalars(select(Contact)).all()) == rows


def test_local_numbers_of_a_european_excel_file_are_read_in_the_address_country(manager):
    run(manager, "european_excel.csv")
    assert numbers() == {
        "Müller": ["+4989123456", "+4915112345678", "+4989123457"],
        "Schäfer": ["+491709876543"],
    }


def test_numbers_a_spreadsheet_stored_as_digits_get_their_plus_back(manager):
    """Excel keeps +49 30 123456 typed as a number as 4930123456, and 0151... as 151...
    shown with a leading zero: the import's country reads the local ones."""
    job = run(manager, "contacts.xlsx")  # the default country (US) cannot read 015112345678
    assert job.errors == [
        {"row": 2, "field": "phone 2 number", "message": "Not a valid phone number for US (+1)."}
    ]
    db.session.query(Contact).delete()
    run(manager, "contacts.xlsx", "DE")
    assert numbers() == {
        "Müller": ["+4930123456", "+4915112345678"],
        "Smith": ["+447400123456"],
        "Ødegård": ["+4722123456"],
    }


def test_an_unknown_country_for_the_numbers_is_refused(manager):
    job = create_job(manager, fixture_bytes("utf16.csv"), "utf16.csv")
    with pytest.raises(ValidationFailed) as refused:
        start(
            manager, job, Mapping.from_json(job.mapping), DuplicateHandling.SKIP,
            dry_run=False, phone_region="Atlantis",
        )  # fmt: skip
    assert refused.value.errors == {
        "phone_region": ["Unknown country 'Atlantis'; use a country or its ISO code (e.g. DE)."]
    }


def test_birthdays_without_a_year_are_kept_as_day_and_month(manager):
    run(manager, "google_contacts.csv")
    run(manager, "vcard40.vcf")
    birthdays = dict(db.session.execute(select(Contact.last_name, Contact.birthday)).all())
    assert date(1604, 5, 17) in birthdays.values()  # Google's --05-17
    assert birthdays["O'Neil"] == date(1604, 4, 15)  # the vCard's --0415
