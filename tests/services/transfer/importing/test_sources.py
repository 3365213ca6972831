"""Reading uploaded files into tables: formats, encodings, delimiters, sheets, and every
kind of bad file refused with a message that says why."""

from __future__ import annotations

import codecs
import io
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pytest

from crm.errors import DomainError
from crm.services.transfer.importing import sources
from crm.services.transfer.importing.sources import (
    Row,
    SourceError,
    cell_text,
    detect_delimiter,
    read_source,
)
from tests.services.transfer.importing.helpers import as_records, fixture_bytes, read_fixture


def refused(data: bytes, filename: str, **options) -> str:
    with pytest.raises(SourceError) as caught:
        read_source(data, filename, **options)
    return caught.value.message


# ---- CSV fixtures -----------------------------------------------------------------------------
def test_google_contacts_csv_keeps_accents_multi_values_and_quoted_newlines():
    source = read_fixture("google_contacts.csv")
    assert (source.format, source.details) == ("csv", {"encoding": "utf-8", "delimiter": ","})
    assert source.summary == "CSV, UTF-8, separated by commas"
    assert len(source.headers) == 36
    assert source.headers[:3] == ["First Name", "Middle Name", "Last Name"]
    assert source.headers[-2:] == ["Website 1 - Label", "Website 1 - Value"]
    assert source.row_count == 3
    jose, zoe, francois = as_records(source)
    assert jose["#"] == "2" and zoe["#"] == "3" and francois["#"] == "4"
    assert (jose["First Name"], jose["Last Name"]) == ("José", "Pérez García")
    assert jose["Labels"] == "* myContacts ::: VIP ::: Clientes"
    assert jose["Phone 1 - Label"] == "* Mobile"
    assert jose["Phone 1 - Value"] == "+34 612 345 678 ::: +34 699 000 111"
    assert jose["Address 1 - Formatted"] == "Calle Mayor 5, 2º\nMadrid 28013\nEspaña"
    assert jose["Organization Name"] == "Acme Ibérica S.L."
    assert (zoe["First Name"], zoe["Last Name"], zoe["Birthday"]) == ("Zoë", "Müller", "--05-17")
    assert zoe["Notes"] == "Zwei Zeilen:\nzweite Zeile"
    assert francois["Organization Name"] == "Société Générale d'Études"
    assert francois["Address 1 - Region"] == "Île-de-France"


def test_google_contacts_legacy_csv():
    source = read_fixture("google_contacts_legacy.csv")
    assert source.details == {"encoding": "utf-8", "delimiter": ","}
    assert source.headers[:4] == ["Name", "Given Name", "Additional Name", "Family Name"]
    assert "Group Membership" in source.headers and "E-mail 1 - Type" in source.headers
    ana, soren = as_records(source)
    assert ana["Name"] == "Ana Smith" and ana["E-mail 1 - Type"] == "* Home"
    assert ana["Organization 1 - Department"] == "R&D"
    assert (soren["#"], soren["Given Name"], soren["Family Name"]) == ("3", "Søren", "Kierkegård")
    assert soren["E-mail 1 - Value"] == "soren@example.dk ::: s.k@example.dk"


def test_outlook_csv_every_field_quoted_with_multi_line_notes():
    source = read_fixture("outlook.csv")
    assert source.details == {"encoding": "utf-8", "delimiter": ","}
    assert len(source.headers) == 92 and source.headers[:2] == ["Title", "First Name"]
    john, maria = as_records(source)
    assert john["Company"] == "Contoso, Ltd."
    # Windows line breaks inside the cell come out as "\n"
    assert john["Notes"] == (
        'Met at Ignite.\nCall back about the "Enterprise" plan;\nprefers mornings.'
    )
    assert john["Categories"] == "Business;VIP"
    assert (maria["#"], maria["First Name"], maria["Last Name"]) == ("3", "Mária", "Nováková")
    assert maria["Birthday"] == "0/0/00"  # Outlook's empty date, left to the row reader


