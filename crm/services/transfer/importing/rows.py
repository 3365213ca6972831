"""One row of an imported file, turned into the values of a contact.

`RowReader(actor, mapping).read(cells)` gives the data `crm.services.contacts.saving.create_contact`
takes (fields, account, phones, addresses, social links, tags, categories) and the problems
found in the row's cells, each naming its column. What the contact rules then refuse
(a wrong email, a phone that is not a number) is reported by the import with the same row.

Values are read the way people type them in many countries: yes/no in several languages,
dates as 1980-01-31, 31.01.1980, 31/01/1980 (or 01/31/1980 when the file is from Outlook in
the US: `us_dates`), countries as ISO codes or names, phone and address types as labels
("* Mobile", "CELL", "Handy", "Business"), several values in one cell separated by " ::: "
(Google) or by , and ; (tags, categories).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    AddressType,
    Category,
    ContactKind,
    ContactPreference,
    CustomerStatus,
    Gender,
    PhoneType,
    ProspectStatus,
    SocialPlatform,
    User,
)
from crm.models.base import LabeledEnum
from crm.services.contacts.details import phone_region
from crm.services.platform.validation import YEAR_UNKNOWN, country_code, with_lost_plus
from crm.services.transfer.importing.targets import Mapping, restore_neutralised

MULTI = re.compile(r"\s*:::\s*")  # Google Contacts: several values in one cell
LIST = re.compile(r"\s*(?::::|[;,])\s*")  # tags and categories

_TRUE = {"yes", "y", "true", "1", "x", "ja", "j", "oui", "si", "sí", "sim", "wahr", "vrai"}
_FALSE = {"no", "n", "false", "0", "nein", "non", "não", "nao", "falsch", "faux", ""}
_PHONE_TYPES = {
    "mobile": "Mobile",
    "cell": "Mobile",
    "cellular": "Mobile",
    "handy": "Mobile",
    "mobil": "Mobile",
    "mobiel": "Mobile",
    "portable": "Mobile",
    "móvil": "Mobile",
    "movil": "Mobile",
    "cellulare": "Mobile",
    "celular": "Mobile",
    "iphone": "Mobile",
    "work": "Work",
    "business": "Work",
    "office": "Work",
    "company": "Work",
    "geschäftlich": "Work",
    "arbeit": "Work",
    "büro": "Work",
    "travail": "Work",
    "trabajo": "Work",
    "lavoro": "Work",
    "werk": "Work",
    "main": "Work",
    "home": "Home",
    "privat": "Home",
    "private": "Home",
    "domicile": "Home",
    "casa": "Home",
    "thuis": "Home",
    "fax": "Fax",
    "home fax": "Fax",
    "work fax": "Fax",
    "business fax": "Fax",
    "other": "Other",
    "voice": "Other",
    "pager": "Other",
}
_ADDRESS_TYPES = {
    "work": "Main",
    "business": "Main",
    "main": "Main",
    "office": "Main",
    "company": "Main",
    "geschäftlich": "Main",
    "firma": "Main",
    "travail": "Main",
    "trabajo": "Main",
    "home": "Home",
    "privat": "Home",
    "private": "Home",
    "domicile": "Home",
    "casa": "Home",
    "delivery": "Delivery",
    "shipping": "Delivery",
    "lieferung": "Delivery",
    "invoice": "Invoice",
    "billing": "Invoice",
    "rechnung": "Invoice",
    "other": "Other",
}
_GENDERS = {
    "female": Gender.FEMALE,
    "f": Gender.FEMALE,
    "w": Gender.FEMALE,
    "weiblich": Gender.FEMALE,
    "woman": Gender.FEMALE,
    "femme": Gender.FEMALE,
    "mujer": Gender.FEMALE,
    "male": Gender.MALE,
    "m": Gender.MALE,
    "männlich": Gender.MALE,
    "man": Gender.MALE,
    "homme": Gender.MALE,
    "hombre": Gender.MALE,
    "other": Gender.OTHER,
    "divers": Gender.OTHER,
    "d": Gender.OTHER,
    "x": Gender.OTHER,
    "unspecified": Gender.UNSPECIFIED,
}
_KINDS = {
    "b2b": ContactKind.B2B,
    "business": ContactKind.B2B,
    "company": ContactKind.B2B,
    "b2c": ContactKind.B2C,
    "consumer": ContactKind.B2C,
    "private": ContactKind.B2C,
    "person": ContactKind.B2C,
}


@dataclass
class RowData:
    data: dict[str, Any]
    problems: list[tuple[str, str]] = field(default_factory=list)  # (column, message)
    crm_id: int | None = None


class RowReader:
    """Reads rows for one import: the mapping's targets, and look-ups (users, categories,
    types, accounts) loaded once and kept for every row."""

    def __init__(
        self,
        mapping: Mapping,
        headers: list[str],
        *,
        us_dates: bool = False,
        own_csv: bool = False,
        phone_region: str | None = None,
    ):
        self.targets = mapping.targets()
        # Where numbers without a country code are from when the row's address names no
        # country: the import's choice, else (left to the contact rules, which may also use
        # the address of the contact a row updates) CRM_DEFAULT_PHONE_REGION.
        self.phone_region = phone_region
        self.default_region = current_app.config.get("CRM_DEFAULT_PHONE_REGION", "US")
        # Our own CSV export put an apostrophe before values a spreadsheet would run.
        self.own_csv = own_csv
        self.types = mapping.types
        self.headers = headers
        self.us_dates = us_dates
        self.phone_types = _names(PhoneType)
        self.address_types = _names(AddressType)
        self.platforms = db.session.scalars(select(SocialPlatform)).all()
        self.categories = {c.name.casefold(): c for c in db.session.scalars(select(Category))}
        self.users: dict[str, User | None] = {}

    def column(self, index: int) -> str:
        header = self.headers[index] if index < len(self.headers) else ""
        return header or f"column {index + 1}"

    def read(self, cells: list[str]) -> RowData:
        row = RowData({})
        slots: dict[str, dict[str, tuple[int, str]]] = {}
        for index, target in enumerate(self.targets):
            value = (cells[index] if index < len(cells) else "").strip()
            if self.own_csv:
                value = restore_neutralised(value)
            if target.kind == "ignore" or not value:
                continue
            if target.kind == "field":
                self._field(row, index, target.name, value)
            else:
                slots.setdefault(target.slot_key, {})[target.name] = (index, value)
        self._emails(row, slots)
        self._phones(row, slots)
        self._addresses(row, slots)
        self._social(row, slots)
        if "phones" in row.data:
            self._phone_countries(row.data)
        return row

    def _phone_countries(self, data: dict[str, Any]) -> None:
        """Give each number without a country code its country: the row's address's, else
        the import's; a number a spreadsheet stored as digits gets its '+' back."""
        addresses = [SimpleNamespace(country=a.get("country")) for a in data.get("addresses", [])]
        region = phone_region(addresses, "") or self.phone_region
        for phone in data["phones"]:
            number = with_lost_plus(phone["number"], region or self.default_region)
            phone["number"] = number
            if region and not phone.get("country_code") and not number.lstrip().startswith("+"):
                phone["country_code"] = region

    # ---- fields -----------------------------------------------------------------------
    def _field(self, row: RowData, index: int, name: str, value: str) -> None:
        data = row.data

        def problem(message: str) -> None:
            row.problems.append((self.column(index), message))

        if name == "crm_id":
            if value.isdigit():
                row.crm_id = int(value)
            else:
                problem(f"{value!r} is not a contact number.")
        elif name == "full_name":
            first, last = split_name(value)
            data.setdefault("first_name", first)
            data.setdefault("last_name", last)
        elif name == "kind":
            kind = _KINDS.get(value.casefold())
            if kind is None:
                problem(f"{value!r} is not a contact type: write B2B or B2C.")
            else:
                data["kind"] = kind
        elif name == "account":
            data["account"] = self._account(value)
        elif name in ("owner", "responsible"):
            user = self._user(value)
            if user is None:
                problem(f"No active user has the email {value!r}.")
            else:
                data[name] = user
        elif name == "birthday":
            if re.fullmatch(r"0?0[./-]0?0[./-]0{2,4}", value):
                return  # Outlook writes 0/0/00 for no birthday
            try:
                data["birthday"] = parse_date(value, us_first=self.us_dates)
            except ValueError as exc:
                problem(str(exc))
        elif name == "gender":
            gender = _GENDERS.get(value.casefold()) or _enum(Gender, value)
            if gender is None:
                problem(f"{value!r} is not a gender: write female, male, other or unspecified.")
            else:
                data["gender"] = gender
        elif name in ("customer_status", "prospect_status", "contact_preference"):
            enum_cls = {
                "customer_status": CustomerStatus,
                "prospect_status": ProspectStatus,
                "contact_preference": ContactPreference,
            }[name]
            member = _enum(enum_cls, value)
            if member is None:
                allowed = ", ".join(m.label for m in enum_cls)
                problem(f"{value!r} is not one of: {allowed}.")
            else:
                data[name] = member
        elif name in ("email_marketing", "do_not_email", "do_not_call"):
            flag = parse_bool(value)
            if flag is None:
                problem(f"{value!r} is not yes or no.")
            else:
                data[name] = flag
        elif name == "tags":
            # Google's system groups ("* myContacts", "* starred") are not the user's tags.
            names = [t for t in LIST.split(value) if t and not t.startswith("* ")]
            data["tags"] = list(dict.fromkeys([*data.get("tags", []), *names]))
        elif name == "categories":
            for item in (c for c in LIST.split(value) if c):
                category = self.categories.get(item.casefold())
                if category is None:
                    problem(f"No category {item!r} (List management > Categories).")
                elif category not in data.setdefault("categories", []):
                    data["categories"].append(category)
        elif name in ("notes", "other_contacts"):
            data[name] = value if name not in data else f"{data[name]}\n{value}"
        else:
            data[name] = value

    def _user(self, email: str) -> User | None:
        key = email.casefold()
        if key not in self.users:
            self.users[key] = db.session.scalar(
                select(User).where(func.lower(User.email) == key, User.active.is_(True))
            )
        return self.users[key]

    def _account(self, name: str) -> str:
        """The company's name, spaces tidied (matched to an account, or created, when the
        row is stored)."""
        return " ".join(name.split())

    # ---- slots --------------------------------------------------------------------------
    def _ordered(self, slots: dict, kind: str) -> list[tuple[str, dict[str, tuple[int, str]]]]:
        found = [(key, parts) for key, parts in slots.items() if key.startswith(kind + ".")]
        return sorted(found, key=lambda item: int(item[0].split(".")[1]))

    def _type_label(self, key: str, parts: dict, part: str = "type") -> str | None:
        if part in parts:
            return parts[part][1]
        return self.types.get(key)

    def _emails(self, row: RowData, slots: dict) -> None:
        emails = [
            address
            for _key, parts in self._ordered(slots, "email")
            if "" in parts
            for address in MULTI.split(parts[""][1])
            if address
        ]
        data = row.data
        for address in emails:
            if address in (data.get("email"), data.get("email_secondary")):
                continue
            if "email" not in data:
                data["email"] = address
            elif "email_secondary" not in data:
                data["email_secondary"] = address
            else:
                line = f"Email: {address}"
                data["other_contacts"] = "\n".join(filter(None, [data.get("other_contacts"), line]))

    def _phones(self, row: RowData, slots: dict) -> None:
        phones = row.data.setdefault("phones", [])
        for key, parts in self._ordered(slots, "phone"):
            if "" not in parts:
                continue
            kind = self._known_type(self._type_label(key, parts), _PHONE_TYPES, self.phone_types)
            extension = parts.get("extension", (0, ""))[1] or None
            for number in (n for n in MULTI.split(parts[""][1]) if n):
                phones.append(
                    {"type": kind, "number": number, "extension": extension, "country_code": None}
                )
        if not phones:
            row.data.pop("phones")

    def _addresses(self, row: RowData, slots: dict) -> None:
        addresses = []
        for key, parts in self._ordered(slots, "address"):
            values = {part: value for part, (_i, value) in parts.items() if part != "type"}
            if not values:
                continue
            formatted = values.pop("formatted", "")
            if formatted and not ({"street", "city", "postal_code"} & values.keys()):
                lines = [ln.strip() for ln in re.split(r"[\r\n]+", formatted) if ln.strip()]
                values["street"] = ", ".join(lines)[:200]
            if "country" in values:
                code = country_code(values["country"])
                if code is None:
                    index = parts["country"][0]
                    row.problems.append(
                        (self.column(index), f"{values['country']!r} is not a country we know.")
                    )
                    continue
                values["country"] = code
            label = self._type_label(key, parts)
            values["type"] = self._known_type(label, _ADDRESS_TYPES, self.address_types)
            addresses.append(values)
        if addresses:
            row.data["addresses"] = addresses

    def _social(self, row: RowData, slots: dict) -> None:
        links = []
        for key, parts in self._ordered(slots, "social"):
            if "" not in parts:
                continue
            index, value = parts[""]
            named = self._type_label(key, parts, "platform")
            platform = self._platform(named, value)
            if platform is None:
                row.problems.append(
                    (self.column(index), f"Which platform is {value!r}? Name it in a column.")
                )
                continue
            links.append({"platform": platform, "handle": value})
        if links:
            row.data["social_links"] = links

    def _platform(self, named: str | None, value: str) -> str | None:
        if named:
            for platform in self.platforms:
                if platform.name.casefold() == named.strip().casefold():
                    return platform.name
        host = re.sub(r"^[a-z]+://", "", value.casefold()).split("/")[0].removeprefix("www.")
        for platform in self.platforms:
            hosts = [h.strip() for h in platform.host_list if h.strip()]
            if any(host == h or host.endswith("." + h) for h in hosts):
                return platform.name
        if "://" in value or value.casefold().startswith("www."):
            return next((p.name for p in self.platforms if p.name == "Website"), None)
        return None

    @staticmethod
    def _known_type(label: str | None, synonyms: dict[str, str], names: dict[str, str]) -> str:
        """Our type for a label from a file ("* Mobile", "CELL", "Handy"); "Other" when the
        label is unknown, the first type when there is none."""
        if label:
            text = label.strip().lstrip("*").strip().casefold()
            if text in names:
                return names[text]
            for word in [text, *re.split(r"[\s,;/]+", text)]:
                if word in synonyms and synonyms[word].casefold() in names:
                    return names[synonyms[word].casefold()]
            if "other" in names:
                return names["other"]
        return next(iter(names.values()), "Other")


