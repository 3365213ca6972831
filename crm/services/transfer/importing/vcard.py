"""vCard 2.1, 3.0 and 4.0 files as a table in our own format (targets.own_headers).

vobject reads the lines: it unfolds folded lines, joins the soft line breaks of
QUOTED-PRINTABLE values (vCard 2.1) and splits each line into group, name, parameters and
value, bare 2.1 parameters (TEL;CELL;PREF:) included. The rest is done here, where vobject's
own conversion stumbles on real files: decoding quoted-printable in the CHARSET it names,
unescaping and splitting structured values, TYPE parameters in all their forms (CELL,
TYPE=cell,voice, TYPE="cell,voice", Apple's item1.X-ABLabel), and dates.

One row per card (numbered from 1), one column set per phone, address and social link, as
many as the fullest card has: the phone type as one of ours (Mobile, Mobile 2, Work, Home,
Fax, Other), the address type as one of ours (Main, Home, Other), the country as written.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

from vobject.base import ParseError, getLogicalLines, parseLine

from crm.services.transfer.importing.limits import (
    DEFAULT_LIMITS,
    LimitExceeded,
    Limits,
    raise_it,
    too_long_cell,
    too_many_rows,
)
from crm.services.transfer.importing.targets import OWN_LIST_SEPARATOR, own_headers, own_targets

# Platform names as seeded in the social platforms list (List management).
_PLATFORMS = {
    "linkedin": "LinkedIn",
    "twitter": "X (Twitter)",
    "x": "X (Twitter)",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "github": "GitHub",
    "youtube": "YouTube",
    "tiktok": "TikTok",
    "xing": "Xing",
}
_SOCIAL_HOSTS = {
    "linkedin.com": "LinkedIn",
    "x.com": "X (Twitter)",
    "twitter.com": "X (Twitter)",
    "facebook.com": "Facebook",
    "fb.com": "Facebook",
    "instagram.com": "Instagram",
    "github.com": "GitHub",
    "youtube.com": "YouTube",
    "tiktok.com": "TikTok",
    "xing.com": "Xing",
}
# Apple's standard labels (item1.X-ABLabel:_$!<Mobile>!$_), as TYPE values.
_APPLE_LABELS = {
    "mobile": "CELL",
    "iphone": "CELL",
    "work": "WORK",
    "home": "HOME",
    "workfax": "FAX",
    "homefax": "FAX",
    "otherfax": "FAX",
    "main": "MAIN",
    "pager": "PAGER",
    "other": "OTHER",
}
_GENDERS = {"M": "male", "F": "female", "O": "other", "U": "unspecified"}  # vCard 4.0
_ENCODING_PARAMS = {"QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"}
_SKIPPED = {"PHOTO", "LOGO", "SOUND", "KEY"}  # binary, never imported


@dataclass
class _Line:
    name: str
    group: str
    params: dict[str, list[str]]
    value: str  # decoded from quoted-printable, still escaped

    @property
    def types(self) -> set[str]:
        return {t.upper() for t in self.params.get("TYPE", [])}

    @property
    def preferred(self) -> bool:
        return "PREF" in self.types or "PREF" in self.params


@dataclass
class Card:
    """One card, read into our own format's values."""

    number: int
    version: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # target -> value
    phones: list[tuple[str, str, str]] = field(default_factory=list)  # type, number, extension
    addresses: list[dict[str, str]] = field(default_factory=list)  # part -> value, with type
    social: list[tuple[str, str]] = field(default_factory=list)  # platform, profile

    def longest(self) -> int:
        """The length of the card's longest value (what becomes its longest cell)."""
        values = [
            *self.fields.values(),
            *(v for phone in self.phones for v in phone),
            *(v for address in self.addresses for v in address.values()),
            *(v for link in self.social for v in link),
        ]
        return max(map(len, values), default=0)

    def cells(self, targets: list[str]) -> list[str]:
        """The card as a row of our own format: `targets` are `own_targets(...)`."""
        values = dict(self.fields)
        for slot, (kind, number, extension) in enumerate(self.phones, start=1):
            values[f"phone.{slot}.type"] = kind
            values[f"phone.{slot}"] = number
            values[f"phone.{slot}.extension"] = extension
        for slot, address in enumerate(self.addresses, start=1):
            values.update({f"address.{slot}.{part}": v for part, v in address.items()})
        for slot, (platform, profile) in enumerate(self.social, start=1):
            values.update({f"social.{slot}.platform": platform, f"social.{slot}": profile})
        return [values.get(target, "") for target in targets]


