"""Known column sets recognised by their headers, and mappings guessed for other files."""

from __future__ import annotations

import pytest

from crm.services.transfer.importing.column_sets import guess_mapping, recognise
from crm.services.transfer.importing.targets import Mapping, own_headers, own_targets
from tests.services.transfer.importing.helpers import read_fixture


def mapped(headers: list[str], mapping: Mapping) -> dict[str, str]:
    """{header: target} for the columns that are not ignored."""
    return {h: t for h, t in zip(headers, mapping.columns, strict=True) if t != "ignore"}


GOOGLE_MAPPED = {
    "First Name": "first_name",
    "Middle Name": "middle_name",
    "Last Name": "last_name",
    "Name Prefix": "title",
    "Organization Name": "account",
    "Organization Title": "job_title",
    "Organization Department": "department",
    "Birthday": "birthday",
    "Notes": "notes",
    "Labels": "tags",
    "E-mail 1 - Label": "email.1.type",
    "E-mail 1 - Value": "email.1",
    "E-mail 2 - Label": "email.2.type",
    "E-mail 2 - Value": "email.2",
    "Phone 1 - Label": "phone.1.type",
    "Phone 1 - Value": "phone.1",
    "Phone 2 - Label": "phone.2.type",
    "Phone 2 - Value": "phone.2",
    "Address 1 - Label": "address.1.type",
    "Address 1 - Formatted": "address.1.formatted",
    "Address 1 - Street": "address.1.street",
    "Address 1 - City": "address.1.city",
    "Address 1 - Region": "address.1.region",
    "Address 1 - Postal Code": "address.1.postal_code",
    "Address 1 - Country": "address.1.country",
    "Address 1 - Extended Address": "address.1.street2",
    "Website 1 - Value": "website",
}


def test_google_contacts():
    headers = read_fixture("google_contacts.csv").headers
    found = recognise(headers)
    assert found is not None and found.name == "Google Contacts"
    assert mapped(headers, found.mapping) == GOOGLE_MAPPED
    assert found.mapping.types == {}  # the label columns give the types
    assert len(found.mapping.columns) == len(headers)


def test_google_contacts_tolerates_order_case_spaces_and_a_few_columns():
    headers = read_fixture("google_contacts.csv").headers
    changed = (
        [" first name ", "LAST NAME"]
        + [h for h in reversed(headers) if h not in ("First Name", "Last Name", "Photo", "File As")]
        + ["Phone 3 - Label", "Phone 3 - Value", "Custom Field 1 - Value", "Something new"]
    )
    found = recognise(changed)
    assert found is not None and found.name == "Google Contacts"
    result = mapped(changed, found.mapping)
    assert result[" first name "] == "first_name" and result["LAST NAME"] == "last_name"
    assert (result["Phone 3 - Label"], result["Phone 3 - Value"]) == ("phone.3.type", "phone.3")
    assert "Something new" not in result and "Custom Field 1 - Value" not in result


def test_google_contacts_legacy():
    headers = read_fixture("google_contacts_legacy.csv").headers
    found = recognise(headers)
    assert found is not None and found.name == "Google Contacts (older export)"
    assert mapped(headers, found.mapping) == {
        "Name": "full_name",
        "Given Name": "first_name",
        "Additional Name": "middle_name",
        "Family Name": "last_name",
        "Name Prefix": "title",
        "Birthday": "birthday",
        "Gender": "gender",
        "Notes": "notes",
        "Language": "language",
        "Group Membership": "tags",
        "E-mail 1 - Type": "email.1.type",
        "E-mail 1 - Value": "email.1",
        "E-mail 2 - Type": "email.2.type",
        "E-mail 2 - Value": "email.2",
        "Phone 1 - Type": "phone.1.type",
        "Phone 1 - Value": "phone.1",
        "Phone 2 - Type": "phone.2.type",
        "Phone 2 - Value": "phone.2",
        "Address 1 - Type": "address.1.type",
        "Address 1 - Formatted": "address.1.formatted",
        "Address 1 - Street": "address.1.street",
        "Address 1 - City": "address.1.city",
        "Address 1 - Region": "address.1.region",
        "Address 1 - Postal Code": "address.1.postal_code",
        "Address 1 - Country": "address.1.country",
        "Address 1 - Extended Address": "address.1.street2",
        "Organization 1 - Name": "account",
        "Organization 1 - Title": "job_title",
        "Organization 1 - Department": "department",
        "Website 1 - Value": "website",
    }


