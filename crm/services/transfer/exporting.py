"""Exports of contacts: our own format as CSV or XLSX (what imports recognise, see
`crm.services.transfer.importing.targets`), and vCard 4.0 for phones and address books.

Columns: `own_headers(phones, addresses, social_links)`, the slot counts being the most
phones, addresses and social links any exported contact has. The values:
- "CRM id" is the contact's id; "Contact type" is "B2B" or "B2C"; "Account" is the company's
  name, empty for B2C contacts (their hidden account is not a company);
- customer status, prospect status, gender and contact preference are their labels as the
  app shows them ("Non-customer", "Lost prospect", "Prefer not to say", "Work phone"): they
  read best in a spreadsheet and parse back unambiguously (within each list no label is
  another member's value, and labels and values compare equal case-insensitively only for
  the same member), so the importer accepts labels and values alike;
- yes/no flags are "yes" / "no"; the birthday is an ISO date (1980-05-17, --05-17 without
  the year); owner and
  responsible user are their emails; tags (by name, A to Z) and categories are joined with
  OWN_LIST_SEPARATOR ("; ");
- a phone is its type by name, its number in international format ("+44 7400 123456", the
  number as typed when it has no E.164 form) and its extension; an address is its type by
  name, its parts and its ISO country code; a social link is its platform by name and its
  profile URL (the handle as typed when it has none).

Spreadsheet formulas are made inert, Unicode is kept as it is:
- CSV (UTF-8 with a byte-order mark so Excel reads accents right, commas, CRLF): a value that
  begins with = + - @ tab or CR, or with apostrophes followed by one of those, gets one more
  apostrophe in front ("=1+1" is written "'=1+1"). `restore_neutralised` (for imports) takes
  one apostrophe off such a cell, so importing an export gives back the exact value;
- XLSX (one sheet "Contacts", bold header): every value is a text cell, never a formula (and
  one that looks like a formula carries Excel's quote prefix, so editing it keeps it text).
  A cell holds at most 32,767 characters (Excel's limit; longer notes are cut) and characters
  XML cannot carry (control characters) become U+FFFD. A sheet holds 1,048,575 contacts: more
  continue on "Contacts 2", ... with the header repeated.

vCard 4.0 (RFC 6350, UTF-8, CRLF, lines folded at 75 octets): FN, N, ORG (company;
department, B2B only), TITLE, EMAIL (the primary one PREF=1), TEL with TYPE from the phone
type (Mobile cell, Work work,voice, Home home,voice, Fax fax, else voice) as
VALUE=uri:tel:+E164;ext=N (text when there is no E.164 form), ADR (TYPE home for Home
addresses and for consumers, work otherwise), BDAY, GENDER, LANG, TZ, NOTE, URL,
CATEGORIES (the tags), X-SOCIALPROFILE (TYPE the platform), UID (`contact_uid`: a UUID the
contact id can be read back from) and REV. An address's two street lines are two values of
its street component, its country is the country's English name ("Germany").

Contacts are read as plain rows (no ORM objects), by one query streamed in id order, in
chunks of CHUNK: each chunk costs five small queries (phones, addresses, social links,
tags, categories, by contact id), so memory stays flat whatever the size. Only the contacts
the actor may see (`crm.services.platform.access`) of the target are exported; exporting needs
`contact.export`. The writers never commit; `record_export` writes the history entry.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Select, String, func, select, type_coerce

from crm.auth.permissions import Actor, can
from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models import (
    Account,
    Address,
    AddressType,
    Category,
    Contact,
    ContactKind,
    ContactPreference,
    CustomerStatus,
    Gender,
    Phone,
    PhoneType,
    ProspectStatus,
    SocialLink,
    SocialPlatform,
    Tag,
    User,
    contact_categories,
    contact_tags,
)
from crm.services.platform import audit
from crm.services.platform.access import contact_visibility
from crm.services.platform.validation import birthday_text
from crm.services.transfer.importing.targets import (
    FORMULA_START,
    OWN_FIELDS,
    OWN_LIST_SEPARATOR,
    contact_uid,
    neutralise,
    own_headers,
)

CHUNK = 1000
Progress = Callable[[int], None]  # told how many contacts each chunk wrote


@dataclass(frozen=True)
class ExportFormat:
    key: str
    name: str
    label: str  # what the format choice shows
    mimetype: str


FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat("csv", "CSV", "CSV (spreadsheets)", "text/csv; charset=utf-8"),
    "xlsx": ExportFormat(
        "xlsx",
        "XLSX",
        "XLSX (Excel workbook)",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "vcf": ExportFormat(
        "vcf", "vCard", "vCard 4.0 (phones, address books)", "text/vcard; charset=utf-8"
    ),
}
_EXTENSIONS = {".csv": "csv", ".xlsx": "xlsx", ".vcf": "vcf", ".vcard": "vcf"}


def format_for_path(path: str | Path) -> str:
    """The format a file name asks for by its extension; ValueError when it names none."""
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise ValueError(f"Cannot tell the format from {suffix or 'no extension'!r}.")
    return _EXTENSIONS[suffix]


# ---- values ---------------------------------------------------------------------------------
_RISKY_FIRST = frozenset("=+-@\t\r'")  # a cell beginning otherwise is written as it is


_FIELDS = (
    "crm_id",
    "title",
    "first_name",
    "middle_name",
    "last_name",
    "kind",
    "account",
    "job_title",
    "department",
    "email",
    "email_secondary",
    "website",
    "birthday",
    "gender",
    "customer_status",
    "prospect_status",
    "contact_preference",
    "email_marketing",
    "do_not_email",
    "do_not_call",
    "timezone",
    "language",
    "owner",
    "responsible",
    "tags",
    "categories",
    "notes",
    "other_contacts",
)
if tuple(target for _, target in OWN_FIELDS) != _FIELDS:  # the row below is built in this order
    raise RuntimeError(
        "crm.services.transfer.importing.targets.OWN_FIELDS changed: update _FIELDS."
    )
_AT = {name: index for index, name in enumerate(_FIELDS)}


def _labels(enum_cls: Any) -> dict[str | None, str]:
    """Stored value -> label (the rows are read raw: see `_raw`)."""
    return {None: "", **{member.value: member.label for member in enum_cls}}


_KINDS = {ContactKind.B2B.value: "B2B", ContactKind.B2C.value: "B2C"}
_CUSTOMER = _labels(CustomerStatus)
_PROSPECT = _labels(ProspectStatus)
_GENDER = _labels(Gender)
_PREFERENCE = _labels(ContactPreference)
_YES = {True: "yes", False: "no", None: ""}  # 1 and 0 (SQLite) are True and False


class _Names(dict):
    """id -> name of a small table, read once; an id added since is read when met."""

    def __init__(self, column: Any, key: Any):
        super().__init__(tuple(row) for row in db.session.execute(select(key, column)))
        self._column, self._key = column, key

    def __missing__(self, key: int | None) -> str:
        if key is None:
            return ""
        name = db.session.scalar(select(self._column).where(self._key == key)) or ""
        self[key] = name
        return name


class _Contact:
    """One exported contact: its field texts in OWN_FIELDS order, and its repeated rows."""

    __slots__ = ("values", "phones", "addresses", "socials", "gender", "updated_at")

    def __init__(self, values: list[str], gender: Any, updated: Any):
        self.values = values
        self.gender = gender
        self.updated_at = updated
        self.phones: list[tuple[str, str, str, str]] = []  # type, number, extension, e164
        self.addresses: list[tuple[str, ...]] = []  # type, street, ..., country
        self.socials: list[tuple[str, str]] = []  # platform, URL


def _require(actor: Actor) -> None:
    if not can(actor, "contact.export"):
        raise PermissionDenied("You do not have permission to export contacts.")


def exported_ids(actor: Actor, target: Select) -> Select:
    """The ids of `target` that `actor` may see (what an export writes)."""
    # use_index=False: the gate must not drive the query (it would sort a million rows by id).
    return select(Contact.id).where(
        Contact.id.in_(target), contact_visibility(actor, use_index=False)
    )


def count_exported(actor: Actor, target: Select) -> int:
    """How many contacts an export of `target` by `actor` holds."""
    _require(actor)
    ids = exported_ids(actor, target)
    return db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0


def slot_counts(actor: Actor, target: Select) -> tuple[int, int, int]:
    """The most phones, addresses and social links one exported contact has (one query)."""
    ids = exported_ids(actor, target)

    def most(model: Any) -> Any:
        per_contact = (
            select(func.count().label("n"))
            .where(model.contact_id.in_(ids))
            .group_by(model.contact_id)
            .subquery()
        )
        return select(func.coalesce(func.max(per_contact.c.n), 0)).scalar_subquery()

    phones, addresses, socials = db.session.execute(
        select(most(Phone), most(Address), most(SocialLink))
    ).one()
    return int(phones), int(addresses), int(socials)


def _raw(column: Any) -> Any:
    """The column as the driver gives it (no enum, date or boolean conversion per row, which
    would double the time of a large export); the values are mapped below."""
    return type_coerce(column, String)


def _among(column: Any, ids: list[int]) -> Any:
    """`column` is one of the (sorted) ids: a range when they are dense (cheap to send and
    served by the contact_id indexes; rows of other contacts are skipped), else IN."""
    if ids[-1] - ids[0] < 2 * len(ids):
        return column.between(ids[0], ids[-1])
    return column.in_(ids)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the garbage collector's youngest generation less often while exporting: a chunk
    allocates tens of thousands of short-lived rows and lists (freed by reference counting,
    none in a cycle), and collecting every 700 allocations took a third of the time."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 100_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def _contacts(actor: Actor, target: Select, chunk: int) -> Iterator[list[_Contact]]:
    """The exported contacts in id order, `chunk` at a time, read as plain rows."""
    with _fewer_collections():
        yield from _read_contacts(actor, target, chunk)


def _read_contacts(actor: Actor, target: Select, chunk: int) -> Iterator[list[_Contact]]:
    users = _Names(User.email, User.id)
    phone_types = _Names(PhoneType.name, PhoneType.id)
    address_types = _Names(AddressType.name, AddressType.id)
    platforms = _Names(SocialPlatform.name, SocialPlatform.id)
    query = (
        select(
            Contact.id,
            Contact.title,
            Contact.first_name,
            Contact.middle_name,
            Contact.last_name,
            _raw(Contact.kind),
            Account.name,
            _raw(Account.is_hidden),
            Contact.job_title,
            Contact.department,
            Contact.email,
            Contact.email_secondary,
            Contact.website,
            _raw(Contact.birthday),
            _raw(Contact.gender),
            _raw(Contact.customer_status),
            _raw(Contact.prospect_status),
            _raw(Contact.contact_preference),
            _raw(Contact.email_marketing),
            _raw(Contact.do_not_email),
            _raw(Contact.do_not_call),
            Contact.timezone,
            Contact.language,
            Contact.owner_id,
            Contact.responsible_id,
            Contact.notes,
            Contact.other_contacts,
            _raw(Contact.updated_at),
        )
        .join(Account, Account.id == Contact.account_id)
        .where(Contact.id.in_(target), contact_visibility(actor, use_index=False))
        .order_by(Contact.id)
    )
    # Core rows on the session's connection (the ORM's result layer would add a third to
    # the time), streamed: a server-side cursor on PostgreSQL; SQLite steps its cursor.
    connection = db.session.connection()
    result = connection.execute(query.execution_options(yield_per=chunk))
    try:
        for rows in result.partitions():
            contacts: dict[int, _Contact] = {}
            for (
                contact_id,
                title,
                first,
                middle,
                last,
                kind,
                account,
                hidden,
                job,
                department,
                email,
                email2,
                website,
                birthday,
                gender,
                status,
                prospect,
                preference,
                marketing,
                no_email,
                no_call,
                timezone,
                language,
                owner_id,
                responsible_id,
                notes,
                other,
                updated,
            ) in rows:
                values = [
                    str(contact_id),
                    title or "",
                    first or "",
                    middle or "",
                    last or "",
                    _KINDS.get(kind, ""),
                    "" if hidden else account or "",
                    job or "",
                    department or "",
                    email or "",
                    email2 or "",
                    website or "",
                    birthday_text(birthday),
                    _GENDER[gender],
                    _CUSTOMER[status],
                    _PROSPECT[prospect],
                    _PREFERENCE[preference],
                    _YES[marketing],
                    _YES[no_email],
                    _YES[no_call],
                    timezone or "",
                    language or "",
                    users[owner_id],
                    users[responsible_id],
                    "",  # tags, below
                    "",  # categories, below
                    notes or "",
                    other or "",
                ]
                contacts[contact_id] = _Contact(values, gender, updated)
            ids = list(contacts)
            if not ids:
                continue
            found = contacts.get
            for contact_id, type_id, formatted, e164, number, extension in connection.execute(
                select(
                    Phone.contact_id,
                    Phone.phone_type_id,
                    Phone.formatted,
                    Phone.e164,
                    Phone.number,
                    Phone.extension,
                )
                .where(_among(Phone.contact_id, ids))
                .order_by(Phone.id)
            ):
                if contact := found(contact_id):
                    number = formatted or e164 or number or ""
                    contact.phones.append((phone_types[type_id], number, extension or "", e164))
            for contact_id, type_id, *parts in connection.execute(
                select(
                    Address.contact_id,
                    Address.address_type_id,
                    Address.street,
                    Address.street2,
                    Address.city,
                    Address.region,
                    Address.postal_code,
                    Address.country,
                )
                .where(_among(Address.contact_id, ids))
                .order_by(Address.id)
            ):
                if contact := found(contact_id):
                    contact.addresses.append((address_types[type_id], *(p or "" for p in parts)))
            for contact_id, platform_id, url, handle in connection.execute(
                select(
                    SocialLink.contact_id, SocialLink.platform_id, SocialLink.url, SocialLink.handle
                )
                .where(_among(SocialLink.contact_id, ids))
                .order_by(SocialLink.id)
            ):
                if contact := found(contact_id):
                    contact.socials.append((platforms[platform_id], url or handle or ""))
            _join_names(
                connection,
                contacts,
                _AT["tags"],
                select(contact_tags.c.contact_id, Tag.name)
                .join(Tag, Tag.id == contact_tags.c.tag_id)
                .where(_among(contact_tags.c.contact_id, ids))
                .order_by(Tag.key),
            )
            _join_names(
                connection,
                contacts,
                _AT["categories"],
                select(contact_categories.c.contact_id, Category.name)
                .join(Category, Category.id == contact_categories.c.category_id)
                .where(_among(contact_categories.c.contact_id, ids))
                .order_by(Category.name),
            )
            yield list(contacts.values())
    finally:
        # Closed also when the reader stops early (a download cut off): a server-side
        # cursor on PostgreSQL must not outlive it.
        result.close()


def _join_names(connection: Any, contacts: dict[int, _Contact], at: int, query: Select) -> None:
    """Put the names the query gives per contact, joined, in the contact's column `at`."""
    names: dict[int, list[str]] = {}
    for contact_id, name in connection.execute(query):
        if contact_id in contacts:
            names.setdefault(contact_id, []).append(name)
    for contact_id, listed in names.items():
        contacts[contact_id].values[at] = OWN_LIST_SEPARATOR.join(listed)