@dataclass
class CardTable:
    headers: list[str]
    versions: list[str]  # those found, sorted: ["2.1", "3.0"]
    count: int
    rows: Callable[[], Iterator[tuple[int, list[str]]]]


def read_cards(open_text: Callable[[], TextIO], limits: Limits = DEFAULT_LIMITS) -> CardTable:
    """The cards of a vCard file as a table. `open_text` opens the file's text anew: it is
    read twice, once to size the columns, once (lazily) for the rows. LimitExceeded for a
    file of more cards than `limits.rows`, a card of more lines than
    `limits.vcard_properties`, or a value longer than `limits.cell`, found on the first
    reading; and for a table of more columns than `limits.columns`."""
    phones = addresses = social = count = 0
    versions: list[str] = []
    for card in parse_cards(open_text(), limits):
        count += 1
        if count > limits.rows:
            raise too_many_rows(limits, "contact cards")
        if card.longest() > limits.cell:
            raise too_long_cell(limits, f"Card {card.number}", what="a value")
        phones = max(phones, len(card.phones))
        addresses = max(addresses, len(card.addresses))
        social = max(social, len(card.social))
        if card.version and card.version not in versions:
            versions.append(card.version)

    targets = own_targets(phones, addresses, social)
    if len(targets) > limits.columns:
        raise LimitExceeded(
            f"A card of this file has so many phones, addresses or links that it needs "
            f"{len(targets):,} columns (the limit is {limits.columns:,}). Check that the file "
            f"is a list of contacts, or {raise_it('CRM_IMPORT_MAX_COLUMNS')}."
        )

    def rows() -> Iterator[tuple[int, list[str]]]:
        for card in parse_cards(open_text(), limits):
            yield card.number, card.cells(targets)

    return CardTable(own_headers(phones, addresses, social), sorted(versions), count, rows)


def parse_cards(stream: TextIO, limits: Limits = DEFAULT_LIMITS) -> Iterator[Card]:
    """The cards of a vCard text, one at a time (cards nested in a card, 2.1's AGENT, and
    lines outside cards are left out; a card cut short by the end of the file counts).
    A card of more lines than `limits.vcard_properties` is refused as it is read."""
    lines: list[_Line] = []
    depth = 0
    number = 0
    for line in _content_lines(stream):
        if line.name == "BEGIN" and line.value.strip().upper() == "VCARD":
            depth += 1
            if depth == 1:
                lines = []
            continue
        if line.name == "END" and line.value.strip().upper() == "VCARD" and depth:
            depth -= 1
            if depth == 0:
                number += 1
                yield _card(number, lines)
            continue
        if depth == 1:
            lines.append(line)
            if len(lines) > limits.vcard_properties:
                raise LimitExceeded(
                    f"Card {number + 1} has more than {limits.vcard_properties:,} lines (the "
                    f"limit is {limits.vcard_properties:,} per card). Check that the file is "
                    "a list of contacts, or ask an administrator to raise the limit (the "
                    "setting CRM_IMPORT_MAX_VCARD_PROPERTIES)."
                )
    if depth:
        yield _card(number + 1, lines)


def _content_lines(stream: TextIO) -> Iterator[_Line]:
    for text, _number in getLogicalLines(stream, allowQP=True):
        try:
            name, params, value, group = parseLine(text)
        except ParseError:
            continue  # not a vCard line: left out, as phones' own importers do
        yield _line(name.upper(), group or "", params, value)


