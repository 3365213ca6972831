"""Reading an uploaded file into a table of text cells: CSV, XLSX or vCard.

`read_source(data, filename)` recognises the format (by content first, then by the file's
extension), checks the whole file once (so that a bad file is refused before anything is
imported) and returns a `Source`: its headers, some details (encoding and delimiter, sheets,
vCard versions), how many rows it has, and `rows()`, a generator that reads the rows again
from the bytes, one at a time, as `Row(number, cells)`. Row numbers are what a spreadsheet
shows (the header is row 1) and, for vCard files, the number of the card.

Every file that cannot be read raises `SourceError` with a message fit for the user. A file
beyond the import limits (`Limits`: columns, rows, characters per cell, lines per vCard card)
raises `LimitExceeded`, a SourceError naming the limit and its setting. The limits are
checked while the file is read, before any work grows with them: a CSV line is counted in
chunks before the csv module splits it, a workbook's sheets are counted in their XML before
openpyxl builds a row, and its declared size is checked before any row is read.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import PurePath
from typing import Any, NamedTuple

from crm.services.transfer.importing.limits import (
    DEFAULT_LIMITS,
    LimitExceeded,
    Limits,
    SourceError,
    check_cells,
    raise_it,
    too_long_cell,
    too_many_columns,
    too_many_rows,
)

MAX_BYTES = 50 * 1024 * 1024  # the largest upload read
# A workbook is a zip archive: refuse one that would unpack to more than this, or whose
# large members are compressed more than MAX_RATIO times (a "zip bomb"), before any XML
# parser sees it. zipfile itself stops reading a member at its declared size.
MAX_UNPACKED = 200 * 1024 * 1024
MAX_RATIO = 100
RATIO_CHECKED_FROM = 4 * 1024 * 1024  # smaller members may compress as well as they like
MAX_MEMBERS = 10_000
SAMPLE_CHARS = 16 * 1024  # text read to find a CSV file's delimiter (csv.Sniffer is slow)
DELIMITERS = ",;\t|"
MAX_LISTED_ROWS = 5  # rows named in a message about several rows

_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "utf-32-le": "UTF-32 LE",
    "utf-32-be": "UTF-32 BE",
    "cp1252": "Windows-1252",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
}
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
_BOMS = [  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]
# Encodings of Latin script, between which charset-normalizer guesses poorly on short
# texts (German in Windows-1252 comes back as Windows-1250): Windows-1252 is preferred
# among them unless it turns letters into symbols (Polish "Ł" read as "£").
_LATIN = {
    "cp1252", "cp1250", "cp1257", "cp1254", "cp1258", "latin_1", "iso8859_2", "iso8859_3",
    "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
    "iso8859_16", "mac_roman", "mac_latin2", "mac_iceland", "mac_turkish", "cp437", "cp850",
    "cp852", "cp858", "cp775",
}  # fmt: skip


class _StrayQuote(Exception):
    """Text after a closing quote: the file is read again with lenient quoting."""


class Row(NamedTuple):
    number: int  # as a spreadsheet counts rows (the header is row 1), or the card's number
    cells: list[str]  # as many as there are headers


@dataclass
class Source:
    """A readable file: its headers and a way to read its rows again, one at a time."""

    format: str  # "csv", "xlsx" or "vcard"
    headers: list[str]
    details: dict[str, Any]  # csv: encoding, delimiter; xlsx: sheets, sheet; vcard: versions
    row_count: int  # the rows after the header that are not empty
    _read_rows: Callable[[], Iterator[Row]] = field(repr=False)

    def rows(self) -> Iterator[Row]:
        """The rows after the header, read lazily (fully empty rows are skipped)."""
        return self._read_rows()

    def preview(self, limit: int = 10) -> list[Row]:
        return list(islice(self.rows(), limit))

    @property
    def summary(self) -> str:
        """What was found, for people: "CSV, Windows-1252, separated by semicolons"."""
        details = self.details
        if self.format == "csv":
            encoding = _ENCODING_NAMES.get(details["encoding"], details["encoding"])
            delimiter = _DELIMITER_NAMES.get(details["delimiter"], repr(details["delimiter"]))
            return f"CSV, {encoding}, separated by {delimiter}s"
        if self.format == "xlsx":
            return f"Excel workbook, sheet “{details['sheet']}”"
        return "vCard " + ", ".join(details["versions"])


def read_source(
    data: bytes,
    filename: str,
    *,
    sheet: str | None = None,
    max_bytes: int = MAX_BYTES,
    limits: Limits = DEFAULT_LIMITS,
) -> Source:
    """The file `data` (uploaded as `filename`) as a table; SourceError when it cannot be read,
    LimitExceeded when it holds more than `limits`. `sheet` chooses a workbook's sheet (the
    first one by default)."""
    if len(data) > max_bytes:
        raise SourceError(
            f"The file is {_size(len(data))}: files of up to {_size(max_bytes)} can be imported."
        )
    if not data or data.isspace():
        raise SourceError("The file is empty.")
    kind = detect_format(data, filename)
    if kind == "xlsx":
        return _read_xlsx(data, sheet, limits)
    if kind == "vcard":
        return _read_vcard(data, filename, limits)
    return _read_csv(data, filename, limits)


def detect_format(data: bytes, filename: str) -> str:
    """The format of a file, "xlsx", "vcard" or "csv": by content (a zip holding a workbook,
    a text starting with BEGIN:VCARD), else by the file's extension; else CSV."""
    extension = PurePath(filename or "").suffix.casefold()
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            names = set()
        if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
            return "xlsx"
    head = data[:4096]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :].decode(encoding, errors="ignore").encode("ascii", "ignore")
            break
    if head.lstrip()[:11].upper() == b"BEGIN:VCARD":
        return "vcard"
    if extension in (".xlsx", ".xlsm"):
        return "xlsx"
    if extension in (".vcf", ".vcard"):
        return "vcard"
    return "csv"


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def _rows_in_words(numbers: list[int], total: int) -> str:
    """ "row 3", "rows 3 and 5", "rows 3, 5, 8 and 12 more"."""
    shown = [str(n) for n in numbers]
    if total > len(numbers):
        return f"rows {', '.join(shown)} and {total - len(numbers)} more"
    if len(shown) == 1:
        return f"row {shown[0]}"
    return f"rows {', '.join(shown[:-1])} and {shown[-1]}"