def _flat(contact: _Contact, phones: int, addresses: int, socials: int) -> list[str]:
    """The contact's row of our own format with that many slots of each kind."""
    row = list(contact.values)
    for slots, have, width in (
        (phones, [p[:3] for p in contact.phones], 3),
        (addresses, contact.addresses, 7),
        (socials, contact.socials, 2),
    ):
        for slot in range(slots):
            row.extend(have[slot] if slot < len(have) else ("",) * width)
    return row


def export_rows(
    actor: Actor, target: Select, chunk: int = CHUNK, progress: Progress | None = None
) -> tuple[list[str], Iterator[list[str]]]:
    """(the header, the rows as text) of our own format for the contacts of `target` that
    `actor` may see, in id order; values as they are (the writers make formulas inert)."""
    _require(actor)
    phones, addresses, socials = slot_counts(actor, target)

    def rows() -> Iterator[list[str]]:
        for contacts in _contacts(actor, target, chunk):
            for contact in contacts:
                yield _flat(contact, phones, addresses, socials)
            if progress is not None:
                progress(len(contacts))

    return own_headers(phones, addresses, socials), rows()


# ---- CSV ------------------------------------------------------------------------------------
class _Lines(list):
    """Where the CSV writer puts its lines (a StringIO would keep a buffer of 4 bytes a
    character as soon as one is not Latin-1)."""

    write = list.append