def test_outlook():
    headers = read_fixture("outlook.csv").headers
    found = recognise(headers)
    assert found is not None and found.name == "Outlook"
    result = mapped(headers, found.mapping)
    assert {h: result[h] for h in ("Title", "Job Title", "Company", "Categories")} == {
        "Title": "title",  # the courtesy title
        "Job Title": "job_title",
        "Company": "account",
        "Categories": "tags",
    }
    assert "Account" not in result  # Outlook's "Account" is not the company
    assert [result[h] for h in ("E-mail Address", "E-mail 2 Address", "E-mail 3 Address")] == [
        "email.1",
        "email.2",
        "email.3",
    ]
    phones = {h: t for h, t in result.items() if t.startswith("phone.")}
    assert phones == {
        "Business Phone": "phone.1",
        "Mobile Phone": "phone.2",
        "Home Phone": "phone.3",
        "Business Phone 2": "phone.4",
        "Home Phone 2": "phone.5",
        "Company Main Phone": "phone.6",
        "Primary Phone": "phone.7",
        "Other Phone": "phone.8",
        "Business Fax": "phone.9",
        "Home Fax": "phone.10",
        "Other Fax": "phone.11",
        "Car Phone": "phone.12",
        "Assistant's Phone": "phone.13",
        "Callback": "phone.14",
        "Pager": "phone.15",
        "Radio Phone": "phone.16",
        "ISDN": "phone.17",
        "TTY/TDD Phone": "phone.18",
    }  # Telex is not a phone
    addresses = {h: t for h, t in result.items() if t.startswith("address.")}
    assert addresses == {
        "Business Street": "address.1.street",
        "Business Street 2": "address.1.street2",
        "Business City": "address.1.city",
        "Business State": "address.1.region",
        "Business Postal Code": "address.1.postal_code",
        "Business Country/Region": "address.1.country",
        "Home Street": "address.2.street",
        "Home Street 2": "address.2.street2",
        "Home City": "address.2.city",
        "Home State": "address.2.region",
        "Home Postal Code": "address.2.postal_code",
        "Home Country/Region": "address.2.country",
        "Other Street": "address.3.street",
        "Other Street 2": "address.3.street2",
        "Other City": "address.3.city",
        "Other State": "address.3.region",
        "Other Postal Code": "address.3.postal_code",
        "Other Country/Region": "address.3.country",
    }
    types = found.mapping.types
    assert [types[f"phone.{n}"] for n in range(1, 12)] == [
        "Work", "Mobile", "Home", "Work", "Home", "Work", "Other", "Other", "Fax", "Fax", "Fax",
    ]  # fmt: skip
    assert [types[f"address.{n}"] for n in (1, 2, 3)] == ["Main", "Home", "Other"]


def test_outlook_com_export_with_fewer_columns_in_another_order():
    headers = [
        "First Name", "Middle Name", "Last Name", "Title", "Suffix", "Nickname", "Given Yomi",
        "Surname Yomi", "E-mail Address", "E-mail 2 Address", "E-mail 3 Address", "Home Phone",
        "Home Phone 2", "Business Phone", "Business Phone 2", "Mobile Phone", "Car Phone",
        "Other Phone", "Primary Phone", "Pager", "Business Fax", "Home Fax", "Other Fax",
        "Company Main Phone", "Callback", "Radio Phone", "Telex", "TTY/TDD Phone", "IMAddress",
        "Job Title", "Department", "Company", "Office Location", "Manager's Name",
        "Assistant's Name", "Assistant's Phone", "Company Yomi", "Business Street",
        "Business City", "Business State", "Business Postal Code", "Business Country/Region",
        "Home Street", "Home City", "Home State", "Home Postal Code", "Home Country/Region",
        "Other Street", "Other City", "Other State", "Other Postal Code", "Other Country/Region",
        "Personal Web Page", "Spouse", "Schools", "Hobby", "Location", "Web Page", "Birthday",
        "Anniversary", "Notes",
    ]  # fmt: skip
    found = recognise(headers)
    assert found is not None and found.name == "Outlook"
    result = mapped(headers, found.mapping)
    assert (result["Home Phone"], result["Business Phone"], result["Mobile Phone"]) == (
        "phone.3",
        "phone.1",
        "phone.2",
    )
    assert (result["Home City"], result["Business City"]) == ("address.2.city", "address.1.city")


def test_our_own_export():
    headers = own_headers(phones=2, addresses=1, social_links=1)
    found = recognise(headers)
    assert found is not None and found.name == "Contacts CRM export"
    assert found.mapping.columns == own_targets(2, 1, 1)