class _TableChecker:
    """Counts the rows while checking the whole file: a row may have fewer cells than the
    header (they are padded) or more empty ones, but no more filled ones."""

    def __init__(self, headers: list[str], limits: Limits, what: str = "rows"):
        self.headers = headers
        self.width = len(headers)
        self.limits = limits
        self.what = what
        self.rows = 0
        self.too_long: list[int] = []
        self.too_long_count = 0
        self.longest = 0

    def check(self, number: int, cells: list[str]) -> None:
        self.rows += 1
        if self.rows > self.limits.rows:
            raise too_many_rows(self.limits, self.what)
        check_cells(cells, self.limits, number, self.headers)
        if len(cells) > self.width and any(c.strip() for c in cells[self.width :]):
            self.too_long_count += 1
            self.longest = max(self.longest, len(cells))
            if len(self.too_long) < MAX_LISTED_ROWS:
                self.too_long.append(number)

    def finish(self) -> None:
        if self.too_long_count:
            rows = _rows_in_words(self.too_long, self.too_long_count)
            raise SourceError(
                f"The header has {self.width} columns but {rows} "
                f"{'has' if self.too_long_count == 1 else 'have'} more filled cells "
                f"(up to {self.longest}): give the extra columns a header, or check that "
                "the file is separated the way it looks."
            )
        if self.rows == 0:
            raise SourceError("The file has a header but no rows.")