def _line(name: str, group: str, raw_params: list[list[str]], value: str) -> _Line:
    params: dict[str, list[str]] = {}
    for param in raw_params:
        if len(param) == 1:  # vCard 2.1: TEL;CELL;PREF or ADR;QUOTED-PRINTABLE
            bare = param[0].upper()
            key = "ENCODING" if bare in _ENCODING_PARAMS else "TYPE"
            params.setdefault(key, []).append(bare)
            continue
        values = params.setdefault(param[0].upper(), [])
        for item in param[1:]:
            values.extend(v.strip() for v in item.split(",") if v.strip())
    encoding = {e.upper() for e in params.get("ENCODING", [])}
    if "QUOTED-PRINTABLE" in encoding:
        value = _quoted_printable(value, (params.get("CHARSET") or ["utf-8"])[0])
    elif encoding & {"B", "BASE64"}:
        value = ""  # binary (a photo, a key): never imported
    return _Line(name, group.upper(), params, value)


def _quoted_printable(value: str, charset: str) -> str:
    raw = quopri.decodestring(value.encode("utf-8", errors="replace"))
    for encoding in (charset, "utf-8", "cp1252"):
        try:
            return raw.decode(encoding).replace("\r\n", "\n")
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("utf-8", errors="replace")


# ---- values ---------------------------------------------------------------------------------
def split_value(value: str, separator: str) -> list[str]:
    """`value` split at the separators that are not escaped (components stay escaped)."""
    if "\\" not in value:
        return value.split(separator)
    parts, current, escaped = [], [], False
    for char in value:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def unescape(value: str) -> str:
    """A text value without its escapes (\\n, \\, \\; \\\\)."""
    if "\\" not in value:
        return value
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _components(value: str, count: int) -> list[str]:
    parts = split_value(value, ";") + [""] * count
    return parts[:count]


def _list(component: str) -> list[str]:
    """A component's comma-separated values, unescaped, empty ones left out."""
    return [v for v in (unescape(p).strip() for p in split_value(component, ",")) if v]


def birthday(value: str, params: dict[str, list[str]]) -> str:
    """A BDAY as yyyy-mm-dd: 1980-01-31, 19800131, 1980-01-31T00:00:00Z, ...; --01-31 for a
    day without a year (--0131, --01-31, Apple's 1604-01-31 with X-APPLE-OMIT-YEAR); any
    other text as written (the import then says it is not a date)."""
    text = value.strip()
    no_year = re.fullmatch(r"--(\d{2})-?(\d{2})", text)
    if no_year:
        return f"--{no_year[1]}-{no_year[2]}"
    if not text:
        return ""
    match = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})(?:[T ].*)?", text)
    if not match:
        return text
    year, month, day = (int(g) for g in match.groups())
    if str(year) in params.get("X-APPLE-OMIT-YEAR", []):
        return f"--{month:02d}-{day:02d}"
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return text


def phone_type(types: set[str], mobiles_before: int) -> str:
    """Our phone type for a TEL's TYPE values: CELL is Mobile (the second one Mobile 2), then
    FAX, WORK, HOME; anything else is Other."""
    if "FAX" in types:
        return "Fax"
    if types & {"CELL", "MOBILE", "IPHONE"}:
        return "Mobile" if mobiles_before == 0 else "Mobile 2"
    if "WORK" in types:
        return "Work"
    if "HOME" in types:
        return "Home"
    return "Other"


def address_type(types: set[str]) -> str:
    if "WORK" in types:
        return "Main"
    if "HOME" in types:
        return "Home"
    return "Other"


