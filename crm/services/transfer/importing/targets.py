"""Where a column of an imported file goes: the targets of a column mapping, and our own
file format (what exports write and imports recognise). Shared by the readers, the known
column sets, the mapping page, the row conversion and the exports.

A target is written as text:
- a contact field: ``first_name``, ``email``, ``account`` (company name), ``owner`` (a user's
  email), ``tags`` and ``categories`` (several values in one cell), ... (see FIELDS);
- a numbered slot of a repeated kind, ``<kind>.<n>[.<part>]``:
  ``phone.1`` (the number), ``phone.1.type``, ``phone.1.extension``;
  ``email.1`` (emails beyond the two of the contact go to "Other contacts"), ``email.1.type``;
  ``address.1.street`` / ``.street2`` / ``.city`` / ``.region`` / ``.postal_code`` /
  ``.country`` / ``.type`` / ``.formatted`` (the whole address in one cell);
  ``social.1`` (a profile URL or handle), ``social.1.platform``;
- ``ignore``.
A mapping is a target per column (in the file's order) and, for slots whose type no column
gives, the type to use (`Mapping.types`, e.g. Outlook's "Business Phone" is a Work phone).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

IGNORE = "ignore"

# Contact fields a column can fill, with the label the mapping page shows.
FIELDS: dict[str, str] = {
    "crm_id": "Contacts CRM id (updates that contact)",
    "title": "Title",
    "first_name": "First name",
    "middle_name": "Middle name",
    "last_name": "Last name",
    "full_name": "Full name (split into first and last name)",
    "kind": "Contact type (B2B or B2C)",
    "account": "Account (company name; created if missing)",
    "job_title": "Job title",
    "department": "Department",
    "email": "Email",
    "email_secondary": "Secondary email",
    "website": "Website",
    "birthday": "Birthday",
    "gender": "Gender",
    "customer_status": "Customer status",
    "prospect_status": "Prospect status",
    "contact_preference": "Contact preference",
    "email_marketing": "Email marketing consent (yes/no)",
    "do_not_email": "Do not email (yes/no)",
    "do_not_call": "Do not call (yes/no)",
    "timezone": "Time zone",
    "language": "Language",
    "owner": "Owner (user email)",
    "responsible": "Responsible user (email)",
    "tags": "Tags (several: separated by , ; or :::)",
    "categories": "Categories (several: separated by , ; or :::)",
    "notes": "Notes",
    "other_contacts": "Other contacts",
}
# Parts of each repeated kind; "" is the slot's main value.
SLOT_PARTS: dict[str, dict[str, str]] = {
    "phone": {"": "number", "type": "type", "extension": "extension"},
    "email": {"": "address", "type": "type"},
    "address": {
        "street": "street",
        "street2": "street line 2",
        "city": "city",
        "region": "region",
        "postal_code": "postcode",
        "country": "country",
        "type": "type",
        "formatted": "whole address in one cell",
    },
    "social": {"": "profile URL or handle", "platform": "platform"},
}
SLOT_LABELS = {"phone": "Phone", "email": "Email", "address": "Address", "social": "Social link"}
MAX_SLOT = 20  # slots per kind a mapping may use
_SLOT = re.compile(r"^(phone|email|address|social)\.([1-9][0-9]?)(?:\.([a-z_0-9]+))?$")


@dataclass(frozen=True)
class Target:
    kind: str  # "field", "phone", "email", "address", "social" or "ignore"
    name: str = ""  # the field, or the slot's part ("" for its main value)
    slot: int = 0

    def __str__(self) -> str:
        if self.kind == "ignore":
            return IGNORE
        if self.kind == "field":
            return self.name
        return f"{self.kind}.{self.slot}" + (f".{self.name}" if self.name else "")

    @property
    def slot_key(self) -> str:
        """ "phone.1" for every part of phone slot 1 ("" for fields)."""
        return f"{self.kind}.{self.slot}" if self.slot else ""

    @property
    def label(self) -> str:
        if self.kind == "ignore":
            return "(ignore this column)"
        if self.kind == "field":
            return FIELDS[self.name]
        return f"{SLOT_LABELS[self.kind]} {self.slot}: {SLOT_PARTS[self.kind][self.name]}"


def parse_target(text: str) -> Target:
    """The target written as `text`; ValueError when there is no such target."""
    text = (text or "").strip()
    if text in ("", IGNORE):
        return Target("ignore")
    if text in FIELDS:
        return Target("field", text)
    match = _SLOT.match(text)
    if match:
        kind, slot, part = match.group(1), int(match.group(2)), match.group(3) or ""
        if part in SLOT_PARTS[kind] and (kind != "address" or part) and slot <= MAX_SLOT:
            return Target(kind, part, slot)
    raise ValueError(f"{text!r} is not a column target.")


def parse_slot_key(text: str) -> tuple[str, int]:
    """ "address.1" -> ("address", 1): the slot a type in `Mapping.types` is for; ValueError
    when there is no such slot."""
    match = _SLOT.match(text or "")
    if match is None or match.group(3) or int(match.group(2)) > MAX_SLOT:
        raise ValueError(f"{text!r} is not a phone, email, address or social link slot.")
    return match.group(1), int(match.group(2))


def target_choices(slots: int = 5) -> list[tuple[str, str]]:
    """(target, label) for the mapping page: ignore, the fields, then `slots` of each kind."""
    choices = [(IGNORE, Target("ignore").label)]
    choices += [(name, label) for name, label in FIELDS.items()]
    for kind, parts in SLOT_PARTS.items():
        for slot in range(1, slots + 1):
            for part in parts:
                target = Target(kind, part, slot)
                choices.append((str(target), target.label))
    return choices


@dataclass
class Mapping:
    """A target per column, in the file's order; `types` names the type of a slot that no
    type column gives ("phone.1" -> "Work")."""

    columns: list[str]
    types: dict[str, str] = field(default_factory=dict)

    def targets(self) -> list[Target]:
        return [parse_target(c) for c in self.columns]

    def as_json(self) -> dict:
        return {"columns": list(self.columns), "types": dict(self.types)}

    @classmethod
    def from_json(cls, data: dict) -> Mapping:
        """A mapping from stored or posted JSON; ValueError when it names unknown targets."""
        columns = [str(c) for c in data.get("columns", [])]
        types = {str(k): str(v) for k, v in (data.get("types") or {}).items()}
        mapping = cls(columns, types)
        mapping.targets()  # every target must parse
        for key in types:
            parse_slot_key(key)
        return mapping


# ---- our own file format ------------------------------------------------------------------
# What an export writes (CSV and XLSX) and what an import recognises: one column per field,
# then numbered columns for as many phones, addresses and social links as the export holds.
OWN_FIELDS: list[tuple[str, str]] = [
    ("CRM id", "crm_id"),
    ("Title", "title"),
    ("First name", "first_name"),
    ("Middle name", "middle_name"),
    ("Last name", "last_name"),
    ("Contact type", "kind"),
    ("Account", "account"),
    ("Job title", "job_title"),
    ("Department", "department"),
    ("Email", "email"),
    ("Secondary email", "email_secondary"),
    ("Website", "website"),
    ("Birthday", "birthday"),
    ("Gender", "gender"),
    ("Customer status", "customer_status"),
    ("Prospect status", "prospect_status"),
    ("Contact preference", "contact_preference"),
    ("Email marketing", "email_marketing"),
    ("Do not email", "do_not_email"),
    ("Do not call", "do_not_call"),
    ("Time zone", "timezone"),
    ("Language", "language"),
    ("Owner", "owner"),
    ("Responsible", "responsible"),
    ("Tags", "tags"),
    ("Categories", "categories"),
    ("Notes", "notes"),
    ("Other contacts", "other_contacts"),
]
OWN_SLOT_COLUMNS: dict[str, list[tuple[str, str]]] = {
    # (header after "Phone 1 ", part)
    "phone": [("type", "type"), ("", ""), ("extension", "extension")],
    "address": [
        ("type", "type"),
        ("street", "street"),
        ("street 2", "street2"),
        ("city", "city"),
        ("region", "region"),
        ("postcode", "postal_code"),
        ("country", "country"),
    ],
    "social": [("platform", "platform"), ("", "")],
}
_OWN_SLOT_NAMES = {"phone": "Phone", "address": "Address", "social": "Social link"}
# Several values in one cell (tags, categories) are written separated by this.
OWN_LIST_SEPARATOR = "; "


def own_headers(phones: int, addresses: int, social_links: int) -> list[str]:
    """The header row of our own format with that many slots of each kind."""
    headers = [header for header, _ in OWN_FIELDS]
    for kind, count in (("phone", phones), ("address", addresses), ("social", social_links)):
        for slot in range(1, count + 1):
            for suffix, _part in OWN_SLOT_COLUMNS[kind]:
                headers.append(" ".join(p for p in (_OWN_SLOT_NAMES[kind], str(slot), suffix) if p))
    return headers


def own_targets(phones: int, addresses: int, social_links: int) -> list[str]:
    """The target of each column of `own_headers` (same order)."""
    targets = [target for _, target in OWN_FIELDS]
    for kind, count in (("phone", phones), ("address", addresses), ("social", social_links)):
        for slot in range(1, count + 1):
            for _suffix, part in OWN_SLOT_COLUMNS[kind]:
                targets.append(str(Target(kind, part, slot)))
    return targets


def own_format_mapping(headers: list[str]) -> Mapping | None:
    """The mapping of a file in our own format (any number of slots, columns in any order),
    or None when `headers` are not ours."""
    known = {header.casefold(): target for header, target in OWN_FIELDS}
    slot = re.compile(r"^(phone|address|social link) ([1-9][0-9]?)(?: (.+))?$")
    parts = {
        kind: {suffix: part for suffix, part in columns}
        for kind, columns in OWN_SLOT_COLUMNS.items()
    }
    columns = []
    for header in headers:
        name = " ".join(header.split()).casefold()
        if name in known:
            columns.append(known[name])
            continue
        match = slot.match(name)
        if not match:
            return None
        kind = {"phone": "phone", "address": "address", "social link": "social"}[match.group(1)]
        part = parts[kind].get(match.group(3) or "")
        if part is None or int(match.group(2)) > MAX_SLOT:
            return None
        columns.append(str(Target(kind, part, int(match.group(2)))))
    names = set(columns)
    if not {"first_name", "last_name"} <= names:
        return None
    return Mapping(columns)


# ---- spreadsheet formulas -------------------------------------------------------------------
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTED_FORMULA = re.compile(r"'+[=+\-@\t\r]")


def neutralise(text: str) -> str:
    """`text` as a CSV cell a spreadsheet will not run: an apostrophe in front of a value that
    begins with a formula character (or with apostrophes and then one)."""
    if text.startswith(FORMULA_START) or (text[:1] == "'" and _QUOTED_FORMULA.match(text)):
        return "'" + text
    return text


def restore_neutralised(cell: str) -> str:
    """The value `neutralise` was given (an import of our own CSV files takes it off)."""
    return cell[1:] if _QUOTED_FORMULA.match(cell) else cell


# ---- the vCard UID of a contact ----------------------------------------------------------
# A fixed prefix (an RFC 4122 layout: version 8, the variant), then the contact id in the
# low 62 bits: exports write it, and an import of that vCard reads the id back.
_UID_PREFIX = 0x6372_6D5F_6964  # "crm_id"
_UID_MIDDLE = 0xC12
_UID_FIXED = (_UID_PREFIX << 80) | (0x8 << 76) | (_UID_MIDDLE << 64) | (0b10 << 62)
_UID_ID_BITS = (1 << 62) - 1


def contact_uid(contact_id: int) -> str:
    """The vCard UID of a contact: urn:uuid:... derived from its id, the same every time."""
    return f"urn:uuid:{uuid.UUID(int=_UID_FIXED | (contact_id & _UID_ID_BITS))}"


def contact_id_from_uid(uid: str) -> int | None:
    """The contact id a UID made by `contact_uid` holds, or None for any other UID."""
    text = uid.strip().lower().removeprefix("urn:uuid:")
    try:
        value = uuid.UUID(text).int
    except ValueError:
        return None
    return value & _UID_ID_BITS if value & ~_UID_ID_BITS == _UID_FIXED else None