def _fitted(rows: Iterable[Row], width: int) -> Iterator[Row]:
    """Rows cut or padded to the header's width (the file was checked when it was read)."""
    for number, cells in rows:
        if len(cells) > width:
            cells = cells[:width]
        elif len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        yield Row(number, cells)


def _headers(cells: list[str]) -> list[str]:
    """Header names trimmed, without the empty ones at the end of the row."""
    headers = [" ".join(c.split()) for c in cells]
    while headers and not headers[-1]:
        headers.pop()
    return headers


def _is_empty(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


# ---- CSV ------------------------------------------------------------------------------------
def _read_csv(data: bytes, filename: str, limits: Limits) -> Source:
    encoding = detect_encoding(data, filename)
    sample = _open_text(data, encoding).read(SAMPLE_CHARS)
    if _looks_binary(sample):
        raise SourceError(_binary_message(filename))
    delimiter = detect_delimiter(sample)
    strict = True

    def table(strict_quotes: bool) -> Iterator[Row]:
        """Header first, then the rows that are not empty; csv errors name their row. The
        csv reader gets its lines from a _LineGuard, which refuses a row beyond the limits
        before the csv module splits it into cells."""
        lines = _LineGuard(_open_text(data, encoding), delimiter, limits)
        reader = csv.reader(lines, delimiter=delimiter, strict=strict_quotes)
        number = 0
        try:
            for number, cells in enumerate(reader, start=1):  # noqa: B007 - used after the loop
                lines.next_record(number + 1)
                if cells and not _is_empty(cells):
                    yield Row(number, [_one_newline(c) for c in cells])
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise SourceError(
                    f'Row {number + 1} opens a quoted cell (") that is never closed, so the '
                    "rest of the file would be read as one cell: check its quotes."
                ) from None
            if strict_quotes and "expected after" in str(exc):
                raise _StrayQuote from None
            if "field larger than field limit" in str(exc):  # the csv module's own limit
                raise too_long_cell(
                    replace(limits, cell=min(limits.cell, csv.field_size_limit())),
                    f"Row {number + 1}",
                ) from None
            raise SourceError(f"Row {number + 1} cannot be read: {exc}.") from None

    # Strict quoting finds a quote left open (which would swallow the rest of the file);
    # a file with text after a closing quote ("a" b) is then read leniently, as Excel does.
    try:
        header, width, count = _check_csv(table(True), limits)
    except _StrayQuote:
        strict = False
        header, width, count = _check_csv(table(False), limits)

    def rows() -> Iterator[Row]:
        body = table(strict)
        next(body)  # the header
        return _fitted(body, width)

    details = {"encoding": encoding, "delimiter": delimiter}
    return Source("csv", header, details, count, rows)


def _one_newline(cell: str) -> str:
    """Line breaks inside a cell as "\\n" (Windows writes "\\r\\n")."""
    return cell.replace("\r\n", "\n").replace("\r", "\n") if "\r" in cell else cell


def _check_csv(table: Iterator[Row], limits: Limits) -> tuple[list[str], int, int]:
    first = next(table, None)
    if first is None:
        raise SourceError("The file is empty.")
    check_cells(first.cells, limits, first.number, [])
    headers = _headers(first.cells)
    checker = _TableChecker(headers, limits)
    for number, cells in table:
        checker.check(number, cells)
    checker.finish()
    return headers, len(headers), checker.rows


class _LineGuard:
    """The lines of a CSV text, as csv.reader takes them, read in chunks and counted before
    the csv module sees them: a row with more columns than the limit, or longer than its
    cells can be, is refused after reading at most one chunk past the limit, never split
    into a list of a million cells. (csv.reader splits a whole line at once, and
    csv.field_size_limit is one setting for the whole process, so neither can do this.)

    Per record: the delimiters in its lines bound its columns from above, at C speed; only
    when that bound passes the limit (delimiters inside quoted cells) are the columns
    counted exactly (_FieldCounter), which stops one cell past the limit."""

    CHUNK = 64 * 1024  # characters read at a time

    def __init__(self, stream: io.TextIOBase, delimiter: str, limits: Limits):
        self.stream = stream
        self.delimiter = delimiter
        self.limits = limits
        # A field of at most `cell` characters takes at most twice as many in the file
        # (quotes and line breaks doubled), two quotes and a delimiter.
        self.per_field = 2 * limits.cell + 3
        self.columns = limits.columns
        self.readline = stream.readline
        self.number = 1
        self.delimiters = self.chars = 0
        self.lines: list[str] = []  # the record's lines so far (for an exact count)
        self.counter: _FieldCounter | None = None

    def next_record(self, number: int) -> None:
        """The csv reader returned a record: the next line starts row `number`."""
        self.number = number
        if self.lines:
            self.delimiters = self.chars = 0
            self.lines = []
            self.counter = None

    def __iter__(self) -> _LineGuard:
        return self

    def __next__(self) -> str:
        line = self.readline(self.CHUNK)
        if not line:
            raise StopIteration
        # The usual line: whole, few delimiters, short enough for its cells.
        if line[-1] in "\r\n" and self.counter is None:
            delimiters = self.delimiters + line.count(self.delimiter)
            chars = self.chars + len(line)
            if delimiters < self.columns and chars <= (delimiters + 1) * self.per_field + 2:
                self.delimiters, self.chars = delimiters, chars
                self.lines.append(line)
                return line
        parts: list[str] = []
        while line:
            self._count(line, parts)
            parts.append(line)
            if line[-1] in "\r\n":
                break
            line = self.readline(self.CHUNK)
        line = "".join(parts)
        self.lines.append(line)
        return line

    def _count(self, chunk: str, parts: list[str]) -> None:
        limits = self.limits
        self.delimiters += chunk.count(self.delimiter)
        self.chars += len(chunk)
        if self.counter is None and self.delimiters >= limits.columns:
            self.counter = _FieldCounter(self.delimiter, limits.columns)
            for earlier in (*self.lines, *parts):
                self.counter.feed(earlier)
        if self.counter is not None:
            self.counter.feed(chunk)
            if self.counter.fields > limits.columns:
                where = "This file" if self.number == 1 else f"Row {self.number}"
                raise too_many_columns(limits, where)
            fields = self.counter.fields
        else:
            fields = self.delimiters + 1
        if self.chars > fields * self.per_field + 2:  # one of its cells is too long
            raise too_long_cell(limits, f"Row {self.number}")


class _FieldCounter:
    """Counts the cells of one CSV record as the csv module splits it (quotes, doubled
    quotes, text after a closing quote), fed in pieces; stops counting past `stop`."""

    START, FIELD, QUOTED, QUOTE_IN_QUOTED = range(4)

    def __init__(self, delimiter: str, stop: int):
        self.delimiter = delimiter
        self.stop = stop
        self.unquoted = re.compile(f"[^{re.escape(delimiter)}\r\n]*")
        self.fields = 1
        self.state = self.START

    def feed(self, text: str) -> None:
        position, end = 0, len(text)
        while position < end and self.fields <= self.stop:
            if self.state == self.QUOTED:
                position = text.find('"', position)
                if position < 0:
                    return
                position += 1
                self.state = self.QUOTE_IN_QUOTED
                continue
            char = text[position]
            if self.state == self.QUOTE_IN_QUOTED and char == '"':  # a doubled quote
                self.state = self.QUOTED
                position += 1
                continue
            if self.state == self.START and char == '"':
                self.state = self.QUOTED
                position += 1
                continue
            position = self.unquoted.match(text, position).end()
            if position >= end:
                self.state = self.FIELD
                return
            if text[position] == self.delimiter:
                self.fields += 1
                self.state = self.START
                position += 1
            else:  # a line break outside quotes ends the record
                return


def _open_text(data: bytes, encoding: str) -> io.TextIOWrapper:
    """The bytes as a text stream (newline="" as the csv module wants), BOM skipped."""
    start = 0
    for bom, name in _BOMS:
        if encoding == name and data.startswith(bom):
            start = len(bom)
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    return io.TextIOWrapper(io.BytesIO(data[start:]), encoding=codec, newline="")


def detect_encoding(data: bytes, filename: str = "") -> str:
    """The codec of a text file: a BOM says it; else UTF-16 without a BOM, UTF-8 when every
    byte fits, else the likeliest single-byte encoding (charset-normalizer, Windows-1252
    preferred among Latin ones). SourceError for binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            if not _decodes(data[len(bom) :], encoding):
                raise SourceError(
                    f"The file starts as {_ENCODING_NAMES[encoding]} text but is not: "
                    "save it again as CSV (UTF-8)."
                )
            return encoding
    if b"\x00" in data:
        utf16 = _utf16_without_bom(data)
        if utf16 and _decodes(data, utf16):
            return utf16
        raise SourceError(_binary_message(filename))
    if _decodes(data, "utf-8"):
        return "utf-8"
    encoding = _single_byte_encoding(data)
    if encoding is None:
        raise SourceError(_binary_message(filename))
    return encoding


def _decodes(data: bytes, encoding: str, chunk: int = 1024 * 1024) -> bool:
    """Whether all of `data` decodes, checked a chunk at a time (memory stays flat)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        for start in range(0, len(data), chunk):
            decoder.decode(data[start : start + chunk])
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _utf16_without_bom(data: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" when every other byte of the start is NUL (mostly ASCII
    text in UTF-16), else None."""
    sample = data[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    odd_nul = sample[1::2].count(0) / pairs
    even_nul = sample[0::2].count(0) / pairs
    if odd_nul > 0.6 and even_nul < 0.1:
        return "utf-16-le"
    if even_nul > 0.6 and odd_nul < 0.1:
        return "utf-16-be"
    return None


def _single_byte_encoding(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    guess = best.encoding if best is not None else None
    if guess is not None and guess not in _LATIN and _decodes(data, guess):
        return guess  # Cyrillic, Greek, ... as charset-normalizer found
    candidates = [e for e in ("cp1252", "cp1250", guess) if e and _decodes(data, e)]
    if not candidates:
        return None
    # The first (Windows-1252) unless another Latin encoding reads fewer letters as symbols.
    sample = data[: 256 * 1024]
    scores = {e: _symbols_in_words(sample.decode(e, errors="ignore")) for e in candidates}
    return min(candidates, key=lambda e: scores[e])


_WORD_SYMBOL = re.compile(r"(?<=[^\W\d_])[^\w\s]|[^\w\s](?=[^\W\d_])")


def _symbols_in_words(text: str) -> int:
    """Non-ASCII symbols touching a letter ("£ukasz"); quotes and dashes do not count."""
    count = 0
    for match in _WORD_SYMBOL.finditer(text):
        char = match.group()
        if ord(char) > 127 and unicodedata.category(char) not in ("Pi", "Pf", "Ps", "Pe", "Pd"):
            count += 1
    return count


def _looks_binary(text: str) -> bool:
    """Control characters (but tabs, line breaks and DOS's end of file) in more than 1% of
    the text."""
    if not text:
        return False
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v\x1a")
    return controls > len(text) / 100


def _binary_message(filename: str) -> str:
    name = f"“{PurePath(filename).name}”" if filename else "This file"
    return f"{name} is not a text file (it holds binary data): upload a CSV, XLSX or vCard file."


def detect_delimiter(sample: str) -> str:
    """The delimiter among , ; TAB | : csv.Sniffer's when it gives the header as many
    columns as any other and the rows the same count; else the one giving the header the
    most columns, consistently (a comma for a file of one column)."""
    lines = sample
    if len(sample) >= SAMPLE_CHARS and "\n" in sample:
        lines = sample[: sample.rindex("\n") + 1]  # whole lines only
    shape = {d: _shape(lines, d) for d in DELIMITERS}

    def plausible(d: str) -> bool:
        columns, consistency = shape[d]
        return columns > 1 and consistency >= 0.8

    best = max(DELIMITERS, key=lambda d: (plausible(d), shape[d][0], shape[d][1]))
    try:
        sniffed = csv.Sniffer().sniff(lines, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in shape and plausible(sniffed) and shape[sniffed][0] >= shape[best][0]:
        return sniffed
    return best if shape[best][0] > 1 else ","


def _shape(text: str, delimiter: str) -> tuple[int, float]:
    """(columns of the header, share of the next rows with that many cells)."""
    try:
        rows = [r for r in islice(csv.reader(io.StringIO(text), delimiter=delimiter), 101) if r]
    except csv.Error:
        return 0, 0.0
    if not rows:
        return 0, 0.0
    header, body = len(rows[0]), rows[1:]
    if not body:
        return header, 1.0
    return header, sum(1 for r in body if len(r) == header) / len(body)


# ---- XLSX -----------------------------------------------------------------------------------
def _read_xlsx(data: bytes, sheet: str | None, limits: Limits = DEFAULT_LIMITS) -> Source:
    check_archive(data)
    check_sheet_rows(data, limits)
    with _workbook(data) as workbook:
        sheets = [ws.title for ws in workbook.worksheets]
        if not sheets:
            raise SourceError("This workbook has no sheet of cells.")
        chosen = _choose_sheet(sheets, sheet)
        _check_declared_size(workbook[chosen], limits)
        table = _sheet_rows(workbook, chosen, limits)
        first = next(table, None)
        if first is None:
            others = [s for s in sheets if s != chosen]
            hint = f" Its other sheets: {_quoted(others)}." if others else ""
            raise SourceError(f"The sheet “{chosen}” is empty.{hint}")
        check_cells(first.cells, limits, first.number, [])
        headers = _headers(first.cells)
        checker = _TableChecker(headers, limits)
        for number, cells in table:
            checker.check(number, cells)
        checker.finish()

    def rows() -> Iterator[Row]:
        with _workbook(data) as workbook:
            body = _sheet_rows(workbook, chosen, limits)
            next(body)
            yield from _fitted(body, len(headers))

    details = {"sheets": sheets, "sheet": chosen}
    return Source("xlsx", headers, details, checker.rows, rows)


EXCEL_MAX_ROWS = 1_048_576  # the last row a sheet can have
_FORMATTED_CELLS = (
    " Empty cells that are formatted count too: delete the columns after your data in the "
    "spreadsheet, or save the sheet as CSV."
)


def _check_declared_size(sheet: Any, limits: Limits) -> None:
    """Refuse a sheet whose declared size (the dimension a workbook records, e.g. A1:WB20)
    is beyond the limits, before reading a row. A missing or lying dimension is caught
    while reading (_sheet_rows, check_sheet_rows)."""
    if sheet.max_column is not None and sheet.max_column > limits.columns:
        raise LimitExceeded(
            f"The sheet “{sheet.title}” is {sheet.max_column:,} columns wide, more than the "
            f"limit of {limits.columns:,}. Remove the columns you do not need, or "
            f"{raise_it('CRM_IMPORT_MAX_COLUMNS')}.{_FORMATTED_CELLS}"
        )
    if sheet.max_row is not None and sheet.max_row - (sheet.min_row or 1) > limits.rows:
        raise too_many_rows(limits)


# A row's start, or the end of the sheet's rows (what follows is not in a row).
_XML_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]|</(?:[A-Za-z_][\w.-]*:)?sheetData>")
_XML_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_XML_CHUNK = 256 * 1024
_MOST_TAGS_PER_CELL = 100  # rich text in inline strings; more is not a spreadsheet's row


def check_sheet_rows(data: bytes, limits: Limits) -> None:
    """Refuse a workbook with a row of more cells than the column limit, from the XML of its
    parts read in chunks, before openpyxl sees it: openpyxl builds a whole row in memory
    before it hands over its cells, and reads every sheet when it opens a workbook whose
    sheets do not declare their size. The tags of a row bound its cells from above at C
    speed; the cells of a row with many tags are counted exactly."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if member.filename.endswith(".xml") and member.file_size > limits.columns * 4:
                with archive.open(member) as part:
                    _check_rows_of_part(part, limits)


def _check_rows_of_part(part: Any, limits: Limits) -> None:
    carry = b""  # the end of the last chunk, from its last "<" (a tag cut in two)
    in_row = exact = False
    tags = cells = 0  # of the row being read, so far (cells once counted exactly)
    held: list[bytes] = []  # the row's XML in earlier chunks, until its cells are counted
    held_size = 0

    def count_cells(text: bytes, begin: int = 0, end: int | None = None) -> int:
        return len(_XML_CELL.findall(text, begin, len(text) if end is None else end))

    while True:
        chunk = part.read(_XML_CHUNK)
        data, carry = carry + chunk, b""
        if chunk:
            cut = data.rfind(b"<", max(0, len(data) - 64))
            if cut >= 0:
                data, carry = data[:cut], data[cut:]
        marks = list(_XML_ROW.finditer(data))
        starts = [0, *(m.start() for m in marks)]
        ends = [*(m.start() for m in marks), len(data)]
        for index, (begin, end) in enumerate(zip(starts, ends, strict=True)):
            if index:  # a row starts here, or the rows end
                in_row = not marks[index - 1].group().startswith(b"</")
                exact, tags, cells, held, held_size = False, 0, 0, [], 0
            if not in_row:
                continue
            tags += data.count(b"<", begin, end)
            if exact:
                cells += count_cells(data, begin, end)
            elif tags > limits.columns or held_size > _XML_CHUNK:  # count them
                exact = True
                cells = sum(map(count_cells, held)) + count_cells(data, begin, end)
                held = []
            if cells > limits.columns or tags > limits.columns * _MOST_TAGS_PER_CELL:
                raise too_many_columns(limits, "A sheet of this workbook")
        if in_row and not exact:
            held.append(data[starts[-1] :])
            held_size += len(held[-1])
        if not chunk:
            return


def check_archive(data: bytes) -> None:
    """Refuse a zip that is not a workbook, or that would unpack to too much (a zip bomb),
    from its directory alone: nothing is decompressed here."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise SourceError(
            "This file is not an Excel workbook (.xlsx) that can be opened: save it again "
            "from Excel as .xlsx, or as CSV."
        ) from None
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise SourceError(
            "This file is a zip archive but not an Excel workbook (.xlsx): save it again from "
            "Excel as .xlsx, or as CSV."
        )
    if len(members) > MAX_MEMBERS:
        raise SourceError(f"This workbook holds {len(members)} parts: it is refused.")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNPACKED:
        raise SourceError(
            f"This workbook would unpack to {_size(unpacked)}, more than the "
            f"{_size(MAX_UNPACKED)} that can be read: it is refused (a zip bomb?). Split it "
            "into smaller files or save it as CSV."
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_CHECKED_FROM and ratio > MAX_RATIO:
            raise SourceError(
                f"A part of this workbook ({member.filename}) is compressed {ratio:.0f} times "
                f"({_size(member.file_size)} unpacked), far more than a real workbook: it is "
                "refused (a zip bomb?)."
            )


class _workbook:  # noqa: N801 - used as a context manager, like open()
    """The workbook opened read-only (computed values, not formulas), closed on exit."""

    def __init__(self, data: bytes):
        from openpyxl import load_workbook

        try:
            # Features of the file we do not read (data validation, conditional formats,
            # missing default styles) are warned about by openpyxl: only while loading, and
            # only openpyxl's own UserWarnings, are they ignored.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")
                self.book = load_workbook(
                    io.BytesIO(data), read_only=True, data_only=True, keep_links=False
                )
        except Exception as exc:  # noqa: BLE001 - any failure to parse is a bad workbook
            raise SourceError(
                "This file is not an Excel workbook (.xlsx) that can be opened "
                f"({type(exc).__name__}): save it again from Excel as .xlsx, or as CSV."
            ) from None

    def __enter__(self):
        return self.book

    def __exit__(self, *exc_info: object) -> None:
        self.book.close()


def _choose_sheet(sheets: list[str], wanted: str | None) -> str:
    if not wanted:
        return sheets[0]
    if wanted in sheets:
        return wanted
    folded = [s for s in sheets if s.strip().casefold() == wanted.strip().casefold()]
    if folded:
        return folded[0]
    raise SourceError(f"This workbook has no sheet “{wanted}”. Its sheets are: {_quoted(sheets)}.")


def _quoted(names: list[str]) -> str:
    return ", ".join(f"“{n}”" for n in names)


def _sheet_rows(workbook: Any, title: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[Row]:
    """The sheet's rows that are not empty, numbered as Excel shows them; a row wider than
    the column limit (its last cell, formatted or not) is refused."""
    sheet = workbook[title]
    sheet.reset_dimensions()  # read every row, whatever size the file claims
    try:
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            if len(cells) > limits.columns:
                raise too_many_columns(limits, f"Row {number} of the sheet “{title}”")
            if number > EXCEL_MAX_ROWS:
                raise SourceError(
                    f"The sheet “{title}” has rows after row {EXCEL_MAX_ROWS:,}, which Excel "
                    "cannot hold: save the workbook again from Excel, or as CSV."
                )
            texts = [_cell_text(c) for c in cells]
            if not _is_empty(texts):
                yield Row(number, texts)
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken sheet, found while reading
        raise SourceError(
            f"The sheet “{title}” cannot be read ({type(exc).__name__}): save the workbook "
            "again from Excel, or as CSV."
        ) from None


def _cell_text(cell: Any) -> str:
    value = cell.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number_format = cell.number_format
        except (IndexError, KeyError, AttributeError):  # a style the file does not define
            number_format = "General"
        return cell_text(value, number_format)
    return cell_text(value)


_ZERO_PADDED = re.compile(r"0+")


def cell_text(value: object, number_format: str | None = "General") -> str:
    """A cell's value as the user sees it: dates as 2024-01-31, whole numbers without ".0"
    (a phone number stored as a number stays whole, its leading zeros kept when the cell's
    format shows them), other numbers without exponent."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, int | float):
        return _number_text(value, number_format or "General")
    return str(value)


def _number_text(value: int | float, number_format: str) -> str:
    if number_format.endswith("%"):
        decimals = len(number_format.partition(".")[2].rstrip("%"))
        return f"{value * 100:.{decimals}f}%"
    if isinstance(value, float):
        if not value.is_integer() or abs(value) >= 1e16:
            # 15 significant digits, as Excel shows; no exponent
            return format(Decimal(f"{value:.15g}").normalize(), "f")
        value = int(value)
    text = str(value)
    if value >= 0 and _ZERO_PADDED.fullmatch(number_format):
        text = text.zfill(len(number_format))
    return text


# ---- vCard ----------------------------------------------------------------------------------
def _read_vcard(data: bytes, filename: str, limits: Limits = DEFAULT_LIMITS) -> Source:
    from crm.services.transfer.importing import vcard

    encoding = detect_encoding(data, filename)
    table = vcard.read_cards(lambda: _open_text(data, encoding), limits)
    if table.count == 0:
        raise SourceError(
            "No contact card was found in this vCard file (BEGIN:VCARD ... END:VCARD)."
        )

    def rows() -> Iterator[Row]:
        for number, cells in table.rows():
            yield Row(number, cells)

    details = {"versions": table.versions, "encoding": encoding}
    return Source("vcard", table.headers, details, table.count, rows)
