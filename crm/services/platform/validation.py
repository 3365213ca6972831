"""Cleaning functions for single values. Each returns the normalised value or raises
FieldError with a message for the user. Forms, services, CLI and API all use these."""

from __future__ import annotations

import calendar
import gettext
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import email_validator
import phonenumbers
import pycountry

from crm.errors import FieldError, ValidationFailed

# Characters no typed text needs: the control characters (Unicode category Cc) but tab, line
# feed and carriage return (NUL, which PostgreSQL refuses in text columns; bell, backspace,
# escape, which starts terminal escape sequences in logs; DEL and the C1 set), and lone
# surrogates (no valid UTF-8 decodes to them; the database drivers cannot encode them).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
CONTROL_CHARACTERS_MESSAGE = "Remove the control characters (such as NUL) from this text."
SURROGATES_MESSAGE = "Remove the characters that are not valid text (broken UTF-8) from this text."


@dataclass
class FieldErrors:
    """The messages of a form's checks, by field name, gathered before anything is saved."""

    found: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.found.setdefault(name, []).append(message)

    def check(self, name: str, fn, *args, **kwargs) -> Any:
        """fn(*args, **kwargs), or None with its FieldError's message noted on `name`."""
        try:
            return fn(*args, **kwargs)
        except FieldError as exc:
            self.add(name, str(exc))
            return None

    def one_line(self, name: str, value: Any, limit: int, missing: str) -> str | None:
        """A required single-line text (a title, a subject), cleaned and limited; `missing`
        is noted on `name` when it is empty."""
        text = self.check(name, clean_limited, value, limit)
        if not text and name not in self.found:
            self.add(name, missing)
        elif text and ("\n" in text or "\r" in text):
            self.add(name, f"The {name} must be a single line.")
        return text

    def raise_any(self) -> None:
        """ValidationFailed with every message noted, if any."""
        if self.found:
            raise ValidationFailed(self.found)


def _stripped(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def clean_text(value: str | None) -> str | None:
    """Strip; empty becomes None. Control characters (but tab and newlines) and lone
    surrogates are removed: callers take the result as is, with no field to show a message
    on (notes, lookup and account names). A field that can show a message uses
    clean_free_text (or clean_limited, clean_required_name), which refuses them instead."""
    value = _stripped(value)
    if value is None:
        return None
    value = _SURROGATES.sub("", _CONTROL_CHARACTERS.sub("", value)).strip()
    return value or None


def clean_free_text(value: str | None) -> str | None:
    """Strip; empty becomes None. Anything a person types is kept (tab and newlines too);
    control characters and broken characters are refused with a message for the field."""
    value = _stripped(value)
    if value is None:
        return None
    if _CONTROL_CHARACTERS.search(value):
        raise FieldError(CONTROL_CHARACTERS_MESSAGE)
    if _SURROGATES.search(value):
        raise FieldError(SURROGATES_MESSAGE)
    return value


def clean_limited(value: str | None, limit: int) -> str | None:
    """clean_free_text, refusing more than `limit` characters (the column's size)."""
    value = clean_free_text(value)
    if value is not None and len(value) > limit:
        raise FieldError(f"Too long (at most {limit} characters).")
    return value


def clean_required_name(value: str | None, label: str) -> str:
    value = clean_free_text(value)
    if not value:
        raise FieldError(f"{label} is required.")
    if len(value) > 100:
        raise FieldError(f"{label} is too long (at most 100 characters).")
    return value


def clean_email(value: str | None) -> str | None:
    """A syntactically valid address, lower-cased; None when empty."""
    value = clean_free_text(value)
    if value is None:
        return None
    try:
        result = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise FieldError(f"Not a valid email address: {exc}") from None
    return result.normalized.lower()


def clean_url(value: str | None) -> str | None:
    """An http(s) URL with a host; 'example.com' becomes 'https://example.com'."""
    value = clean_free_text(value)
    if value is None:
        return None
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
        value = "https://" + value
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme.lower() not in {"http", "https"}:
        raise FieldError("Only http:// and https:// addresses are accepted.")
    if " " in value or "." not in host or host.startswith(".") or host.endswith("."):
        raise FieldError("Not a valid web address (e.g. https://example.com).")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        raise FieldError(
            "Not a valid web address: the port is not a number from 0 to 65535."
        ) from None
    if len(value) > 300:
        raise FieldError("The address is too long (at most 300 characters).")
    return value


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() - {"localtime", "Factory"}))


