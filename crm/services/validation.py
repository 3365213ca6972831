"""Cleaning functions for single values. Each returns the normalised value or raises
FieldError with a message for the user. Forms, services, CLI and API all use these."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

import email_validator
import phonenumbers
import pycountry

from crm.errors import FieldError

# Characters no typed text needs: the control characters (Unicode category Cc) but tab, line
# feed and carriage return (NUL, which PostgreSQL refuses in text columns; bell, backspace,
# escape, which starts terminal escape sequences in logs; DEL and the C1 set), and lone
# surrogates (no valid UTF-8 decodes to them; the database drivers cannot encode them).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
CONTROL_CHARACTERS_MESSAGE = "Remove the control characters (such as NUL) from this text."
SURROGATES_MESSAGE = "Remove the characters that are not valid text (broken UTF-8) from this text."


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


# Names people type that ISO 3166 does not list.
COUNTRY_ALIASES = {
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "great britain": "GB",
    "britain": "GB",
    "usa": "US",
    "america": "US",
    "holland": "NL",
}


def clean_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code (a name, a common alias or an alpha-3 code is looked up)."""
    value = clean_free_text(value)
    if value is None:
        return None
    if value.lower() in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[value.lower()]
    country = None
    if len(value) == 2:
        country = pycountry.countries.get(alpha_2=value.upper())
    elif len(value) == 3:
        country = pycountry.countries.get(alpha_3=value.upper())
    if country is None:
        try:
            country = pycountry.countries.lookup(value)
        except LookupError:
            country = None
    if country is None:
        raise FieldError(f"Unknown country {value!r}; use a country or its ISO code (e.g. DE).")
    return country.alpha_2


def clean_birthday(value: date | str | None, today: date | None = None) -> date | None:
    """A plausible date of birth; ISO text ('1990-04-01') is accepted (CLI, API, import)."""
    if isinstance(value, str):
        value = clean_free_text(value)
        if value is None:
            return None
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise FieldError("Not a date; use YYYY-MM-DD.") from None
    if value is None:
        return None
    if isinstance(value, datetime):  # a datetime does not compare with a date
        value = value.date()
    if not isinstance(value, date):
        raise FieldError("Not a date; use YYYY-MM-DD.")
    today = today or date.today()
    if value > today:
        raise FieldError("A birthday cannot be in the future.")
    if value.year < 1900:
        raise FieldError("A birthday before 1900 is not plausible.")
    return value


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