# ---- a card ---------------------------------------------------------------------------------
def _card(number: int, lines: list[_Line]) -> Card:
    card = Card(number)
    labels = {
        line.group: line.value.strip()
        for line in lines
        if line.group and line.name == "X-ABLABEL" and line.value.strip()
    }
    emails: list[tuple[bool, str]] = []
    others: list[str] = []
    urls: list[str] = []
    notes: list[str] = []
    full_name = ""
    names: list[str] = []
    for line in lines:
        name = line.name
        if name in _SKIPPED or not line.value.strip():
            continue
        types = line.types
        if line.group in labels:
            types |= _label_types(labels[line.group])
        if name == "VERSION":
            card.version = line.value.strip()
        elif name == "N":
            names = [" ".join(_list(c)) for c in _components(line.value, 5)]
        elif name == "FN":
            full_name = unescape(line.value).strip()
        elif name == "ORG":
            company, department = (unescape(c).strip() for c in _components(line.value, 2))
            _set(card, "account", company)
            _set(card, "department", department)
        elif name in ("TITLE", "ROLE"):
            _set(card, "job_title", unescape(line.value).strip())
        elif name == "NOTE":
            notes.append(unescape(line.value).strip())
        elif name == "BDAY":
            _set(card, "birthday", birthday(unescape(line.value), line.params))
        elif name == "EMAIL":
            emails.append((line.preferred, unescape(line.value).strip().removeprefix("mailto:")))
        elif name == "TEL":
            _phone(card, line, types)
        elif name == "ADR":
            _address(card, line, types)
        elif name == "URL":
            urls.append(unescape(line.value).strip())
        elif name == "CATEGORIES":
            tags = _list(line.value)
            old = card.fields.get("tags")
            card.fields["tags"] = OWN_LIST_SEPARATOR.join(([old] if old else []) + tags)
        elif name == "X-SOCIALPROFILE":
            _social_profile(card, line)
        elif name == "IMPP":
            others.append(_messenger(line))
        elif name in ("GENDER", "X-GENDER"):
            sex = line.value.split(";")[0].strip()[:1].upper()
            _set(card, "gender", _GENDERS.get(sex, ""))
        elif name == "LANG":
            _set(card, "language", line.value.strip().split("-")[0].casefold())
        elif name == "TZ" and not re.match(r"\s*[+-]?\d", line.value):  # not an offset
            _set(card, "timezone", unescape(line.value).strip())
        elif name == "UID":
            _set(card, "crm_id", _crm_id(line.value))
    _names(card, names, full_name)
    _emails(card, emails, others)
    for index, url in enumerate(urls):  # the first is the website, whatever it is
        platform = _social_host(url) if index else ""
        if platform:
            card.social.append((platform, url))
        elif index == 0:
            card.fields["website"] = url
        else:
            others.append(f"Website: {url}")
    if notes:
        card.fields["notes"] = "\n".join(n for n in notes if n)
    if others:
        card.fields["other_contacts"] = "\n".join(others)
    card.fields["kind"] = "B2B" if card.fields.get("account") else "B2C"
    return card


def _set(card: Card, target: str, value: str) -> None:
    """The first value of a field wins."""
    if value and target not in card.fields:
        card.fields[target] = value


def _label_types(label: str) -> set[str]:
    """TYPE values for an Apple label: "_$!<Mobile>!$_" is CELL; a label of one's own
    ("Büro") is looked at for the usual words."""
    match = re.fullmatch(r"_\$!<(.*)>!\$_", label)
    word = (match.group(1) if match else label).replace(" ", "").casefold()
    if not word:
        return set()
    return {_APPLE_LABELS.get(word, word.upper())}


def _names(card: Card, names: list[str], full_name: str) -> None:
    family, given, additional, prefix = (names + [""] * 4)[:4]
    if not (family or given) and full_name and "account" not in card.fields:
        if "," in full_name:
            family, _, given = (p.strip() for p in full_name.partition(","))
        else:
            given, _, family = full_name.rpartition(" ")
    for target, value in (
        ("title", prefix),
        ("first_name", given),
        ("middle_name", additional),
        ("last_name", family),
    ):
        _set(card, target, value.strip())