def test_our_own_export_reordered_with_a_column_added_in_a_spreadsheet():
    headers = own_headers(phones=1, addresses=0, social_links=0)
    changed = ["  LAST NAME", "first name"] + headers[::-1][2:] + ["Sales region"]
    changed.remove("Last name")
    changed.remove("First name")
    found = recognise(changed)
    assert found is not None and found.name == "Contacts CRM export"
    result = dict(zip(changed, found.mapping.columns, strict=True))
    assert result["  LAST NAME"] == "last_name" and result["first name"] == "first_name"
    assert result["Phone 1 type"] == "phone.1.type" and result["CRM id"] == "crm_id"
    assert result["Sales region"] == "ignore"


def test_a_plain_file_is_not_a_known_set():
    assert recognise(["First name", "Last name", "Email"]) is None
    assert recognise(["Vorname", "Nachname", "E-Mail", "Telefon"]) is None
    assert recognise(["First Name", "Last Name", "Notes", "Birthday", "Something"]) is None
    assert recognise([]) is None


# ---- guessing ---------------------------------------------------------------------------------
def test_guess_german_european_excel():
    headers = read_fixture("european_excel.csv").headers
    assert recognise(headers) is None
    mapping = guess_mapping(headers)
    assert mapping.columns == [
        "title", "first_name", "last_name", "account", "job_title", "address.1.street",
        "address.1.postal_code", "address.1.city", "address.1.country", "phone.1", "phone.2",
        "phone.3", "email", "birthday", "notes",
    ]  # fmt: skip
    assert mapping.types == {"phone.1": "Work", "phone.2": "Mobile", "phone.3": "Fax"}


def test_guess_german_outlook_headers():
    headers = [
        "Anrede", "Vorname", "Weitere Vornamen", "Nachname", "Firma", "Abteilung", "Position",
        "Straße geschäftlich", "Ort geschäftlich", "Postleitzahl geschäftlich",
        "Land/Region geschäftlich", "Straße privat", "Ort privat", "Postleitzahl privat",
        "Telefon geschäftlich", "Telefon geschäftlich 2", "Mobiltelefon", "Telefon privat",
        "Fax geschäftlich", "E-Mail-Adresse", "E-Mail 2: Adresse", "Notizen", "Geburtstag",
        "Webseite", "Kategorien", "Schlagwörter",
    ]  # fmt: skip
    mapping = guess_mapping(headers)
    assert mapping.columns == [
        "title", "first_name", "middle_name", "last_name", "account", "department", "job_title",
        "address.1.street", "address.1.city", "address.1.postal_code", "address.1.country",
        "address.2.street", "address.2.city", "address.2.postal_code",
        "phone.1", "phone.2", "phone.3", "phone.4", "phone.5", "email", "email_secondary",
        "notes", "birthday", "website", "categories", "tags",
    ]  # fmt: skip
    assert mapping.types == {
        "address.1": "Main",
        "address.2": "Home",
        "phone.1": "Work",
        "phone.2": "Work",
        "phone.3": "Mobile",
        "phone.4": "Home",
        "phone.5": "Fax",
    }


def test_guess_french():
    headers = [
        "Civilité", "Prénom", "Nom", "Société", "Poste", "Adresse", "Code postal", "Ville",
        "Pays", "Téléphone", "Portable", "Courriel", "Date de naissance", "Remarques",
    ]  # fmt: skip
    mapping = guess_mapping(headers)
    assert mapping.columns == [
        "title", "first_name", "last_name", "account", "job_title", "address.1.street",
        "address.1.postal_code", "address.1.city", "address.1.country", "phone.1", "phone.2",
        "email", "birthday", "notes",
    ]  # fmt: skip
    assert mapping.types == {"phone.2": "Mobile"}


def test_guess_spanish():
    headers = [
        "Nombre", "Apellidos", "Empresa", "Cargo", "Calle", "Código postal", "Ciudad",
        "Provincia", "País", "Teléfono trabajo", "Móvil", "Correo electrónico",
        "Fecha de nacimiento", "Notas", "Etiquetas",
    ]  # fmt: skip
    mapping = guess_mapping(headers)
    assert mapping.columns == [
        "first_name", "last_name", "account", "job_title", "address.1.street",
        "address.1.postal_code", "address.1.city", "address.1.region", "address.1.country",
        "phone.1", "phone.2", "email", "birthday", "notes", "tags",
    ]  # fmt: skip
    assert mapping.types == {"phone.1": "Work", "phone.2": "Mobile"}