def test_european_excel_csv_windows_1252_semicolons():
    source = read_fixture("european_excel.csv")
    assert source.details == {"encoding": "cp1252", "delimiter": ";"}
    assert source.summary == "CSV, Windows-1252, separated by semicolons"
    assert source.headers == [
        "Anrede", "Vorname", "Nachname", "Firma", "Position", "Straße", "PLZ", "Ort", "Land",
        "Telefon geschäftlich", "Handy", "Fax", "E-Mail", "Geburtstag", "Notizen",
    ]  # fmt: skip
    juergen, zoe, orjan = as_records(source)
    assert juergen == {
        "#": "2", "Anrede": "Herr", "Vorname": "Jürgen", "Nachname": "Müller",
        "Firma": "Müller & Söhne GmbH", "Position": "Geschäftsführer",
        "Straße": "Hauptstraße 5", "PLZ": "80331", "Ort": "München", "Land": "Deutschland",
        "Telefon geschäftlich": "089 123456", "Handy": "0151 12345678", "Fax": "089 123457",
        "E-Mail": "juergen.mueller@example.de", "Geburtstag": "31.12.1980",
        "Notizen": "Umsatz 2023: 1.234,56 €; „sehr gut“",
    }  # fmt: skip
    assert (zoe["Vorname"], zoe["Ort"]) == ("Zoë", "Düsseldorf")
    assert zoe["Notizen"] == "Größe: M\nzweite Zeile"
    assert (orjan["Vorname"], orjan["Nachname"], orjan["PLZ"]) == ("Ørjan", "Ødegård", "0155")


def test_utf16_tab_separated_unicode_text():
    source = read_fixture("utf16.csv")
    assert source.details == {"encoding": "utf-16-le", "delimiter": "\t"}
    assert source.headers == ["First Name", "Last Name", "Company", "E-mail", "Phone", "City"]
    rows = list(source.rows())
    greek = ["Ελένη", "Παπαδοπούλου", "Ακρόπολις Α.Ε.", "eleni@example.gr", "+30 21 0123 4567"]
    assert rows[0] == Row(2, [*greek, "Αθήνα"])
    assert rows[1].cells[:3] == ["太郎", "山田", "株式会社サンプル"]
    assert rows[2] == Row(
        4, ["Ana", "Smith, Jr.", 'Acme "Best" Ltd', "ana@example.com", "+44 20 7946 0958", "London"]
    )


def test_utf8_with_bom():
    source = read_fixture("utf8_bom.csv")
    assert source.details == {"encoding": "utf-8-sig", "delimiter": ","}
    assert source.headers[0] == "First name"  # no BOM glued to the first header
    assert [r.cells[:2] for r in source.rows()] == [["Renée", "Dubois"], ["Łukasz", "Wiśniewski"]]
    assert list(source.rows())[1].cells[5] == "Łódź"


# ---- encodings and delimiters -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "encoding", "found"),
    [
        ("Prénom;Nom;Ville\nFrançois;Lefèvre;Besançon\nHélène;Noël;Orléans\n", "cp1252", "cp1252"),
        ("Nombre;Apellidos\nJosé;Peña Muñoz\nMaría;Gómez\n", "cp1252", "cp1252"),
        ("Imię;Nazwisko;Miasto\nŁukasz;Wiśniewski;Łódź\nZofia;Żółkowska;Gdańsk\n", *["cp1250"] * 2),
        ("Имя;Фамилия;Город\nИван;Петров;Москва\nОльга;Смирнова;Самара\n", *["cp1251"] * 2),
    ],
)
def test_single_byte_encodings(text, encoding, found):
    source = read_source(text.encode(encoding), "list.csv")
    assert source.details["encoding"] == found
    first_row = text.splitlines()[1].split(";")
    assert next(source.rows()).cells == first_row