def _emails(card: Card, emails: list[tuple[bool, str]], others: list[str]) -> None:
    """The preferred email first; the first two are the contact's, others go to "Other
    contacts" (our own format has no more email columns)."""
    ordered = [e for pref, e in emails if pref] + [e for pref, e in emails if not pref]
    unique = [e for e in dict.fromkeys(ordered) if e]
    for target, address in zip(("email", "email_secondary"), unique, strict=False):
        card.fields[target] = address
    others.extend(f"Email: {address}" for address in unique[2:])


def _phone(card: Card, line: _Line, types: set[str]) -> None:
    value = unescape(line.value).strip()
    extension = ""
    if value.casefold().startswith("tel:"):  # vCard 4.0: TEL;VALUE=uri:tel:+1-555-0100;ext=12
        value, _, params = value[4:].partition(";")
        extension = next((p[4:] for p in params.split(";") if p.casefold().startswith("ext=")), "")
    if not value:
        return
    mobiles = sum(1 for kind, _n, _e in card.phones if kind.startswith("Mobile"))
    card.phones.append((phone_type(types, mobiles), value, extension))


def _address(card: Card, line: _Line, types: set[str]) -> None:
    po_box, extended, street, city, region, postcode, country = (
        _components(line.value, 7)
    )  # fmt: skip
    street_lines = [
        part.strip()
        for item in _list(street)
        for part in item.split("\n")
        if part.strip()
    ]  # fmt: skip
    box = " ".join(_list(po_box))
    if not street_lines and box:
        street_lines, box = [box], ""
    second = street_lines[1:] + _list(extended) + ([box] if box else [])
    parts = {
        "street": street_lines[0] if street_lines else "",
        "street2": ", ".join(second),
        "city": " ".join(_list(city)),
        "region": " ".join(_list(region)),
        "postal_code": " ".join(_list(postcode)),
        "country": " ".join(_list(country)),
    }
    if any(parts.values()):
        card.addresses.append({"type": address_type(types), **parts})


def _crm_id(uid: str) -> str:
    """The contact id in a UID our own exports write (crm.services.transfer.exporting), else ""."""
    from crm.services.transfer.importing.targets import contact_id_from_uid

    found = contact_id_from_uid(uid)
    return str(found) if found is not None else ""


def _social_host(url: str) -> str:
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip().casefold()).split("/")[0]
    host = host.removeprefix("www.").split(":")[0]
    for known, platform in _SOCIAL_HOSTS.items():
        if host == known or host.endswith("." + known):
            return platform
    return ""


def _social_profile(card: Card, line: _Line) -> None:
    """Apple's X-SOCIALPROFILE;type=linkedin;x-user=ana:https://linkedin.com/in/ana."""
    value = unescape(line.value).strip()
    user = (line.params.get("X-USER") or [""])[0]
    if value.casefold().startswith("x-apple:") or not value:
        value = user or value.partition(":")[2]
    named = next((t.casefold() for t in line.params.get("TYPE", [])), "")
    platform = _PLATFORMS.get(named) or _social_host(value) or named
    if value:
        card.social.append((platform, value))


_MESSENGERS = {
    "xmpp": "XMPP", "sip": "SIP", "skype": "Skype", "aim": "AIM", "icq": "ICQ", "irc": "IRC",
    "msnim": "MSN", "ymsgr": "Yahoo", "gtalk": "Google Talk", "matrix": "Matrix",
}  # fmt: skip


def _messenger(line: _Line) -> str:
    """IMPP;X-SERVICE-TYPE=Skype:skype:ana.smith as "Skype: ana.smith"."""
    value = unescape(line.value).strip()
    scheme, _, address = value.partition(":")
    if not address:
        scheme, address = "", value
    named = (line.params.get("X-SERVICE-TYPE") or [""])[0]
    service = named or _MESSENGERS.get(scheme.casefold(), scheme.capitalize() or "Messenger")
    return f"{service}: {address}"