def clean_timezone(value: str | None) -> str | None:
    value = clean_free_text(value)
    if value is None:
        return None
    if value not in set(timezone_names()):
        raise FieldError(f"Unknown time zone {value!r}; use an IANA name such as Europe/Paris.")
    return value


@lru_cache(maxsize=1)
def language_choices() -> tuple[tuple[str, str], ...]:
    """ISO 639-1 codes and English names, sorted by name."""
    langs = [(lang.alpha_2, lang.name) for lang in pycountry.languages if hasattr(lang, "alpha_2")]
    return tuple(sorted(langs, key=lambda pair: pair[1]))


def clean_language(value: str | None) -> str | None:
    """An ISO 639-1 code, optionally with a region ('pt-BR')."""
    value = clean_free_text(value)
    if value is None:
        return None
    base, _, region = value.replace("_", "-").partition("-")
    if base.lower() not in {code for code, _ in language_choices()}:
        raise FieldError(f"Unknown language {value!r}; use an ISO 639-1 code such as 'en'.")
    if region:
        if pycountry.countries.get(alpha_2=region.upper()) is None:
            raise FieldError(f"Unknown region {region!r} in language {value!r}.")
        return f"{base.lower()}-{region.upper()}"
    return base.lower()


@lru_cache(maxsize=1)
def country_choices() -> tuple[tuple[str, str], ...]:
    return tuple(sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda p: p[1]))


# Names people type that ISO 3166 does not list (in any of its translations).
COUNTRY_ALIASES = {
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "great britain": "GB",
    "britain": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "america": "US",
    "united states": "US",
    "holland": "NL",
    "oesterreich": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "éire": "IE",
}
# Languages whose names of countries are recognised besides English: those of the people
# who send spreadsheets (pycountry ships the iso-codes translations of ISO 3166).
COUNTRY_NAME_LANGUAGES = (
    "de", "fr", "es", "it", "nl", "pt", "pt_BR", "ca", "sv", "da", "nb_NO", "nn", "fi", "is",
    "pl", "cs", "sk", "hu", "ro", "hr", "sl", "bg", "el", "et", "lv", "lt", "ga", "tr", "ru",
    "uk",
)  # fmt: skip