def test_utf16_big_endian_and_without_bom():
    text = "Name,Email\r\nJosé,jose@example.es\r\n"
    big = read_source(codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "a.csv")
    assert big.details["encoding"] == "utf-16-be"
    bare = read_source(text.encode("utf-16-le"), "b.csv")
    assert bare.details["encoding"] == "utf-16-le"
    assert next(big.rows()).cells == next(bare.rows()).cells == ["José", "jose@example.es"]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("Name;Notes\nAna;likes tea, coffee\nBo;one, two, three\n", ";"),
        ("Name|City|Notes\nAna|Berlin|a, b; c\nBo|Paris|x\n", "|"),
        ("Name\tCity\nAna\tBerlin, Mitte\n", "\t"),
        ('Name,Notes\n"Smith, Ana";"a; b"\n', ","),
        ("Email\nana@example.com\nbo@example.com\n", ","),
    ],
)
def test_delimiter(text, delimiter):
    assert detect_delimiter(text) == delimiter


def test_rows_are_padded_extra_empty_cells_dropped_and_blank_lines_skipped():
    data = b"First,Last,Email,,\r\nAna,Smith\r\n\r\nBo,Berg,bo@example.se,,,\r\n,,\r\n"
    source = read_source(data, "short.csv")
    assert source.headers == ["First", "Last", "Email"]  # empty trailing headers dropped
    assert list(source.rows()) == [
        Row(2, ["Ana", "Smith", ""]),
        Row(4, ["Bo", "Berg", "bo@example.se"]),
    ]
    assert source.row_count == 2


def test_header_cells_are_trimmed():
    source = read_source(b"  First name ,Last\tname\nAna,Smith\n", "x.csv")
    assert source.headers == ["First name", "Last name"]


def test_text_after_a_closing_quote_is_read_leniently():
    source = read_source(b'Name,Size\n"Ana" Smith,"5" screen\n', "x.csv")
    assert list(source.rows()) == [Row(2, ["Ana Smith", "5 screen"])]


def test_rows_are_read_lazily_and_again():
    source = read_fixture("google_contacts.csv")
    rows = source.rows()
    assert iter(rows) is rows  # a generator, not a list
    assert next(rows).number == 2
    assert [r.number for r in source.rows()] == [2, 3, 4]
    assert source.preview(2) == list(source.rows())[:2]


def test_a_big_file_streams(tmp_path: Path):
    lines = ["First name,Last name,Email"] + [
        f"Ana{i},Smith,ana{i}@example.com" for i in range(20_000)
    ]
    source = read_source("\n".join(lines).encode(), "big.csv")
    assert source.row_count == 20_000
    last = None
    for last in source.rows():  # noqa: B007 - the last row is checked
        pass
    assert last == Row(20_001, ["Ana19999", "Smith", "ana19999@example.com"])


# ---- XLSX ---------------------------------------------------------------------------------------
def test_xlsx_first_sheet_cells_as_the_user_sees_them():
    source = read_fixture("contacts.xlsx")
    assert source.format == "xlsx"
    assert source.details == {"sheets": ["Contacts", "Companies"], "sheet": "Contacts"}
    assert source.summary == "Excel workbook, sheet “Contacts”"
    assert source.headers == [
        "First name", "Last name", "Company", "Phone", "Mobile", "Email", "Birthday", "Score",
        "Share", "Customer", "Notes",
    ]  # fmt: skip
    assert list(source.rows()) == [
        Row(2, ["Jürgen", "Müller", "Müller GmbH", "4930123456", "015112345678",
                "j@example.de", "1975-04-23", "0.3", "15%", "TRUE", "Line one\nLine two"]),
        Row(3, ["Ana", "Smith", "", "447400123456", "", "ana@example.com", "1980-01-31", "12",
                "", "FALSE", ""]),
        # row 4 is empty; rows 7 to 9 are formatted but empty
        Row(5, ["Zoë", "Ødegård", "Façade AS", "+47 22 12 34 56", "", "zoe@example.no",
                "1990-06-01 14:30", "2.5", "", "", "=not a formula"]),
    ]  # fmt: skip
    assert source.row_count == 3


def test_xlsx_chosen_sheet():
    source = read_fixture("contacts.xlsx", sheet="Companies")
    assert source.details["sheet"] == "Companies"
    assert (source.headers, list(source.rows())) == (["Name", "City"], [Row(2, ["Acme", "Berlin"])])
    assert read_fixture("contacts.xlsx", sheet=" companies").details["sheet"] == "Companies"


