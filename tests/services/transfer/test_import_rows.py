"""Reading one row of an imported file into a contact's values."""

from __future__ import annotations

from datetime import date

import pytest

from crm.extensions import db
from crm.models import Category, ContactKind, Gender
from crm.services.transfer.importing.rows import (
    RowReader,
    country_code,
    parse_bool,
    parse_date,
    split_name,
)
from crm.services.transfer.importing.targets import Mapping


def reader(columns, types=None, headers=None, **options) -> RowReader:
    headers = headers or [f"Col {i}" for i in range(len(columns))]
    return RowReader(Mapping(columns, types or {}), headers, **options)


def test_fields_slots_and_multi_values(app, make_user):
    make_user("crm_sales", email="owner@example.com")
    assert db.session.query(Category).filter_by(name="Supplier").one()  # seeded
    row = reader(
        [
            "full_name", "email.1", "email.2", "phone.1.type", "phone.1", "address.1.street",
            "address.1.city", "address.1.country", "address.1.type", "tags", "categories",
            "owner", "birthday", "gender", "do_not_call", "account", "social.1", "ignore",
        ]
    ).read(
        [
            "Müller, Jürgen", "j@x.de ::: jm@y.de", "third@z.de", "* Mobile",
            "+49 151 1234567 ::: +49 30 123456", "Hauptstr. 1", "Berlin", "Deutschland",
            "Work", "VIP; Fair 2026, vip", "supplier", "OWNER@example.com", "31.01.1980",
            "weiblich", "ja", "Acme GmbH", "https://www.linkedin.com/in/jm-1", "whatever",
        ]
    )  # fmt: skip
    assert row.problems == []
    data = row.data
    assert (data["first_name"], data["last_name"]) == ("Jürgen", "Müller")
    assert (data["email"], data["email_secondary"]) == ("j@x.de", "jm@y.de")
    assert data["other_contacts"] == "Email: third@z.de"
    assert [(p["type"], p["number"]) for p in data["phones"]] == [
        ("Mobile", "+49 151 1234567"),
        ("Mobile", "+49 30 123456"),
    ]
    assert data["addresses"] == [
        {"street": "Hauptstr. 1", "city": "Berlin", "country": "DE", "type": "Main"}
    ]
    assert data["tags"] == ["VIP", "Fair 2026", "vip"]
    assert [c.name for c in data["categories"]] == ["Supplier"]
    assert data["owner"].email == "owner@example.com"
    assert data["birthday"] == date(1980, 1, 31)
    assert data["gender"] == Gender.FEMALE and data["do_not_call"] is True
    assert data["account"] == "Acme GmbH"  # matched to an account (or made) when stored
    assert data["social_links"] == [
        {"platform": "LinkedIn", "handle": "https://www.linkedin.com/in/jm-1"}
    ]


def test_types_come_from_the_mapping_when_no_column_gives_them(app):
    row = reader(["first_name", "last_name", "phone.1", "phone.2"], {"phone.1": "Work"}).read(
        ["Ana", "Smith", "020 7946 0000", "07400 123456"]
    )
    assert [p["type"] for p in row.data["phones"]] == ["Work", "Mobile"]


def test_problems_name_the_column(app):
    row = reader(
        ["first_name", "last_name", "owner", "birthday", "kind", "do_not_email", "categories"],
        headers=["First", "Last", "Owner", "Born", "Type", "DNE", "Cats"],
    ).read(["Ana", "Smith", "nobody@example.com", "31.02.1980", "alien", "maybe", "Nope"])
    assert row.problems == [
        ("Owner", "No active user has the email 'nobody@example.com'."),
        ("Born", "'31.02.1980' is not a date: write it as YYYY-MM-DD."),
        ("Type", "'alien' is not a contact type: write B2B or B2C."),
        ("DNE", "'maybe' is not yes or no."),
        ("Cats", "No category 'Nope' (List management > Categories)."),
    ]


def test_account_names_are_tidied_and_kinds_read(app):
    r = reader(["first_name", "last_name", "account", "kind"])
    a = r.read(["A", "B", "  Globex   Corp ", "B2B"]).data
    assert a["account"] == "Globex Corp" and a["kind"] == ContactKind.B2B


@pytest.mark.parametrize(
    "text, us, expected",
    [
        ("1980-01-31", False, date(1980, 1, 31)),
        ("31.01.1980", False, date(1980, 1, 31)),
        ("31/01/1980", False, date(1980, 1, 31)),
        ("01/31/1980", False, date(1980, 1, 31)),
        ("03/04/1980", False, date(1980, 4, 3)),
        ("03/04/1980", True, date(1980, 3, 4)),
        ("19800131", False, date(1980, 1, 31)),
        ("1980-01-31T00:00:00Z", False, date(1980, 1, 31)),
    ],
)
def test_dates(text, us, expected):
    assert parse_date(text, us_first=us) == expected


def test_small_parsers():
    assert parse_bool("Oui") is True and parse_bool("nein") is False and parse_bool("?") is None
    assert country_code("de") == "DE" and country_code("Germany") == "DE"
    assert country_code("Österreich") == "AT" and country_code("Narnia") is None
    assert split_name("Ana María López") == ("Ana María", "López")
    assert split_name("Cher") == ("", "Cher")


def test_outlooks_empty_birthday_and_googles_system_groups_are_no_values(app):
    row = reader(["first_name", "last_name", "birthday", "tags"]).read(
        ["Ana", "Smith", "0/0/00", "* myContacts ::: Friends ::: * starred"]
    )
    assert row.problems == []
    assert "birthday" not in row.data and row.data["tags"] == ["Friends"]