def csv_chunks(
    actor: Actor, target: Select, chunk: int = CHUNK, progress: Progress | None = None
) -> Iterator[bytes]:
    """The CSV file as UTF-8 bytes (with a byte-order mark), one piece per chunk of contacts
    (for a streamed download)."""
    _require(actor)
    phones, addresses, socials = slot_counts(actor, target)
    header = own_headers(phones, addresses, socials)

    def pieces() -> Iterator[bytes]:
        lines = _Lines(["\ufeff"])
        writer = csv.writer(lines, lineterminator="\r\n")
        writer.writerow(header)
        for contacts in _contacts(actor, target, chunk):
            writer.writerows(
                [
                    neutralise(value) if value[:1] in _RISKY_FIRST else value
                    for value in _flat(contact, phones, addresses, socials)
                ]
                for contact in contacts
            )
            yield "".join(lines).encode("utf-8")
            lines.clear()
            if progress is not None:
                progress(len(contacts))
        if lines:  # no contact: the header alone
            yield "".join(lines).encode("utf-8")

    return pieces()


def write_csv(
    actor: Actor, target: Select, out: BinaryIO, progress: Progress | None = None
) -> None:
    """Write the CSV file to `out` as the contacts are read."""
    for piece in csv_chunks(actor, target, progress=progress):
        out.write(piece)


