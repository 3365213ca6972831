"""vCard files (2.1, 3.0, 4.0) read into rows of our own format."""

from __future__ import annotations

import io

import pytest

from crm.services.transfer.importing.targets import own_headers
from crm.services.transfer.importing.vcard import (
    address_type,
    birthday,
    parse_cards,
    phone_type,
    split_value,
    unescape,
)
from tests.services.transfer.importing.helpers import as_records, read_fixture


def cards(text: str):
    return list(parse_cards(io.StringIO(text.replace("\n", "\r\n"))))


def test_vcard21_android_quoted_printable_and_bare_types():
    source = read_fixture("vcard21.vcf")
    assert (source.format, source.details) == ("vcard", {"versions": ["2.1"], "encoding": "utf-8"})
    assert source.summary == "vCard 2.1"
    assert source.headers == own_headers(phones=4, addresses=2, social_links=0)
    juergen, ana = as_records(source)
    assert juergen == {
        "#": "1",
        "First name": "Jürgen",
        "Last name": "Müller",
        "Contact type": "B2B",
        "Account": "Müller GmbH",
        "Department": "Geschäftsleitung",
        "Job title": "Geschäftsführer",
        "Email": "juergen@example.de",
        "Website": "https://www.mueller.example",
        "Birthday": "1975-04-23",
        # quoted-printable soft line breaks joined, =0D=0A a line break
        "Notes": "Eine lange Notiz über mehrere Zeilen, damit Android sie mit weichen "
        "Zeilenumbrüchen faltet.\nZweite Zeile: größer.",
        "Phone 1 type": "Mobile",
        "Phone 1": "+49 151 12345678",
        "Phone 2 type": "Work",
        "Phone 2": "+49 30 1234567",
        "Phone 3 type": "Home",
        "Phone 3": "030 7654321",
        "Phone 4 type": "Fax",
        "Phone 4": "+49 30 1234568",
        "Address 1 type": "Home",
        "Address 1 street": "Hauptstraße 5",
        "Address 1 city": "München",
        "Address 1 region": "Bayern",
        "Address 1 postcode": "80331",
        "Address 1 country": "Deutschland",
        "Address 2 type": "Main",
        "Address 2 street": "Industriestraße 12",
        "Address 2 street 2": "Gebäude B",
        "Address 2 city": "Berlin",
        "Address 2 postcode": "10115",
        "Address 2 country": "Deutschland",
    }
    assert ana == {
        "#": "2",
        "First name": "Ana",
        "Last name": "Smith",
        "Contact type": "B2C",
        "Email": "ana@work.example",  # the PREF one first
        "Secondary email": "ana@example.com",
        "Other contacts": "Email: ana.third@example.org",
        "Phone 1 type": "Mobile",
        "Phone 1": "+44 7400 123456",
        "Phone 2 type": "Mobile 2",
        "Phone 2": "+44 7400 654321",
        "Phone 3 type": "Other",
        "Phone 3": "+44 20 7946 0000",
    }  # the PHOTO is left out


def test_vcard30_apple_item_labels_social_profiles_and_folded_photo():
    source = read_fixture("vcard30.vcf")
    assert source.details["versions"] == ["3.0"]
    assert source.headers == own_headers(phones=3, addresses=2, social_links=2)
    jose, claire = as_records(source)
    assert jose == {
        "#": "1",
        "Title": "Dr.",
        "First name": "José",
        "Last name": "Pérez García",
        "Contact type": "B2B",
        "Account": "Acme Ibérica S.L.",
        "Job title": "Director comercial",
        "Department": "Ventas",
        "Email": "jose.perez@acme.es",
        "Secondary email": "pepe@example.es",
        "Website": "https://www.acme.es",
        "Birthday": "1980-01-31",
        "Tags": "VIP; Clientes",
        "Notes": "Conocido en la feria, Madrid 2023.\nLlamar en primavera; preguntar por el "
        "pedido.",
        "Other contacts": "Skype: jose.perez",
        "Phone 1 type": "Mobile",
        "Phone 1": "+34 612 345 678",
        "Phone 2 type": "Work",
        "Phone 2": "+34 911 234 567",
        "Phone 3 type": "Mobile 2",  # item1.X-ABLabel:_$!<Mobile>!$_
        "Phone 3": "+34 600 111 222",
        "Address 1 type": "Main",
        "Address 1 street": "Calle Mayor 5",
        "Address 1 street 2": "2º izquierda",
        "Address 1 city": "Madrid",
        "Address 1 region": "Madrid",
        "Address 1 postcode": "28013",
        "Address 1 country": "España",
        "Address 2 type": "Home",
        "Address 2 street": "Avenida de la Paz 10",
        "Address 2 city": "Sevilla",
        "Address 2 postcode": "41001",
        "Address 2 country": "España",
        "Social link 1 platform": "LinkedIn",
        "Social link 1": "http://www.linkedin.com/in/jose-perez",
        "Social link 2 platform": "X (Twitter)",
        "Social link 2": "joseperez",
    }
    assert claire == {
        "#": "2",
        "First name": "Claire",
        "Last name": "Martin",
        "Contact type": "B2C",
        "Email": "claire@example.fr",
        "Phone 1 type": "Other",  # a label of her own ("Bureau")
        "Phone 1": "+33 1 23 45 67 89",
        "Phone 2 type": "Fax",
        "Phone 2": "+33 1 23 45 67 80",
        "Address 1 type": "Home",
        "Address 1 street": "12 rue de la Paix",
        "Address 1 city": "Paris",
        "Address 1 postcode": "75002",
        "Address 1 country": "France",
        "Birthday": "--03-15",  # Apple's 1604 means "no year"
    }


