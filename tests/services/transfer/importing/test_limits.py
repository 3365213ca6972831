"""The import limits (CRM_IMPORT_MAX_COLUMNS, _ROWS, _CELL, _VCARD_PROPERTIES) while a file
is read: a file beyond them is refused quickly, with a message naming the limit, and
reading it never holds more than a bounded part of it."""

from __future__ import annotations

import io
import os
import re
import time
import zipfile

import pytest
from openpyxl import Workbook

from crm.services.transfer.importing.sources import (
    DEFAULT_LIMITS,
    LimitExceeded,
    Limits,
    read_source,
)
from tests.services.transfer.importing.helpers import PeakMemory, wide_csv


def refused(data: bytes, filename: str, limits: Limits = DEFAULT_LIMITS) -> str:
    with pytest.raises(LimitExceeded) as caught:
        read_source(data, filename, limits=limits)
    return caught.value.message


# ---- CSV ------------------------------------------------------------------------------------
@pytest.mark.parametrize("columns", [100_000, 1_000_000])
def test_a_csv_with_a_huge_header_is_refused_quickly_in_little_memory(tmp_path, columns):
    # 1,000,000 columns is the 9.9 MB file that took a minute of CPU and gigabytes to map.
    data = wide_csv(tmp_path / "wide.csv", columns)
    with PeakMemory() as memory:
        started = time.perf_counter()
        message = refused(data, "wide.csv")
        seconds = time.perf_counter() - started
    assert message.startswith("This file has more than 500 columns (the limit is 500 columns).")
    assert "CRM_IMPORT_MAX_COLUMNS" in message
    # Counted while reading: a few chunks of the header, not a list of its columns (0.4 s
    # here; the bound is generous for a loaded machine: before, 28 s or more).
    assert seconds < 15, seconds
    assert memory.grew_mb < 300, memory.grew_mb


def test_columns_are_counted_as_the_csv_module_splits_them():
    limits = Limits(columns=3)
    # Delimiters inside quotes (also over several lines, and next to doubled quotes) are text.
    fine = b'a,b,c\n"x,y,z,w",2,3\n"x,\ny,\n""z"",w",2,3\n'
    source = read_source(fine, "f.csv", limits=limits)
    assert [cells for _n, cells in source.rows()] == [
        ["x,y,z,w", "2", "3"],
        ['x,\ny,\n"z",w', "2", "3"],
    ]
    assert refused(b"a,b,c,d\n1,2,3,4\n", "f.csv", limits).startswith(
        "This file has more than 3 columns"
    )
    # A row, here with a quoted line break in it, more cells than the limit.
    message = refused(b'a,b,c\n1,"2\n",3,4\n', "f.csv", limits)
    assert message.startswith("Row 2 has more than 3 cells (the limit is 3 columns).")


def test_too_many_rows_are_refused_and_empty_rows_do_not_count():
    limits = Limits(rows=3)
    assert read_source(b"a\n1\n\n2\n,\n3\n", "f.csv", limits=limits).row_count == 3
    message = refused(b"a\n1\n2\n3\n4\n", "f.csv", limits)
    assert message.startswith("This file has more than 3 rows (the limit is 3).")
    assert "CRM_IMPORT_MAX_ROWS" in message


def test_a_cell_longer_than_the_limit_is_refused_with_its_row_and_column():
    limits = Limits(cell=10)
    assert read_source(b"a,Notes\n1,0123456789\n", "f.csv", limits=limits).row_count == 1
    message = refused(b"a,Notes\n1,0123456789x\n", "f.csv", limits)
    assert message.startswith(
        "Row 2 has a cell longer than 10 characters in column “Notes” (the limit is 10 per cell)."
    )
    assert "CRM_IMPORT_MAX_CELL" in message


def test_a_runaway_cell_is_refused_before_its_line_is_read_whole():
    # One line of 20 MB with no delimiter: its one cell cannot be within the limit, which
    # is known after a chunk, before the line (or the csv module's cell) is built.
    data = b"Name\n" + b"x" * (20 * 1024 * 1024) + b"\n"
    with PeakMemory() as memory:
        message = refused(data, "f.csv")
    assert message.startswith("Row 2 has a cell longer than 32,767 characters")
    assert memory.grew_mb < 40, memory.grew_mb