def test_xlsx_unknown_sheet_lists_the_sheets():
    message = refused(fixture_bytes("contacts.xlsx"), "contacts.xlsx", sheet="Kontakte")
    assert message == (
        "This workbook has no sheet “Kontakte”. Its sheets are: “Contacts”, “Companies”."
    )


def test_xlsx_is_recognised_by_content_whatever_its_name():
    assert read_source(fixture_bytes("contacts.xlsx"), "export.csv").format == "xlsx"


@pytest.mark.parametrize(
    ("value", "number_format", "text"),
    [
        (None, "General", ""),
        (4915112345678, "General", "4915112345678"),
        (4915112345678.0, "General", "4915112345678"),
        (3012345678, "00000000000", "03012345678"),
        (0.1 + 0.2, "General", "0.3"),
        (1e20, "General", "100000000000000000000"),
        (1.5e-7, "General", "0.00000015"),
        (0.125, "0.0%", "12.5%"),
        (-3, "General", "-3"),
        (True, "General", "TRUE"),
        (datetime(2024, 1, 31), "yyyy-mm-dd", "2024-01-31"),
        (datetime(2024, 1, 31, 9, 5, 7), "General", "2024-01-31 09:05:07"),
        (date(1980, 12, 31), "dd.mm.yyyy", "1980-12-31"),
        (time(14, 30), "hh:mm", "14:30"),
        ("  text  ", "@", "  text  "),
    ],
)
def test_cell_text(value, number_format, text):
    assert cell_text(value, number_format) == text


# ---- bad files ------------------------------------------------------------------------------
def test_source_error_is_a_domain_error():
    assert issubclass(SourceError, DomainError)


def test_over_the_size_limit():
    message = refused(b"a,b\n" * 700_000, "big.csv", max_bytes=2 * 1024 * 1024)
    assert message == "The file is 2.7 MB: files of up to 2 MB can be imported."
    assert refused(b"x" * 2000, "a.csv", max_bytes=1000) == (
        "The file is 2 KB: files of up to 1000 bytes can be imported."
    )


def test_empty_file():
    assert refused(fixture_bytes("empty.csv"), "empty.csv") == "The file is empty."
    assert refused(b"\r\n \r\n", "blank.csv") == "The file is empty."
    assert refused(codecs.BOM_UTF8 + b"\n", "bom.csv") == "The file is empty."


def test_header_only():
    assert (
        refused(fixture_bytes("header_only.csv"), "header_only.csv")
        == "The file has a header but no rows."
    )


def test_binary_file_named_csv():
    assert refused(fixture_bytes("binary.csv"), "binary.csv") == (
        "“binary.csv” is not a text file (it holds binary data): upload a CSV, XLSX or vCard file."
    )
    controls = bytes(range(1, 32)) * 40  # no NUL, but control characters
    assert "is not a text file" in refused(controls, "controls.csv")


def test_twenty_columns_and_rows_of_three_and_twenty_five():
    message = refused(fixture_bytes("twenty_and_three_columns.csv"), "twenty_and_three_columns.csv")
    # row 2 (3 cells) is padded, row 3 (25 cells, the extra ones empty) is fine
    assert message == (
        "The header has 20 columns but row 4 has more filled cells (up to 25): give the extra "
        "columns a header, or check that the file is separated the way it looks."
    )


def test_several_rows_too_long_are_named():
    data = b"a,b\n" + b"1,2,3\n" * 8
    assert refused(data, "x.csv") == (
        "The header has 2 columns but rows 2, 3, 4, 5, 6 and 3 more have more filled cells "
        "(up to 3): give the extra columns a header, or check that the file is separated the "
        "way it looks."
    )