def test_vcard40_quoted_types_pref_uri_phones_and_kind():
    source = read_fixture("vcard40.vcf")
    assert source.details["versions"] == ["4.0"]
    assert source.headers == own_headers(phones=2, addresses=1, social_links=0)
    assert source.row_count == 2
    anna, tom = as_records(source)
    assert anna == {
        "#": "1",
        "First name": "Anna",
        "Middle name": "Maria",
        "Last name": "Kowalska",
        "Contact type": "B2B",
        "Account": "Firma Sp. z o.o.",
        "Job title": "Kierownik projektu",
        "Email": "anna.kowalska@firma.pl",  # PREF=1
        "Secondary email": "anna@example.pl",
        "Birthday": "1980-01-31",
        "Gender": "female",
        "Time zone": "Europe/Warsaw",
        "Language": "pl",
        "Tags": "Partners; Polska",
        "Notes": "Zażółć gęślą jaźń",
        "Phone 1 type": "Work",
        "Phone 1": "+48-22-123-45-67",
        "Phone 1 extension": "12",
        "Phone 2 type": "Mobile",
        "Phone 2": "+48-601-234-567",
        "Address 1 type": "Main",
        "Address 1 street": "ul. Marszałkowska 1",
        "Address 1 city": "Warszawa",
        "Address 1 region": "mazowieckie",
        "Address 1 postcode": "00-624",
        "Address 1 country": "Polska",
        "Website": "https://github.com/akowalska",  # the first URL, whatever its host
    }  # the UID is not one of ours: no CRM id
    assert tom == {
        "#": "2",
        "Title": "Mr.",
        "First name": "Tom",
        "Last name": "O'Neil",
        "Contact type": "B2C",
        "Phone 1 type": "Home",
        "Phone 1": "+1-212-555-0100",
        "Birthday": "--04-15",  # BDAY --0415: a day without a year
    }


def test_several_versions_in_one_file():
    text = (
        "BEGIN:VCARD\nVERSION:4.0\nN:A;B;;;\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:2.1\nN:C;D;;;\nEND:VCARD\n"
    )
    from crm.services.transfer.importing.sources import read_source

    source = read_source(text.encode(), "mixed.vcf")
    assert source.details["versions"] == ["2.1", "4.0"]
    assert source.summary == "vCard 2.1, 4.0"


def test_quoted_printable_in_another_charset():
    (card,) = cards(
        "BEGIN:VCARD\nVERSION:2.1\n"
        "N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller;J=FCrgen;;;\n"
        "NOTE;QUOTED-PRINTABLE:caf=C3=A9\n"
        "END:VCARD\n"
    )
    assert (card.fields["first_name"], card.fields["last_name"]) == ("Jürgen", "Müller")
    assert card.fields["notes"] == "café"  # no CHARSET: UTF-8


def test_name_from_fn_when_n_is_missing_and_nested_cards_left_out():
    found = cards(
        "junk before\n"
        "BEGIN:VCARD\nVERSION:2.1\nFN:Ana María Pérez\n"
        "AGENT:\nBEGIN:VCARD\nVERSION:2.1\nFN:Assistant\nTEL:123\nEND:VCARD\n"
        "TEL;CELL:+34 600 000 000\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Smith\\, Ana\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Cut short\n"
    )
    assert [c.number for c in found] == [1, 2, 3]
    assert (found[0].fields["first_name"], found[0].fields["last_name"]) == ("Ana María", "Pérez")
    assert found[0].phones == [("Mobile", "+34 600 000 000", "")]  # not the agent's
    assert (found[1].fields["first_name"], found[1].fields["last_name"]) == ("Ana", "Smith")
    assert found[2].fields["last_name"] == "short"  # a card cut by the end of the file


def test_address_lines_po_box_and_unparsable_lines():
    (card,) = cards(
        "BEGIN:VCARD\nVERSION:3.0\nN:Doe;Jo;;;\n"
        "this line is not a property\n"
        "ADR;TYPE=dom,postal:PO Box 12;Suite 4;Main St 1\\nBack door;Springfield;IL;62701;USA\n"
        "ADR;TYPE=home:Postfach 7;;;Berlin;;10115;\n"
        "ADR:;;;;;;\n"
        "END:VCARD\n"
    )
    assert card.addresses == [
        {
            "type": "Other",
            "street": "Main St 1",
            "street2": "Back door, Suite 4, PO Box 12",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "USA",
        },
        {
            "type": "Home",
            "street": "Postfach 7",
            "street2": "",
            "city": "Berlin",
            "region": "",
            "postal_code": "10115",
            "country": "",
        },
    ]  # the empty ADR is left out


