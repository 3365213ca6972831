"""Exports: our own format as CSV and XLSX, vCard 4.0; visibility, permission, formulas made
inert, Unicode intact, and contacts read in chunks (memory stays flat)."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import date

import openpyxl
import pytest
import vobject
from sqlalchemy import event, insert, select

from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    AuditEntry,
    Category,
    Contact,
    ContactKind,
    ContactPreference,
    CustomerStatus,
    Gender,
    ProspectStatus,
    Role,
)
from crm.services.lists.tags import tags_for_names
from crm.services.transfer import exporting
from crm.services.transfer.importing import targets
from crm.services.transfer.importing.targets import own_format_mapping, own_headers, own_targets

EVERYONE = select(Contact.id)
FORMULA = '=HYPERLINK("http://evil","x")'


@pytest.fixture
def people(manager, make_user, make_contact):
    """Ana (B2B, three phones, two addresses, two social links, tags, categories), Bo (B2C,
    formulas in his fields, emoji in his name) and Cy (B2C, nothing but names)."""
    responsible = make_user("crm_sales", email="resp@example.com")
    ana = make_contact(
        manager,
        title="Dr",
        first_name="Ana",
        middle_name="María",
        last_name="Pérez-Müller",
        account="Zoë & Co, Ltd.",
        job_title="Head of Sales",
        department="Sales; EMEA",
        email="ana@example.com",
        email_secondary="ana.perez@example.org",
        website="https://zoe.example.com",
        birthday=date(1980, 5, 17),
        gender=Gender.FEMALE,
        customer_status=CustomerStatus.CUSTOMER,
        prospect_status=ProspectStatus.LOST_PROSPECT,
        contact_preference=ContactPreference.WORK_PHONE,
        email_marketing=True,
        do_not_call=True,
        timezone="Europe/Berlin",
        language="de",
        owner=manager,
        responsible=responsible,
        tags=tags_for_names(["VIP", "alpha"]),
        categories=list(
            db.session.scalars(select(Category).where(Category.name.in_(["Partner", "Press"])))
        ),
        notes="Line one\nLine two, with; punctuation \\ and more",
        other_contacts="Skype: ana.pm",
        phones=[
            {"type": "Mobile", "country_code": "+44", "number": "07400 123456"},
            {"type": "Work", "country_code": "DE", "number": "030 1234567", "extension": "12"},
            {"type": "Fax", "country_code": "+33", "number": "1 42 68 53 00"},
        ],
        addresses=[
            {
                "type": "Main",
                "street": "Hauptstraße 5",
                "street2": "Hinterhaus",
                "city": "Berlin",
                "region": "Berlin",
                "postal_code": "10115",
                "country": "DE",
                "latitude": 52.5,
                "longitude": 13.4,
            },
            {"type": "Delivery", "street": "Rue de Rivoli 1", "city": "Paris", "country": "FR"},
        ],
        social_links=[
            {"platform": "LinkedIn", "handle": "ana-perez"},
            {"platform": "X (Twitter)", "handle": "anap"},
        ],
    )
    bo = make_contact(
        manager,
        first_name="Bo 🙂",
        last_name="Ng",
        birthday="--11-02",  # a day without a year
        job_title=FORMULA,
        notes="-2+3",
        other_contacts="@SUM(A1)",
        phones=[{"type": "Home", "country_code": "+1", "number": "(202) 555-0142"}],
    )
    cy = make_contact(manager, first_name="Cy", last_name="Łukasz")
    return {"ana": ana, "bo": bo, "cy": cy, "manager": manager, "responsible": responsible}


def _csv(actor, target=EVERYONE) -> list[list[str]]:
    out = io.BytesIO()
    exporting.write_csv(actor, target, out)
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")  # the byte-order mark: Excel reads UTF-8
    assert b"\r\n" in data
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _xlsx(actor, target=EVERYONE) -> openpyxl.Workbook:
    out = io.BytesIO()
    exporting.write_xlsx(actor, target, out)
    return openpyxl.load_workbook(io.BytesIO(out.getvalue()))


def _vcards(actor, target=EVERYONE) -> tuple[bytes, list]:
    out = io.BytesIO()
    exporting.write_vcard(actor, target, out)
    data = out.getvalue()
    return data, list(vobject.readComponents(data.decode("utf-8")))


def expected_rows(people) -> list[list[str]]:
    ana, bo, cy = people["ana"], people["bo"], people["cy"]
    manager, responsible = people["manager"].email, people["responsible"].email
    return [
        [
            str(ana.id),
            "Dr",
            "Ana",
            "María",
            "Pérez-Müller",
            "B2B",
            "Zoë & Co, Ltd.",
            "Head of Sales",
            "Sales; EMEA",
            "ana@example.com",
            "ana.perez@example.org",
            "https://zoe.example.com",
            "1980-05-17",
            "Female",
            "Customer",
            "Lost prospect",
            "Work phone",
            "yes",
            "no",
            "yes",
            "Europe/Berlin",
            "de",
            manager,
            responsible,
            "alpha; VIP",
            "Partner; Press",
            "Line one\nLine two, with; punctuation \\ and more",
            "Skype: ana.pm",
            *("Mobile", "+44 7400 123456", ""),
            *("Work", "+49 30 1234567", "12"),
            *("Fax", "+33 1 42 68 53 00", ""),
            *("Main", "Hauptstraße 5", "Hinterhaus", "Berlin", "Berlin", "10115", "DE"),
            *("Delivery", "Rue de Rivoli 1", "", "Paris", "", "", "FR"),
            *("LinkedIn", "https://www.linkedin.com/in/ana-perez"),
            *("X (Twitter)", "https://x.com/anap"),
        ],
        [
            str(bo.id),
            "",
            "Bo 🙂",
            "",
            "Ng",
            "B2C",
            "",  # a consumer's hidden account is not a company
            FORMULA,
            "",
            "",
            "",
            "",
            "--11-02",  # a birthday without a year
            "",
            "Non-customer",
            "Non-prospect",
            "Any",
            "no",
            "no",
            "no",
            "",
            "",
            manager,
            "",
            "",
            "",
            "-2+3",
            "@SUM(A1)",
            *("Home", "+1 202-555-0142", ""),
            *([""] * 3 * 2),
            *([""] * 7 * 2),
            *([""] * 2 * 2),
        ],
        [
            str(cy.id),
            "",
            "Cy",
            "",
            "Łukasz",
            "B2C",
            *([""] * 8),
            "Non-customer",
            "Non-prospect",
            "Any",
            "no",
            "no",
            "no",
            "",
            "",
            manager,
            *([""] * 5),
            *([""] * (3 * 3 + 7 * 2 + 2 * 2)),
        ],
    ]


def test_rows_are_our_own_format_with_a_slot_per_phone_address_and_link(people):
    headers, rows = exporting.export_rows(people["manager"], EVERYONE)
    assert headers == own_headers(3, 2, 2)
    assert list(rows) == expected_rows(people)
    # The importer recognises the file as ours, every column with its target.
    mapping = own_format_mapping(headers)
    assert mapping is not None and mapping.columns == own_targets(3, 2, 2)


def test_slot_counts_follow_the_exported_contacts(people):
    only_bo = select(Contact.id).where(Contact.id == people["bo"].id)
    headers, rows = exporting.export_rows(people["manager"], only_bo)
    assert headers == own_headers(1, 0, 0)
    assert [row[:3] for row in rows] == [[str(people["bo"].id), "", "Bo 🙂"]]
    nobody = select(Contact.id).where(Contact.id == -1)
    assert _csv(people["manager"], nobody) == [own_headers(0, 0, 0)]


def test_csv_is_utf8_with_the_same_rows_and_formulas_made_inert(people):
    rows = _csv(people["manager"])
    expected = expected_rows(people)
    assert rows[0] == own_headers(3, 2, 2)
    assert rows[1][2:5] == ["Ana", "María", "Pérez-Müller"]  # accents intact
    assert rows[2][2] == "Bo 🙂"  # emoji intact
    assert rows[2][7] == "'" + FORMULA  # a spreadsheet shows it as text, does not run it
    assert rows[2][26:28] == ["'-2+3", "'@SUM(A1)"]
    assert rows[1][28:31] == ["Mobile", "'+44 7400 123456", ""]
    for got, want in zip(rows[1:], expected, strict=True):
        assert [targets.restore_neutralised(cell) for cell in got] == want
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-5", "'-5"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1+1", "''=1+1"),  # already quoted: one more, so the import gives it back as it was
        ("''-1", "'''-1"),
        ("'quoted", "'quoted"),
        ("a=b", "a=b"),
        ("", ""),
        ("Zoë", "Zoë"),
    ],
)
def test_neutralise_round_trips(value, cell):
    assert targets.neutralise(value) == cell
    assert targets.restore_neutralised(cell) == value


def test_xlsx_holds_text_cells_never_formulas(people):
    workbook = _xlsx(people["manager"])
    assert workbook.sheetnames == ["Contacts"]
    sheet = workbook["Contacts"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == own_headers(3, 2, 2)
    assert all(cell.font.bold for cell in sheet[1])
    assert [[value or "" for value in row] for row in rows[1:]] == expected_rows(people)
    formula = sheet.cell(row=3, column=8)  # Bo's job title
    assert formula.value == FORMULA
    assert formula.data_type == "s"  # text, not a formula ("f")
    assert formula.quotePrefix  # Excel keeps it text when the cell is edited
    phone = sheet.cell(row=2, column=30)
    assert phone.value == "+44 7400 123456" and phone.data_type == "s"
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)


def test_xlsx_cuts_cells_at_excels_limit_and_replaces_what_xml_cannot_hold(manager, make_contact):
    contact = make_contact(manager, first_name="Long", last_name="Notes")
    contact.notes = "🙂" + "x" * 40_000  # the emoji counts twice in Excel's 32,767
    contact.other_contacts = "a\x01b"  # stored by a path that does not clean control characters
    db.session.commit()
    sheet = _xlsx(manager)["Contacts"]
    notes, other = sheet.cell(row=2, column=27).value, sheet.cell(row=2, column=28).value
    assert len(notes.encode("utf-16-le")) == 2 * 32_767 and notes.startswith("🙂x")
    assert other == "a\ufffdb"


def test_xlsx_continues_on_another_sheet_when_one_is_full(people, monkeypatch):
    monkeypatch.setattr(exporting, "XLSX_ROWS", 3)  # the header and two contacts a sheet
    workbook = _xlsx(people["manager"])
    assert workbook.sheetnames == ["Contacts", "Contacts 2"]
    first, second = workbook["Contacts"], workbook["Contacts 2"]
    assert [c.value for c in first[1]] == [c.value for c in second[1]] == own_headers(3, 2, 2)
    assert [row[2].value for row in first.iter_rows(min_row=2)] == ["Ana", "Bo 🙂"]
    assert [row[2].value for row in second.iter_rows(min_row=2)] == ["Cy"]


def test_only_the_targets_rows_are_read_when_its_ids_have_gaps(manager, make_contact):
    """A chunk's phones are read by a range of ids when they are dense (rows of contacts
    outside the target are skipped), by the ids themselves when they are sparse."""
    made = [
        make_contact(
            manager,
            first_name=f"P{i}",
            last_name="Gap",
            phones=[{"type": "Mobile", "country_code": "+44", "number": f"07400 12345{i}"}],
            addresses=[{"type": "Main", "city": f"City {i}", "country": "GB"}],
            tags=tags_for_names([f"tag{i}"]),
        )
        for i in range(6)
    ]
    for chosen in ([0, 1, 3], [0, 5]):  # dense with a gap (a range), sparse (IN)
        ids = [made[i].id for i in chosen]
        _, rows = exporting.export_rows(manager, select(Contact.id).where(Contact.id.in_(ids)))
        got = [(row[2], row[24], row[29], row[34]) for row in rows]
        assert got == [(f"P{i}", f"tag{i}", f"+44 7400 12345{i}", f"City {i}") for i in chosen]


def test_vcard_4_parses_back_with_the_same_names_emails_phones_and_addresses(people):
    data, cards = _vcards(people["manager"])
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded at 75 octets
    assert data.count(b"\r\n") == data.count(b"\n")  # CRLF only
    data.decode("utf-8")  # folding never splits a character
    ana, bo, cy = cards
    assert [c.version.value for c in cards] == ["4.0"] * 3
    assert ana.fn.value == "Ana María Pérez-Müller"
    name = ana.n.value
    assert (name.family, name.given, name.additional, name.prefix) == (
        "Pérez-Müller",
        "Ana",
        "María",
        "Dr",
    )
    assert ana.org.value == ["Zoë & Co, Ltd.", "Sales; EMEA"]
    assert ana.title.value == "Head of Sales"
    emails = [(e.value, e.params.get("PREF")) for e in ana.email_list]
    assert emails == [("ana@example.com", ["1"]), ("ana.perez@example.org", None)]
    phones = [(t.value, t.params["TYPE"], t.params["VALUE"]) for t in ana.tel_list]
    assert phones == [
        ("tel:+447400123456", ["cell"], ["uri"]),
        ("tel:+49301234567;ext=12", ["work", "voice"], ["uri"]),
        ("tel:+33142685300", ["fax"], ["uri"]),
    ]
    addresses = [
        (a.params["TYPE"], a.value.street, a.value.city, a.value.region, a.value.code)
        for a in ana.adr_list
    ]
    assert addresses == [
        (["work"], ["Hauptstraße 5", "Hinterhaus"], "Berlin", "Berlin", "10115"),
        (["work"], "Rue de Rivoli 1", "Paris", "", ""),
    ]
    assert [a.value.country for a in ana.adr_list] == ["Germany", "France"]
    assert ana.bday.value == "19800517"
    assert ana.gender.value == "F"
    assert ana.note.value == "Line one\nLine two, with; punctuation \\ and more"
    assert ana.url.value == "https://zoe.example.com"
    assert ana.categories.value == ["alpha", "VIP"]
    profiles = [(p.params["TYPE"], p.value) for p in ana.contents["x-socialprofile"]]
    assert profiles == [
        (["linkedin"], "https://www.linkedin.com/in/ana-perez"),
        (["twitter"], "https://x.com/anap"),
    ]
    assert ana.uid.value == targets.contact_uid(people["ana"].id)
    assert targets.contact_id_from_uid(ana.uid.value) == people["ana"].id
    assert ana.rev.value.endswith("Z")

    assert bo.fn.value == "Bo 🙂 Ng" and bo.n.value.given == "Bo 🙂"
    assert "org" not in bo.contents  # a consumer's hidden account is not a company
    assert bo.title.value == FORMULA
    assert bo.bday.value == "--1102"  # no year
    assert [(t.value, t.params["TYPE"]) for t in bo.tel_list] == [
        ("tel:+12025550142", ["home", "voice"])
    ]
    assert cy.fn.value == "Cy Łukasz" and "tel" not in cy.contents and "email" not in cy.contents


def test_vcard_folds_long_lines_without_splitting_characters(manager, make_contact):
    make_contact(manager, first_name="Ünïcödé", last_name="Ø", notes="é" * 100 + "🙂" * 30)
    data, (card,) = _vcards(manager)
    assert card.note.value == "é" * 100 + "🙂" * 30
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert sum(line.startswith(b" ") for line in lines) >= 3


def test_a_phone_without_an_e164_form_is_a_text_value(manager, make_contact):
    from crm.models import Phone, PhoneType

    contact = make_contact(manager, first_name="Old", last_name="Number")
    fax = db.session.scalar(select(PhoneType).where(PhoneType.name == "Fax"))
    db.session.add(Phone(contact=contact, phone_type=fax, number="0201; 555", extension="7"))
    db.session.commit()  # stored before numbers were checked: no E.164 form
    data, (card,) = _vcards(manager)
    assert b"TEL;VALUE=text;TYPE=fax;PREF=1:0201\\; 555 ext. 7\r\n" in data
    assert card.tel.value == "0201; 555 ext. 7"


def test_uids_are_stable_and_only_ours_give_an_id():
    assert targets.contact_uid(42) == targets.contact_uid(42) != targets.contact_uid(43)
    assert targets.contact_id_from_uid(targets.contact_uid(123_456_789)) == 123_456_789
    assert targets.contact_id_from_uid("urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8") is None
    assert targets.contact_id_from_uid("not a uuid") is None


def test_only_the_contacts_the_user_may_see_are_exported(manager, make_user, make_contact):
    """A marketeer (who may export) limited by access classes; crm_sales may not export."""
    marketeer = make_user("crm_marketeer")
    secret = AccessClass(name="Key accounts")
    open_class = AccessClass(name="Retail")
    db.session.add_all([secret, open_class])
    open_class.roles.append(db.session.scalar(select(Role).where(Role.name == "crm_marketeer")))
    db.session.commit()
    seen = make_contact(manager, first_name="Rita", last_name="Open", access_class=open_class)
    make_contact(manager, first_name="Kai", last_name="Hidden", access_class=secret)
    plain = make_contact(manager, first_name="Nora", last_name="Plain")
    trashed = make_contact(manager, first_name="Tom", last_name="Trashed")
    from crm.services.contacts.trash import delete_contact

    delete_contact(manager, trashed)
    db.session.commit()

    rows = _csv(marketeer)
    assert [row[0] for row in rows[1:]] == [str(seen.id), str(plain.id)]
    assert [c.fn.value for c in _vcards(marketeer)[1]] == ["Rita Open", "Nora Plain"]
    sheet = _xlsx(marketeer)["Contacts"]
    assert [row[4].value for row in sheet.iter_rows(min_row=2)] == ["Open", "Plain"]
    assert len(_csv(manager)) == 4  # the manager sees every class, not the trash

    sales = make_user("crm_sales")
    for writer in (exporting.write_csv, exporting.write_xlsx, exporting.write_vcard):
        with pytest.raises(PermissionDenied):
            writer(sales, EVERYONE, io.BytesIO())
    with pytest.raises(PermissionDenied):
        exporting.export_rows(sales, EVERYONE)
    with pytest.raises(PermissionDenied):
        exporting.record_export(sales, EVERYONE, "csv", "everything")


def test_an_export_of_a_filter_holds_only_its_contacts(people):
    vip = select(Contact.id).where(Contact.tags.any(name="VIP"))
    assert [row[2] for row in _csv(people["manager"], vip)[1:]] == ["Ana"]
    consumers = select(Contact.id).where(Contact.kind == ContactKind.B2C)
    assert [c.fn.value for c in _vcards(people["manager"], consumers)[1]] == [
        "Bo 🙂 Ng",
        "Cy Łukasz",
    ]


def test_an_export_is_recorded_in_the_history(people):
    total = exporting.record_export(people["manager"], EVERYONE, "xlsx", "the ticked contacts")
    db.session.commit()
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert total == 3
    assert entry.summary == "Exported 3 contact(s) to XLSX"
    assert entry.user_id == people["manager"].id
    assert entry.changes["format"] == "xlsx" and entry.changes["count"] == 3
    assert entry.changes["contact_ids"] == sorted(
        p.id for p in (people["ana"], people["bo"], people["cy"])
    )


def test_format_for_path():
    assert exporting.format_for_path("out/Contacts.CSV") == "csv"
    assert exporting.format_for_path("a.xlsx") == "xlsx"
    assert exporting.format_for_path("a.vcf") == exporting.format_for_path("a.vcard") == "vcf"
    with pytest.raises(ValueError, match="Cannot tell the format"):
        exporting.format_for_path("a.txt")


@pytest.fixture
def many(manager) -> int:
    """5,000 contacts (B2C, each with a phone and a long note) inserted in bulk."""
    from crm.models import Phone, PhoneType

    mobile = db.session.scalar(select(PhoneType.id).where(PhoneType.name == "Mobile"))
    accounts = [{"name": f"Person {i}", "is_hidden": True} for i in range(5000)]
    account_ids = list(
        db.session.scalars(
            insert(Account).returning(Account.id, sort_by_parameter_order=True), accounts
        )
    )
    note = "Ünïcödé notes, long enough to weigh something. " * 8
    contacts = [
        {
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "account_id": account_ids[i],
            "kind": ContactKind.B2C,
            "notes": note,
            "email": f"person{i}@example.com",
        }
        for i in range(5000)
    ]
    contact_ids = list(
        db.session.scalars(
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True), contacts
        )
    )
    db.session.execute(
        insert(Phone),
        [
            {"contact_id": cid, "phone_type_id": mobile, "number": "0201 555 0100", "e164": None}
            for cid in contact_ids
        ],
    )
    db.session.commit()
    return len(contact_ids)


def test_a_large_export_reads_in_chunks_and_never_holds_every_row(app, manager, many):
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        out = io.BytesIO()
        pieces = 0
        for piece in exporting.csv_chunks(manager, EVERYONE, chunk=500):
            out.write(piece)
            pieces += 1
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert pieces == many // 500  # one piece per chunk: written as read
    phone_queries = [s for s in statements if "FROM phones" in s and "GROUP BY" not in s]
    assert len(phone_queries) == many // 500  # one small query per chunk, not per contact
    assert len(statements) < 6 * (many // 500) + 15
    size = len(out.getvalue())
    assert size > 2_000_000

    # Memory stays flat: exporting five times more contacts takes no more memory at its
    # peak, and far less than the file it writes.
    fifth = select(Contact.id).order_by(Contact.id).limit(many // 5)
    small, large = _peak_memory(manager, fifth), _peak_memory(manager, EVERYONE)
    assert large < 1.3 * small, f"peak {large:,} bytes for all, {small:,} for a fifth"
    assert large < size / 2, f"peak {large:,} bytes for a {size:,}-byte export"


def _peak_memory(actor, target) -> int:
    """The most memory Python held at once while the CSV export of `target` was read."""
    for _ in exporting.csv_chunks(actor, target, chunk=200):  # warm: compiled statements
        pass
    tracemalloc.start()
    try:
        for _ in exporting.csv_chunks(actor, target, chunk=200):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "file_format",
    [
        "xlsx",
        "csv",
    ],
)
def test_importing_an_export_gives_back_the_same_contacts(app, people, file_format):
    from crm.models import DuplicateHandling
    from crm.services.contacts.trash import delete_contact, purge_contact
    from crm.services.platform import jobs
    from crm.services.transfer.importing import imports
    from crm.services.transfer.importing.targets import Mapping
    from tests.services.conftest import an_admin

    app.config["CRM_JOB_QUEUE"] = "inline"
    manager = people["manager"]
    out = io.BytesIO()
    exporting.write(manager, EVERYONE, file_format, out)
    before = [row[1:] for row in exporting.export_rows(manager, EVERYONE)[1]]  # but the ids
    admin = an_admin()
    for contact in list(db.session.scalars(select(Contact))):
        delete_contact(admin, contact)
        db.session.flush()
        purge_contact(admin, contact)
    db.session.commit()

    job = imports.create_job(manager, out.getvalue(), f"contacts.{file_format}")
    mapping = Mapping.from_json(job.mapping)
    assert mapping.columns == own_targets(3, 2, 2)  # recognised as our own format
    mapping.columns[0] = "ignore"  # the CRM id: those contacts are gone, create them anew
    run = imports.start(manager, job, mapping, DuplicateHandling.CREATE, dry_run=False)
    db.session.commit()
    jobs.submit(imports.run_job, run)
    db.session.expire_all()
    assert (run.created, run.failed) == (3, 0), run.errors
    assert [row[1:] for row in exporting.export_rows(manager, EVERYONE)[1]] == before