@pytest.mark.parametrize(
    ("headers", "columns"),
    [
        (
            ["Nome", "Cognome", "Azienda", "Via", "CAP", "Città", "Cellulare", "Note"],
            ["first_name", "last_name", "account", "address.1.street", "address.1.postal_code",
             "address.1.city", "phone.1", "notes"],
        ),
        (
            ["Voornaam", "Achternaam", "Bedrijf", "Straat", "Plaats", "Telefoon", "E-mailadres"],
            ["first_name", "last_name", "account", "address.1.street", "address.1.city",
             "phone.1", "email"],
        ),
        (
            ["Nome", "Sobrenome", "Empresa", "Rua", "Cidade", "Celular", "Notas"],
            ["first_name", "last_name", "account", "address.1.street", "address.1.city",
             "phone.1", "notes"],
        ),
    ],
)  # fmt: skip
def test_guess_italian_dutch_portuguese(headers, columns):
    assert guess_mapping(headers).columns == columns


def test_guess_name_alone_is_a_full_name_and_beside_a_first_name_the_last_name():
    assert guess_mapping(["Name", "Email", "Phone"]).columns == ["full_name", "email", "phone.1"]
    assert guess_mapping(["Vorname", "Name"]).columns == ["first_name", "last_name"]
    assert guess_mapping(["First", "Last", "Name"]).columns == [
        "first_name",
        "last_name",
        "full_name",
    ]


def test_guess_phones_emails_and_slots_in_english():
    headers = [
        "First name", "Last name", "Email", "E-mail 2", "Email 3", "Work Phone", "Ext.",
        "Mobile", "Home phone", "Fax", "Street", "Street 2", "Street 3", "City", "Zip",
        "Billing City", "Billing Street", "LinkedIn", "Twitter URL", "Phone label",
        "E-mail type", "Favourite colour", "Notes", "Comments",
    ]  # fmt: skip
    mapping = guess_mapping(headers)
    assert mapping.columns == [
        "first_name", "last_name", "email", "email_secondary", "email.3", "phone.1",
        "phone.1.extension", "phone.2", "phone.3", "phone.4", "address.1.street",
        "address.1.street2", "ignore", "address.1.city", "address.1.postal_code",
        "address.2.city", "address.2.street", "social.1", "social.2", "ignore", "ignore",
        "ignore", "notes", "notes",
    ]  # fmt: skip
    assert mapping.types == {
        "phone.1": "Work",
        "phone.2": "Mobile",
        "phone.3": "Home",
        "phone.4": "Fax",
        "address.2": "Invoice",
        "social.1": "LinkedIn",
        "social.2": "X (Twitter)",
    }


def test_guess_a_repeated_field_keeps_the_first_column():
    assert guess_mapping(["Company", "Firma", "Birthday", "Geburtstag"]).columns == [
        "account",
        "ignore",
        "birthday",
        "ignore",
    ]


def test_guess_knows_our_own_column_names():
    headers = ["First name", "Last name", "Phone 1 type", "Phone 1", "Handy", "Customer status"]
    assert guess_mapping(headers).columns == [
        "first_name", "last_name", "phone.1.type", "phone.1", "phone.2", "customer_status",
    ]  # fmt: skip


def test_guess_every_mapping_parses():
    headers = read_fixture("utf16.csv").headers + read_fixture("contacts.xlsx").headers
    mapping = guess_mapping(headers)
    assert Mapping.from_json(mapping.as_json()).columns == mapping.columns
    assert mapping.columns[:6] == [
        "first_name", "last_name", "account", "email", "phone.1", "address.1.city",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "name", ["outlook.csv", "google_contacts.csv", "google_contacts_legacy.csv"]
)
def test_a_known_column_sets_mapping_survives_being_stored(name):
    """The stored mapping (with its slot types, "address.1": "Work") is read back as it was:
    an Outlook file with a business address could not be started before."""
    found = recognise(read_fixture(name).headers)
    assert found is not None
    assert Mapping.from_json(found.mapping.as_json()) == found.mapping


@pytest.mark.parametrize("key", ["address.1.street", "phone", "phone.0", "fax.1", "email.21"])
def test_a_type_for_no_slot_is_refused(key):
    with pytest.raises(ValueError, match="slot"):
        Mapping.from_json({"columns": ["first_name"], "types": {key: "Work"}})