def test_impp_urls_and_social_profiles():
    (card,) = cards(
        "BEGIN:VCARD\nVERSION:4.0\nN:Doe;Jo;;;\n"
        "URL:https://jo.example.com\nURL:https://blog.example.com\n"
        "URL:https://www.linkedin.com/in/jo-doe\n"
        "IMPP;PREF=1:xmpp:jo@example.com\n"
        "X-SOCIALPROFILE;TYPE=facebook:https://www.facebook.com/jo.doe\n"
        "X-SOCIALPROFILE;TYPE=mastodon:https://mastodon.social/@jo\n"
        "END:VCARD\n"
    )
    assert card.fields["website"] == "https://jo.example.com"
    assert card.fields["other_contacts"] == (
        "XMPP: jo@example.com\nWebsite: https://blog.example.com"
    )
    assert card.social == [
        ("Facebook", "https://www.facebook.com/jo.doe"),
        ("mastodon", "https://mastodon.social/@jo"),  # the import asks which platform
        ("LinkedIn", "https://www.linkedin.com/in/jo-doe"),
    ]


@pytest.mark.parametrize(
    ("value", "params", "expected"),
    [
        ("1980-01-31", {}, "1980-01-31"),
        ("19800131", {}, "1980-01-31"),
        ("1980-01-31T00:00:00Z", {}, "1980-01-31"),
        ("19800131T103000", {}, "1980-01-31"),
        ("--0131", {}, "--01-31"),
        ("--01-31", {}, "--01-31"),
        ("1604-01-31", {"X-APPLE-OMIT-YEAR": ["1604"]}, "--01-31"),
        ("1980-02-30", {}, "1980-02-30"),  # not a date: the import says so
        ("31.01.1980", {}, "31.01.1980"),
        ("", {}, ""),
    ],
)
def test_birthday(value, params, expected):
    assert birthday(value, params) == expected


@pytest.mark.parametrize(
    ("types", "mobiles_before", "expected"),
    [
        ({"CELL", "VOICE", "PREF"}, 0, "Mobile"),
        ({"CELL"}, 1, "Mobile 2"),
        ({"WORK", "VOICE"}, 0, "Work"),
        ({"HOME"}, 0, "Home"),
        ({"WORK", "FAX"}, 0, "Fax"),
        ({"VOICE"}, 0, "Other"),
        ({"PAGER"}, 0, "Other"),
        (set(), 0, "Other"),
    ],
)
def test_phone_type(types, mobiles_before, expected):
    assert phone_type(types, mobiles_before) == expected


def test_address_type():
    assert [address_type(t) for t in ({"WORK", "PREF"}, {"HOME"}, {"POSTAL"}, set())] == [
        "Main",
        "Home",
        "Other",
        "Other",
    ]


def test_escapes():
    assert split_value(r"a\;b;c\,d;", ";") == [r"a\;b", r"c\,d", ""]
    assert unescape(r"one\ntwo\, three\;\\") == "one\ntwo, three;\\"


def test_a_card_as_our_export_writes_it_comes_back():
    from crm.services.transfer.importing.targets import contact_uid

    (card,) = cards(
        "BEGIN:VCARD\nVERSION:4.0\n"
        f"UID:{contact_uid(42)}\n"
        "FN:Ana Smith\nN:Smith;Ana;;Dr.;\nORG:Acme\\, Inc.;Sales\n"
        "EMAIL;PREF=1:ana@example.com\n"
        "TEL;VALUE=uri;TYPE=cell;PREF=1:tel:+447400123456\n"
        "TEL;VALUE=text;TYPE=voice:0123 ext. 7\n"
        "ADR;TYPE=work:;;Main St 1,Floor 2;London;;SW1A 1AA;United Kingdom\n"
        "GENDER:U\nTZ:UTC\nLANG:en\n"
        "X-SOCIALPROFILE;TYPE=website:https://ana.example.com/blog\n"
        "REV:20240101T000000Z\nEND:VCARD\n"
    )
    assert card.fields == {
        "crm_id": "42",
        "title": "Dr.",
        "first_name": "Ana",
        "last_name": "Smith",
        "account": "Acme, Inc.",
        "department": "Sales",
        "email": "ana@example.com",
        "gender": "unspecified",
        "timezone": "UTC",
        "language": "en",
        "kind": "B2B",
    }
    assert card.phones == [("Mobile", "+447400123456", ""), ("Other", "0123 ext. 7", "")]
    assert card.addresses == [
        {
            "type": "Main",
            "street": "Main St 1",
            "street2": "Floor 2",
            "city": "London",
            "region": "",
            "postal_code": "SW1A 1AA",
            "country": "United Kingdom",
        }
    ]
    assert card.social == [("website", "https://ana.example.com/blog")]
    (other,) = cards("BEGIN:VCARD\nUID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\nEND:VCARD\n")
    assert "crm_id" not in other.fields