# ---- XLSX -----------------------------------------------------------------------------------
XLSX_CELL_LIMIT = 32_767  # characters (UTF-16 code units) Excel holds in a cell
XLSX_ROWS = 1_048_576  # rows of a sheet, the header included
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _fit_cell(text: str) -> str:
    """`text` as an XLSX cell can hold it: no control characters, at most 32,767 units."""
    text = _NOT_IN_XML.sub("\ufffd", text)
    if len(text) > XLSX_CELL_LIMIT // 2:
        units = text.encode("utf-16-le")
        if len(units) > 2 * XLSX_CELL_LIMIT:  # cut, never inside a surrogate pair
            text = units[: 2 * XLSX_CELL_LIMIT].decode("utf-16-le", errors="ignore")
    return text


def write_xlsx(
    actor: Actor, target: Select, out: BinaryIO, progress: Progress | None = None
) -> None:
    """Write the XLSX workbook to `out` (openpyxl's write-only mode keeps the rows in a
    temporary file, not in memory, until the workbook is zipped into `out`)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    header, rows = export_rows(actor, target, progress=progress)
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)

    def new_sheet(number: int) -> Any:
        sheet = workbook.create_sheet("Contacts" if number == 1 else f"Contacts {number}")
        sheet.freeze_panes = "A2"
        cells = []
        for title in header:
            cell = WriteOnlyCell(sheet, value=title)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)
        return sheet

    def text_cell(sheet: Any, value: str) -> Any:
        if not value:
            return None
        value = _fit_cell(value)
        if not value.startswith(FORMULA_START):
            return value  # openpyxl stores a string as text unless it starts with "="
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # text, not a formula
        cell.quotePrefix = True  # and stays text when edited in Excel
        return cell

    sheets, written = 1, 0
    sheet = new_sheet(sheets)
    for row in rows:
        if written == XLSX_ROWS - 1:
            sheets, written = sheets + 1, 0
            sheet = new_sheet(sheets)
        sheet.append([text_cell(sheet, value) for value in row])
        written += 1
    workbook.save(out)


# ---- vCard ----------------------------------------------------------------------------------
_PHONE_TYPES = {"mobile": "cell", "work": "work,voice", "home": "home,voice", "fax": "fax"}
_GENDERS = {"female": "F", "male": "M", "other": "O", "unspecified": "U"}  # by stored value


def _text(value: str) -> str:
    """A vCard text value escaped (backslash, comma, semicolon, newlines)."""
    return (
        value.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _uri(value: str) -> str:
    return re.sub(r"[\x00-\x20\x7f]", "", value)


def _fold(line: str) -> bytes:
    """The content line as UTF-8, folded at 75 octets (never inside a character), CRLF."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return data + b"\r\n"
    pieces, start, width = [], 0, 75
    while start < len(data):
        end = min(start + width, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            end -= 1
        pieces.append(data[start:end])
        start, width = end, 74  # continuation lines begin with a space
    return b"\r\n ".join(pieces) + b"\r\n"


@functools.lru_cache(maxsize=512)
def country_name(code: str) -> str:
    """A country's common English name from its ISO code ("GB" -> "United Kingdom")."""
    import pycountry

    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def _social_type(platform: str) -> str:
    """The TYPE apps know a platform by: "linkedin", "twitter" for "X (Twitter)"."""
    inner = re.search(r"\(([^)]*)\)", platform)
    return re.sub(r"[^a-z0-9]+", "", (inner.group(1) if inner else platform).lower()) or "other"


def vcard_lines(contact: _Contact) -> list[str]:
    """The content lines (unfolded) of one contact's vCard."""
    v = contact.values
    first, middle, last = v[_AT["first_name"]], v[_AT["middle_name"]], v[_AT["last_name"]]
    company = v[_AT["account"]]
    lines = [
        "BEGIN:VCARD",
        "VERSION:4.0",
        f"UID:{contact_uid(int(v[_AT['crm_id']]))}",
        "FN:" + _text(" ".join(p for p in (first, middle, last) if p)),
        "N:" + ";".join(_text(p) for p in (last, first, middle, v[_AT["title"]], "")),
    ]
    if company:
        department = v[_AT["department"]]
        lines.append("ORG:" + ";".join(_text(p) for p in (company, department) if p))
    if v[_AT["job_title"]]:
        lines.append("TITLE:" + _text(v[_AT["job_title"]]))
    if v[_AT["email"]]:
        lines.append("EMAIL;PREF=1:" + _text(v[_AT["email"]]))
    if v[_AT["email_secondary"]]:
        lines.append("EMAIL:" + _text(v[_AT["email_secondary"]]))
    for index, (kind, number, extension, e164) in enumerate(contact.phones):
        name = kind.casefold()
        types = _PHONE_TYPES.get(name) or _PHONE_TYPES.get(name.split()[0] if name else "")
        params = f";TYPE={types or 'voice'}" + (";PREF=1" if index == 0 else "")
        if e164:
            ext = f";ext={extension}" if extension.isdigit() else ""
            lines.append(f"TEL;VALUE=uri{params}:tel:{e164}{ext}")
        else:
            shown = number + (f" ext. {extension}" if extension else "")
            lines.append(f"TEL;VALUE=text{params}:{_text(shown)}")
    consumer = not company
    for kind, street, street2, city, region, postal, country in contact.addresses:
        where = "home" if consumer or kind.casefold() == "home" else "work"
        streets = ",".join(_text(s) for s in (street, street2) if s)  # a list of lines
        place = (city, region, postal, country_name(country))
        parts = ("", "", streets, *(_text(p) for p in place))
        lines.append(f"ADR;TYPE={where}:" + ";".join(parts))
    if v[_AT["birthday"]]:  # 19800517, or --0517 without the year
        day = v[_AT["birthday"]]
        lines.append("BDAY:" + day[:2] + day[2:].replace("-", ""))
    if contact.gender in _GENDERS:
        lines.append("GENDER:" + _GENDERS[contact.gender])
    if v[_AT["language"]]:
        lines.append("LANG:" + _text(v[_AT["language"]]))
    if v[_AT["timezone"]]:
        lines.append("TZ:" + _text(v[_AT["timezone"]]))
    if v[_AT["notes"]]:
        lines.append("NOTE:" + _text(v[_AT["notes"]]))
    if v[_AT["website"]]:
        lines.append("URL:" + _uri(v[_AT["website"]]))
    if v[_AT["tags"]]:
        tags = v[_AT["tags"]].split(OWN_LIST_SEPARATOR)
        lines.append("CATEGORIES:" + ",".join(_text(t) for t in tags))
    for platform, url in contact.socials:
        lines.append(f"X-SOCIALPROFILE;TYPE={_social_type(platform)}:{_uri(url)}")
    updated = contact.updated_at
    if isinstance(updated, str):  # SQLite's stored text
        updated = datetime.fromisoformat(updated)
    if isinstance(updated, datetime):
        stamp = updated.astimezone(UTC) if updated.tzinfo else updated  # naive: UTC
        lines.append("REV:" + stamp.strftime("%Y%m%dT%H%M%SZ"))
    lines.append("END:VCARD")
    return lines


def vcard_chunks(
    actor: Actor, target: Select, chunk: int = CHUNK, progress: Progress | None = None
) -> Iterator[bytes]:
    """The vCard file as bytes, one piece per chunk of contacts (for a streamed download)."""
    _require(actor)

    def pieces() -> Iterator[bytes]:
        for contacts in _contacts(actor, target, chunk):
            yield b"".join(_fold(line) for c in contacts for line in vcard_lines(c))
            if progress is not None:
                progress(len(contacts))

    return pieces()


def write_vcard(
    actor: Actor, target: Select, out: BinaryIO, progress: Progress | None = None
) -> None:
    """Write the vCard 4.0 file to `out` as the contacts are read."""
    for piece in vcard_chunks(actor, target, progress=progress):
        out.write(piece)


# ---- any format, and the history --------------------------------------------------------
WRITERS: dict[str, Callable[..., None]] = {
    "csv": write_csv,
    "xlsx": write_xlsx,
    "vcf": write_vcard,
}


def write(
    actor: Actor,
    target: Select,
    file_format: str,
    out: BinaryIO,
    progress: Progress | None = None,
) -> None:
    """Write the export in `file_format` ("csv", "xlsx" or "vcf") to `out`."""
    WRITERS[file_format](actor, target, out, progress=progress)


def streamed(actor: Actor, target: Select, file_format: str) -> Iterator[bytes]:
    """The export as pieces of bytes for a download: CSV and vCard as they are read; XLSX
    (a zip, complete only at its end) written to a temporary file first, then read back."""
    if file_format == "csv":
        return csv_chunks(actor, target)
    if file_format == "vcf":
        return vcard_chunks(actor, target)
    _require(actor)

    def pieces() -> Iterator[bytes]:
        with tempfile.TemporaryFile() as spool:
            write_xlsx(actor, target, spool)
            spool.seek(0)
            while piece := spool.read(1 << 16):
                yield piece

    return pieces()


LISTED_IDS = 10_000  # a history entry names the exported contacts up to this many


def record_export(actor: Actor, target: Select, file_format: str, described: str) -> int:
    """One history entry for an export: the format, what was exported, how many contacts
    and (up to LISTED_IDS) which. Returns how many contacts the export holds."""
    total = count_exported(actor, target)
    ids = exported_ids(actor, target)
    changes: dict[str, Any] = {"format": file_format, "target": described, "count": total}
    if total <= LISTED_IDS:
        changes["contact_ids"] = list(db.session.scalars(ids.order_by(Contact.id)))
    name = FORMATS[file_format].name
    audit.record_event(
        db.session, actor, "export", "contact", f"Exported {total:,} contact(s) to {name}", changes
    )
    return total