# ---- XLSX -----------------------------------------------------------------------------------
def workbook_bytes(build) -> bytes:
    book = Workbook()
    build(book.active)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rewrite_sheet(data: bytes, change) -> bytes:
    """The workbook with its first sheet's XML changed by `change(xml) -> xml`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                part = change(part)
            dst.writestr(info.filename, part, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def no_dimension(xml: bytes) -> bytes:
    return re.sub(rb"<dimension[^>]*/>", b"", xml)


def people_with_a_cell_at_column_600(sheet) -> None:
    sheet.append(["First Name", "Last Name"])
    sheet.append(["Ana", "Smith"])
    sheet.cell(row=1, column=600, value="far away")


def test_a_sheet_declared_wider_than_the_limit_is_refused_before_its_rows_are_read():
    data = workbook_bytes(people_with_a_cell_at_column_600)
    message = refused(data, "people.xlsx")
    # The size the workbook declares (A1:WB2), checked before any row is read.
    assert message.startswith("The sheet “Sheet” is 600 columns wide, more than the limit of 500.")
    assert "CRM_IMPORT_MAX_COLUMNS" in message and "formatted count too" in message


def test_a_sheet_without_its_size_is_measured_while_read():
    data = rewrite_sheet(workbook_bytes(people_with_a_cell_at_column_600), no_dimension)
    message = refused(data, "people.xlsx")
    assert message.startswith("Row 1 of the sheet “Sheet” has more than 500 cells")


def test_a_sheet_declaring_too_many_rows_is_refused_before_they_are_read():
    def rows(sheet):
        sheet.append(["First Name", "Last Name"])
        for n in range(6):
            sheet.append([f"Ana{n}", "Smith"])

    data = workbook_bytes(rows)
    assert read_source(data, "p.xlsx", limits=Limits(rows=6)).row_count == 6
    assert refused(data, "p.xlsx", Limits(rows=5)).startswith(
        "This file has more than 5 rows (the limit is 5)."
    )
    # Without the declared size, the rows are counted as they are read.
    counted = rewrite_sheet(data, no_dimension)
    assert refused(counted, "p.xlsx", Limits(rows=5)).startswith("This file has more than 5 rows")


def test_a_row_of_a_huge_number_of_cells_is_refused_from_the_xml_before_openpyxl_builds_it():
    # 300,000 cells in one row, no declared size: openpyxl builds a whole row before it
    # hands it over (and reads every sheet to size it when the size is missing), which took
    # 7 s and 260 MB for this 2 MB file.
    cells = b"".join(
        b'<c t="inlineStr"><is><t>' + os.urandom(5).hex().encode() + b"</t></is></c>"
        for _ in range(300_000)
    )

    def one_huge_row(xml: bytes) -> bytes:
        xml = no_dimension(xml)
        row = b'<sheetData><row r="1">' + cells + b"</row></sheetData>"
        return re.sub(rb"<sheetData>.*</sheetData>", row, xml, flags=re.S)

    data = rewrite_sheet(workbook_bytes(lambda sheet: sheet.append(["a"])), one_huge_row)
    with PeakMemory() as memory:
        message = refused(data, "huge.xlsx")
    assert message.startswith("A sheet of this workbook has more than 500 columns")
    # Refused from the sheet's XML before openpyxl builds the row (before: 7 s and 260 MB).
    assert memory.grew_mb < 50, memory.grew_mb


def test_a_long_cell_in_a_workbook_is_refused():
    def long_note(sheet):
        sheet.append(["First Name", "Notes"])
        sheet.append(["Ana", "x" * 11])

    message = refused(workbook_bytes(long_note), "p.xlsx", Limits(cell=10))
    assert message.startswith("Row 2 has a cell longer than 10 characters in column “Notes”")


# ---- vCard ----------------------------------------------------------------------------------
def card(number: int, *lines: str) -> str:
    body = "".join(line + "\r\n" for line in lines)
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Smith{number};Ana\r\n{body}END:VCARD\r\n"


def test_vcard_limits_on_cards_lines_values_and_columns():
    limits = Limits(rows=2, cell=20, vcard_properties=5)
    two = (card(1) + card(2)).encode()
    assert read_source(two, "a.vcf", limits=limits).row_count == 2
    message = refused((card(1) + card(2) + card(3)).encode(), "a.vcf", limits)
    assert message.startswith("This file has more than 2 contact cards (the limit is 2).")
    message = refused(card(1, *(f"TEL:+1555010{n}" for n in range(4))).encode(), "a.vcf", limits)
    assert message.startswith("Card 1 has more than 5 lines (the limit is 5 per card).")
    assert "CRM_IMPORT_MAX_VCARD_PROPERTIES" in message
    message = refused(card(1, "NOTE:" + "x" * 21).encode(), "a.vcf", limits)
    assert message.startswith("Card 1 has a value longer than 20 characters")
    # A photo is never imported: its size is not a value's.
    photo = card(1, "PHOTO;ENCODING=b;TYPE=JPEG:" + "A" * 5000).encode()
    assert read_source(photo, "a.vcf", limits=limits).row_count == 1
    # Each phone takes columns of its own (number, type, extension).
    many_phones = card(1, *(f"TEL:+1555010{n}" for n in range(10))).encode()
    message = refused(many_phones, "a.vcf", Limits(columns=40))
    assert message.startswith("A card of this file has so many phones, addresses or links")