def _folded(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Every name of every country, case- and accent-folded, in English and in
    COUNTRY_NAME_LANGUAGES, with its alpha-2 code; English names win a clash."""
    languages = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[code], fallback=True)
        for code in COUNTRY_NAME_LANGUAGES
    ]
    names: dict[str, str] = {}
    english = [
        (getattr(c, attribute, None), c.alpha_2)
        for c in pycountry.countries
        for attribute in ("name", "official_name", "common_name")
    ]
    for translate in (str, *(language.gettext for language in languages)):
        for name, code in english:
            if name:
                names.setdefault(_folded(translate(name)), code)
    names.update({_folded(alias): code for alias, code in COUNTRY_ALIASES.items()})
    return names


def country_code(value: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country written as its alpha-2 or alpha-3 code, or
    as its name in English or one of COUNTRY_NAME_LANGUAGES ("Deutschland", "Norwegen",
    "Espagne"); None when no country has that name."""
    value = clean_free_text(value)
    if not value:
        return None
    country = None
    if len(value) == 2:
        country = pycountry.countries.get(alpha_2=value.upper())
    elif len(value) == 3:
        country = pycountry.countries.get(alpha_3=value.upper())
    if country is not None:
        return country.alpha_2
    return _country_names().get(_folded(value))


def clean_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code (see country_code for what is understood)."""
    value = clean_free_text(value)
    if value is None:
        return None
    code = country_code(value)
    if code is None:
        raise FieldError(f"Unknown country {value!r}; use a country or its ISO code (e.g. DE).")
    return code


def clean_currency(value: str | None) -> str | None:
    """An ISO 4217 currency code, upper-cased ("eur" -> "EUR"); None when empty."""
    value = clean_free_text(value)
    if value is None:
        return None
    code = value.upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise FieldError(f"Unknown currency {value!r}; use its ISO code (e.g. EUR, USD).")
    return code


def clean_amount(value: object, *, label: str = "The amount") -> Decimal | None:
    """A sum of money with at most two decimals, not negative; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise FieldError(f"{label} is not a number.") from None
    if not amount.is_finite():
        raise FieldError(f"{label} is not a number.")
    if amount < 0:
        raise FieldError(f"{label} cannot be negative.")
    if amount != amount.quantize(Decimal("0.01")):
        raise FieldError(f"{label} has more than two decimals.")
    if amount >= Decimal("1e12"):
        raise FieldError(f"{label} is too large.")
    return amount.quantize(Decimal("0.01"))


# A birthday without a year (Google's "--05-17", a vCard's "--0517") is kept in the date
# column with this year, as Apple's and Android's address books do: 1604 is a leap year
# (29 February fits) and no living person's year of birth.
YEAR_UNKNOWN = 1604
_NO_YEAR = re.compile(r"--(\d{2})-?(\d{2})")


def clean_birthday(value: date | str | None, today: date | None = None) -> date | None:
    """A plausible date of birth; ISO text ('1990-04-01') is accepted (CLI, API, import),
    and a day without a year ('--04-01', or a date in YEAR_UNKNOWN)."""
    if isinstance(value, str):
        value = clean_free_text(value)
        if value is None:
            return None
        no_year = _NO_YEAR.fullmatch(value)
        try:
            if no_year:
                value = date(YEAR_UNKNOWN, int(no_year[1]), int(no_year[2]))
            else:
                value = date.fromisoformat(value)
        except ValueError:
            raise FieldError("Not a date; use YYYY-MM-DD (or --MM-DD without the year).") from None
    if value is None:
        return None
    if isinstance(value, datetime):  # a datetime does not compare with a date
        value = value.date()
    if not isinstance(value, date):
        raise FieldError("Not a date; use YYYY-MM-DD.")
    if value.year == YEAR_UNKNOWN:
        return value
    return _plausible_birthday(
        value,
        today,
        "A birthday before 1900 is not plausible (for a birthday without a year, write "
        f"--{value:%m-%d}).",
    )


# Said of a year before 1900 typed into the form's Year box.
_TOO_OLD = "A birthday before 1900 is not plausible; leave the year empty if it is not known."


def _plausible_birthday(value: date, today: date | None, too_old: str = _TOO_OLD) -> date:
    today = today or date.today()
    if value > today:
        raise FieldError("A birthday cannot be in the future.")
    if value.year < 1900:
        raise FieldError(too_old)
    return value


MONTH_NAMES = tuple(calendar.month_name[m] for m in range(1, 13))  # as the list's filter shows


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def birthday_from_parts(
    day: str | None, month: str | None, year: str | None, today: date | None = None
) -> date | None:
    """A birthday chosen as a day, a month (1-12) and an optional year, as the contact form
    posts them (text); None when all three are empty. Without a year the date is kept in
    YEAR_UNKNOWN. FieldError says what is wrong in the form's words."""
    day, month, year = ((part or "").strip() for part in (day, month, year))
    if not (day or month or year):
        return None
    if not (day and month):
        raise FieldError("Choose both the day and the month.")
    if not (re.fullmatch(r"[0-9]{1,2}", day) and 1 <= int(day) <= 31):
        raise FieldError("Choose a day from the list.")
    if not (re.fullmatch(r"[0-9]{1,2}", month) and 1 <= int(month) <= 12):
        raise FieldError("Choose a month from the list.")
    if year and not re.fullmatch(r"[0-9]+", year):
        raise FieldError("The year must be a number, such as 1980 (or leave it empty).")
    d, m = int(day), int(month)
    name = MONTH_NAMES[m - 1]
    if d > calendar.monthrange(YEAR_UNKNOWN, m)[1]:  # YEAR_UNKNOWN is a leap year
        raise FieldError(f"{name} has no {_ordinal(d)}.")
    if not year:
        return date(YEAR_UNKNOWN, m, d)
    y = int(year)
    today = today or date.today()
    if y < 1900:  # before date() refuses a year 0 or 10000
        raise FieldError(_TOO_OLD)
    if y > today.year:
        raise FieldError("A birthday cannot be in the future.")
    if d > calendar.monthrange(y, m)[1]:
        raise FieldError(f"{d} {name} {y} did not exist: {y} was not a leap year.")
    return _plausible_birthday(date(y, m, d), today)


def birthday_text(value: date | str | None) -> str:
    """A birthday as files write it: 1980-05-17, or --05-17 without a year ("" for none);
    `value` may be SQLite's stored text."""
    if not value:
        return ""
    text = value if isinstance(value, str) else value.isoformat()
    return f"--{text[5:10]}" if text.startswith(f"{YEAR_UNKNOWN}-") else text


def birthday_shown(value: date | None) -> str:
    """A birthday for people: 1980-05-17, or "17 May" without a year."""
    if value is None:
        return ""
    if value.year == YEAR_UNKNOWN:
        return f"{value.day} {value.strftime('%B')}"
    return value.isoformat()


@dataclass(frozen=True)
class CleanPhone:
    country_code: str  # the calling code as people write it, e.g. "+44"
    number: str  # national significant number as typed, trimmed
    extension: str | None
    e164: str
    formatted: str


def clean_extension(extension: str | None) -> str | None:
    """A phone extension: 1 to 10 digits, or None."""
    extension = clean_free_text(extension)
    if extension is not None and not re.fullmatch(r"\d{1,10}", extension):
        raise FieldError("The extension must be 1 to 10 digits.")
    return extension


def clean_phone(
    country_code: str | None, number: str | None, extension: str | None, default_region: str
) -> CleanPhone:
    """Check a phone number with libphonenumber and give its E.164 and display forms.

    `country_code` is a calling code ('+44', '44') or a region ('GB'); a number typed with a
    leading '+' carries its own. Without either, `default_region` applies.
    """
    number = clean_free_text(number)
    if not number:
        raise FieldError("Enter the phone number.")
    extension = clean_extension(extension)
    cc = clean_free_text(country_code)
    region = default_region
    if cc:
        if cc.isalpha() and len(cc) == 2:
            region = cc.upper()
            if phonenumbers.country_code_for_region(region) == 0:
                raise FieldError(f"Unknown country {cc!r} for the phone number.")
        else:
            digits = cc.lstrip("+").strip()
            if not digits.isdigit() or not phonenumbers.region_codes_for_country_code(int(digits)):
                raise FieldError(f"Unknown country calling code {cc!r}.")
            region = phonenumbers.region_code_for_country_code(int(digits))
            if region == "001":  # non-geographic (e.g. +800): parse as international
                number = number if number.startswith("+") else f"+{digits}{number}"
    if not re.fullmatch(r"[0-9+()./\- ]+", number):
        raise FieldError("A phone number may only contain digits, spaces and + ( ) - . /")
    if not 3 <= sum(ch.isdigit() for ch in number) <= 17:
        raise FieldError("Not a phone number: too short or too long.")
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise FieldError("Not a phone number.") from None
    if not phonenumbers.is_valid_number(parsed):
        where = phonenumbers.region_code_for_number(parsed) or region
        raise FieldError(f"Not a valid phone number for {where} (+{parsed.country_code}).")
    # Formatted without the extension: it is kept in its own column and shown once
    # (libphonenumber would append it as " x123").
    parsed.extension = None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    shown = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if len(number) > 40:
        raise FieldError("The phone number is too long (at most 40 characters).")
    return CleanPhone(f"+{parsed.country_code}", number, extension, e164, shown)


def with_lost_plus(number: str, region: str) -> str:
    """`number` with its '+' back when a spreadsheet dropped it: a cell holding +49 30 123456
    as a number keeps 4930123456. Bare digits (at least 9, not starting with the region's
    trunk prefix) that make a valid international number are read as one when they are no
    valid number of `region`, or when the region writes its numbers with a trunk prefix
    (the 0 of most of Europe) they lack; anything else is returned as it is."""
    digits = number.strip()
    if not digits.isdigit() or len(digits) < 9:
        return number
    try:
        international = phonenumbers.is_valid_number(phonenumbers.parse("+" + digits))
        national = phonenumbers.is_valid_number(phonenumbers.parse(digits, region))
    except phonenumbers.NumberParseException:
        return number
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk = getattr(metadata, "national_prefix", None)
    if international and (not national or (trunk and not digits.startswith(trunk))):
        return "+" + digits
    return number


def clean_social(
    value: str | None, hosts: list[str], url_template: str, handle_pattern: str, platform_name: str
) -> tuple[str, str]:
    """Check a social link against its platform; return (handle as typed, profile URL)."""
    value = clean_free_text(value)
    if not value:
        raise FieldError("Enter the profile address or handle.")
    looks_like_url = (
        "://" in value
        or value.lower().startswith("www.")
        or ("/" in value and "." in value.split("/")[0])
    )
    if looks_like_url:
        url = clean_url(value)
        assert url is not None
        host = (urlsplit(url).hostname or "").lower()
        if hosts and not any(host == h or host.endswith("." + h) for h in hosts):
            raise FieldError(
                f"This is not a {platform_name} address (expected {', '.join(hosts)})."
            )
        return value, url
    handle = value.lstrip("@")
    if handle_pattern and not re.fullmatch(handle_pattern, handle):
        raise FieldError(f"Not a valid {platform_name} handle.")
    if not url_template:
        raise FieldError(f"Enter the full {platform_name} address.")
    return value, url_template.replace("{handle}", handle)