def test_quote_never_closed():
    data = b'Name,Notes\nAna,fine\nBo,"starts here\nCy,swallowed\n'
    assert refused(data, "x.csv") == (
        'Row 3 opens a quoted cell (") that is never closed, so the rest of the file would be '
        "read as one cell: check its quotes."
    )


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_not_a_workbook():
    expected = (
        "This file is not an Excel workbook (.xlsx) that can be opened: save it again from "
        "Excel as .xlsx, or as CSV."
    )
    assert refused(fixture_bytes("not_a_workbook.xlsx"), "not_a_workbook.xlsx") == expected
    broken = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"not xml at all"})
    assert refused(broken, "broken.xlsx").startswith(
        "This file is not an Excel workbook (.xlsx) that can be opened ("
    )
    document = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    assert refused(document, "letter.xlsx") == (
        "This file is a zip archive but not an Excel workbook (.xlsx): save it again from "
        "Excel as .xlsx, or as CSV."
    )
    # the same zip named .csv is binary, not text
    assert "is not a text file" in refused(document, "letter.csv")


def _bomb(path: Path, megabytes: int) -> bytes:
    """A workbook-shaped zip whose sheet is `megabytes` of zeros (compressed about 1000 times),
    written a megabyte at a time."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for _ in range(megabytes):
                sheet.write(bytes(1024 * 1024))
    return path.read_bytes()


@pytest.fixture
def openpyxl_must_not_open(monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl

    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl opened a refused archive")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


def test_zip_bomb_by_compression_ratio(tmp_path: Path, openpyxl_must_not_open):
    data = _bomb(tmp_path / "bomb.xlsx", 20)
    assert len(data) < 100_000
    message = refused(data, "bomb.xlsx")
    assert message.startswith("A part of this workbook (xl/worksheets/sheet1.xml) is compressed ")
    assert message.endswith(
        " times (20 MB unpacked), far more than a real workbook: it is refused (a zip bomb?)."
    )


def test_zip_bomb_by_total_size(tmp_path: Path, monkeypatch, openpyxl_must_not_open):
    monkeypatch.setattr(sources, "MAX_UNPACKED", 3 * 1024 * 1024)
    data = _bomb(tmp_path / "big.xlsx", 4)
    assert refused(data, "big.xlsx") == (
        "This workbook would unpack to 4 MB, more than the 3 MB that can be read: it is "
        "refused (a zip bomb?). Split it into smaller files or save it as CSV."
    )


def test_a_workbook_within_the_limits_is_opened(tmp_path: Path):
    data = _bomb(tmp_path / "small.xlsx", 1)  # 1 MB compresses 1000 times, but is small
    assert refused(data, "small.xlsx").startswith(
        "This file is not an Excel workbook (.xlsx) that can be opened ("
    )  # openpyxl was asked, and found no real workbook


def test_empty_sheet(tmp_path: Path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Empty"
    book.create_sheet("Data").append(["Name"])
    book.save(tmp_path / "empty.xlsx")
    data = (tmp_path / "empty.xlsx").read_bytes()
    assert refused(data, "empty.xlsx") == "The sheet “Empty” is empty. Its other sheets: “Data”."
    assert refused(data, "empty.xlsx", sheet="Data") == "The file has a header but no rows."


def test_vcard_without_a_card():
    assert refused(b"VERSION:3.0\r\nFN:Nobody\r\n", "contacts.vcf") == (
        "No contact card was found in this vCard file (BEGIN:VCARD ... END:VCARD)."
    )


def test_a_workbook_without_styles_opens_without_warnings():
    # openpyxl warns that it applies its default style: pytest turns warnings into errors
    original = zipfile.ZipFile(io.BytesIO(fixture_bytes("contacts.xlsx")))
    data = _zip({n: original.read(n) for n in original.namelist() if n != "xl/styles.xml"})
    source = read_source(data, "no-styles.xlsx")
    assert next(source.rows()).cells[:4] == ["Jürgen", "Müller", "Müller GmbH", "4930123456"]


def test_vcard_is_recognised_by_content_in_any_encoding():
    card = "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Müller;Jürgen\r\nEND:VCARD\r\n"
    for data, encoding in [
        (card.encode("cp1252"), "cp1252"),  # an old phone's export
        (codecs.BOM_UTF8 + card.encode(), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + card.encode("utf-16-le"), "utf-16-le"),
    ]:
        source = read_source(data, "contacts.txt")
        assert (source.format, source.details["encoding"]) == ("vcard", encoding)
        assert next(source.rows()).cells[2:5] == ["Jürgen", "", "Müller"]