def type_names(model: type) -> list[str]:
    """The active entries of a lookup list (phone types, ...) by name, in their order."""
    return list(
        db.session.scalars(
            select(model.name).where(model.active.is_(True)).order_by(model.position, model.id)
        )
    )


def _names(model: type) -> dict[str, str]:
    """Active lookup entries by lower-cased name, in their order."""
    return {name.casefold(): name for name in type_names(model)}


def _enum(enum_cls: type[LabeledEnum], value: str) -> Any:
    text = value.strip().casefold().replace("-", " ").replace("_", " ")
    for member in enum_cls:
        if text in (member.value.replace("_", " "), member.label.casefold().replace("-", " ")):
            return member
    return None


def parse_bool(value: str) -> bool | None:
    text = value.strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def parse_date(value: str, *, us_first: bool = False) -> date:
    """A date as written in a file: ISO (1980-01-31, also with a time), 31.01.1980,
    31/01/1980 or 01/31/1980 (`us_first`, or when the day shows which is which), or a day
    without a year (--01-31, --0131: in validation.YEAR_UNKNOWN)."""
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    no_year = re.fullmatch(r"--(\d{2})-?(\d{2})", text)  # Google's and vCard's day and month
    if no_year:
        try:
            return date(YEAR_UNKNOWN, int(no_year[1]), int(no_year[2]))
        except ValueError:
            raise ValueError(f"{value!r} is not a day of the year.") from None
    match = re.fullmatch(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})", text)
    if not match:
        compact = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
        if compact:
            return date(int(compact[1]), int(compact[2]), int(compact[3]))
        raise ValueError(f"{value!r} is not a date: write it as YYYY-MM-DD.")
    first, sep, second, year = int(match[1]), match[2], int(match[3]), int(match[4])
    if year < 100:
        year += 1900 if year > (date.today().year % 100) else 2000
    if sep == "." or first > 12:
        day, month = first, second
    elif second > 12 or us_first:
        month, day = first, second
    else:
        day, month = first, second
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{value!r} is not a date: write it as YYYY-MM-DD.") from None


def split_name(value: str) -> tuple[str, str]:
    """("Ana", "Smith") from "Ana Smith" or "Smith, Ana"; one word is the last name."""
    text = " ".join(value.split())
    if "," in text:
        last, _, first = text.partition(",")
        return first.strip(), last.strip()
    words = text.split(" ")
    return " ".join(words[:-1]), words[-1]
