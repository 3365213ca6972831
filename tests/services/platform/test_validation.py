"""services.validation: each cleaning function, its normal forms and its refusals."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from crm.errors import FieldError
from crm.services.platform import validation as v

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("   ", None), ("  a b  ", "a b"), (42, "42"), ("\tx\n", "x")],
)
def test_clean_text(value, expected):
    assert v.clean_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" x " * 1, "x"), ("a" * 5, "aaaaa"), (None, None), ("  ", None)],
)
def test_clean_limited_accepts_up_to_the_limit(value, expected):
    assert v.clean_limited(value, 5) == expected


def test_clean_limited_refuses_more():
    with pytest.raises(FieldError, match=r"^Too long \(at most 5 characters\)\.$"):
        v.clean_limited("abcdef", 5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "First name is required."),
        ("", "First name is required."),
        (" \t ", "First name is required."),
        ("x" * 101, "First name is too long (at most 100 characters)."),
    ],
)
def test_clean_required_name_refuses(value, message):
    with pytest.raises(FieldError) as caught:
        v.clean_required_name(value, "First name")
    assert str(caught.value) == message


def test_clean_required_name_keeps_100_characters_and_strips():
    assert v.clean_required_name(" " + "x" * 100 + " ", "Name") == "x" * 100


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("Ana@Example.COM", "ana@example.com"),
        ("  ana.smith+crm@example.org ", "ana.smith+crm@example.org"),
        ("jürgen@müller.de", "jürgen@müller.de"),
    ],
)
def test_clean_email_accepts(value, expected):
    assert v.clean_email(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "ana",
        "ana@",
        "@example.com",
        "ana@example",
        "ana@@example.com",
        "ana smith@example.com",
        "ana@example.test",
        "ana@" + "x" * 250 + ".com",
    ],
)
def test_clean_email_refuses(value):
    with pytest.raises(FieldError, match="^Not a valid email address: "):
        v.clean_email(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("example.com", "https://example.com"),
        ("www.example.com/path?q=1", "https://www.example.com/path?q=1"),
        ("http://example.com", "http://example.com"),
        ("HTTPS://EXAMPLE.COM", "HTTPS://EXAMPLE.COM"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
    ],
)
def test_clean_url_accepts(value, expected):
    assert v.clean_url(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://example.com", "Only http:// and https:// addresses are accepted."),
        ("javascript://alert(1)", "Only http:// and https:// addresses are accepted."),
        ("javascript:alert(1)", "Not a valid web address (e.g. https://example.com)."),
        ("http://localhost", "Not a valid web address (e.g. https://example.com)."),
        ("https://.com", "Not a valid web address (e.g. https://example.com)."),
        ("https://example.", "Not a valid web address (e.g. https://example.com)."),
        ("https://exa mple.com", "Not a valid web address (e.g. https://example.com)."),
        ("https://example.com:99999", "Not a valid web address: the port is not a number"),
        ("https://example.com:http", "Not a valid web address: the port is not a number"),
        ("https://example.com/" + "x" * 300, "The address is too long (at most 300 characters)."),
    ],
)
def test_clean_url_refuses(value, message):
    with pytest.raises(FieldError) as caught:
        v.clean_url(value)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("value", ["Europe/Paris", "America/Sao_Paulo", "UTC", " Asia/Tokyo "])
def test_clean_timezone_accepts_iana_names(value):
    assert v.clean_timezone(value) == value.strip()


@pytest.mark.parametrize("value", ["europe/paris", "CET+1", "Mars/Olympus", "localtime", "Factory"])
def test_clean_timezone_refuses(value):
    with pytest.raises(FieldError, match="Unknown time zone"):
        v.clean_timezone(value)


def test_timezone_names_are_sorted_and_without_the_pseudo_zones():
    names = v.timezone_names()
    assert list(names) == sorted(names)
    assert "Europe/Berlin" in names
    assert "localtime" not in names and "Factory" not in names


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("EN", "en"), ("de", "de"), ("pt-br", "pt-BR"), ("pt_BR", "pt-BR")],
)
def test_clean_language_accepts(value, expected):
    assert v.clean_language(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("xx", "Unknown language 'xx'"),
        ("english", "Unknown language 'english'"),
        ("en-XX", "Unknown region 'XX' in language 'en-XX'."),
    ],
)
def test_clean_language_refuses(value, message):
    with pytest.raises(FieldError) as caught:
        v.clean_language(value)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("germany", "DE"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("usa", "US"),
        ("FRA", "FR"),
        ("Brazil", "BR"),
    ],
)
def test_clean_country_accepts(value, expected):
    assert v.clean_country(value) == expected


@pytest.mark.parametrize("value", ["XX", "XYZ", "Atlantis", "1"])
def test_clean_country_refuses(value):
    with pytest.raises(FieldError) as caught:
        v.clean_country(value)
    assert str(caught.value) == (
        f"Unknown country {value!r}; use a country or its ISO code (e.g. DE)."
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (date(1990, 4, 1), date(1990, 4, 1)),
        (TODAY, TODAY),
        (date(1900, 1, 1), date(1900, 1, 1)),
        ("1990-04-01", date(1990, 4, 1)),
        (datetime(1990, 4, 1, 12, 30), date(1990, 4, 1)),
        ("--04-01", date(1604, 4, 1)),  # no year: kept as day and month
        ("--0229", date(1604, 2, 29)),
        (date(1604, 12, 31), date(1604, 12, 31)),
    ],
)
def test_clean_birthday_accepts(value, expected):
    assert v.clean_birthday(value, today=TODAY) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (date(2026, 11, 23), "A birthday cannot be in the future."),
        (
            date(1899, 12, 31),
            "A birthday before 1900 is not plausible (for a birthday without a year, write "
            "--12-31).",
        ),
        ("01/04/1990", "Not a date; use YYYY-MM-DD (or --MM-DD without the year)."),
        ("1990-02-30", "Not a date; use YYYY-MM-DD (or --MM-DD without the year)."),
        ("--02-30", "Not a date; use YYYY-MM-DD (or --MM-DD without the year)."),
        (19900401, "Not a date; use YYYY-MM-DD."),
    ],
)
def test_clean_birthday_refuses(value, message):
    with pytest.raises(FieldError) as caught:
        v.clean_birthday(value, today=TODAY)
    assert str(caught.value) == message


def test_birthdays_without_a_year_are_written_and_shown_as_day_and_month():
    assert [v.birthday_text(d) for d in (date(1604, 5, 17), "1604-05-17", date(1980, 5, 17))] == [
        "--05-17", "--05-17", "1980-05-17",
    ]  # fmt: skip
    assert v.birthday_shown(date(1604, 5, 17)) == "17 May"
    assert v.birthday_shown(date(1980, 5, 17)) == "1980-05-17"
    assert v.birthday_text(None) == v.birthday_shown(None) == ""


@pytest.mark.parametrize(
    ("code", "number", "extension", "e164", "formatted", "calling_code"),
    [
        ("+44", "020 7946 0958", None, "+442079460958", "+44 20 7946 0958", "+44"),
        ("44", "020 7946 0958", "123", "+442079460958", "+44 20 7946 0958", "+44"),
        ("GB", "07400 123456", None, "+447400123456", "+44 7400 123456", "+44"),
        ("de", "030 1234567", None, "+49301234567", "+49 30 1234567", "+49"),
        (None, "(212) 736-5000", None, "+12127365000", "+1 212-736-5000", "+1"),
        ("", "212.736.5000", None, "+12127365000", "+1 212-736-5000", "+1"),
        ("GB", "+49 30 1234567", None, "+49301234567", "+49 30 1234567", "+49"),
        ("+800", "1234 5678", None, "+80012345678", "+800 1234 5678", "+800"),
    ],
)
def test_clean_phone(code, number, extension, e164, formatted, calling_code):
    clean = v.clean_phone(code, number, extension, "US")
    assert clean.e164 == e164
    assert clean.formatted == formatted
    assert clean.country_code == calling_code
    assert clean.extension == extension


def test_clean_phone_keeps_the_number_as_typed_and_the_extension_apart():
    clean = v.clean_phone("GB", "  020 7946 0958 ", "0042", "US")
    assert clean.number == "020 7946 0958"
    assert clean.extension == "0042"
    assert "42" not in clean.formatted.replace("+44 20 7946 0958", "")


@pytest.mark.parametrize(
    ("code", "number", "extension", "message"),
    [
        ("GB", "", None, "Enter the phone number."),
        ("GB", None, None, "Enter the phone number."),
        ("GB", "12345", None, "Not a valid phone number for GB (+44)."),
        ("US", "555", None, "Not a valid phone number for US (+1)."),
        ("+999", "1234567", None, "Unknown country calling code '+999'."),
        ("+4x", "1234567", None, "Unknown country calling code '+4x'."),
        ("ZZ", "1234567", None, "Unknown country 'ZZ' for the phone number."),
        ("GB", "020 CALL NOW", None, "A phone number may only contain"),
        ("GB", "12", None, "Not a phone number: too short or too long."),
        ("GB", "1" * 18, None, "Not a phone number: too short or too long."),
        ("GB", "020 7946 0958", "12a", "The extension must be 1 to 10 digits."),
        ("GB", "020 7946 0958", "12345678901", "The extension must be 1 to 10 digits."),
        ("GB", "+0 123 4567", None, "Not a phone number."),
    ],
)
def test_clean_phone_refuses(code, number, extension, message):
    with pytest.raises(FieldError) as caught:
        v.clean_phone(code, number, extension, "US")
    assert str(caught.value).startswith(message)


LINKEDIN = (["linkedin.com"], "https://www.linkedin.com/in/{handle}", r"[A-Za-z0-9_-]{3,100}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ana-smith", ("ana-smith", "https://www.linkedin.com/in/ana-smith")),
        ("@ana-smith", ("@ana-smith", "https://www.linkedin.com/in/ana-smith")),
        (
            "https://www.linkedin.com/in/ana",
            ("https://www.linkedin.com/in/ana", "https://www.linkedin.com/in/ana"),
        ),
        ("www.linkedin.com/in/ana", ("www.linkedin.com/in/ana", "https://www.linkedin.com/in/ana")),
        ("linkedin.com/in/ana", ("linkedin.com/in/ana", "https://linkedin.com/in/ana")),
    ],
)
def test_clean_social_accepts(value, expected):
    assert v.clean_social(value, *LINKEDIN, "LinkedIn") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "Enter the profile address or handle."),
        ("https://facebook.com/ana", "This is not a LinkedIn address (expected linkedin.com)."),
        ("https://notlinkedin.com/ana", "This is not a LinkedIn address (expected linkedin.com)."),
        ("https://linkedin.com.example.org/", "This is not a LinkedIn address"),
        ("ftp://linkedin.com/in/ana", "Only http:// and https:// addresses are accepted."),
        ("an", "Not a valid LinkedIn handle."),
        ("ana smith", "Not a valid LinkedIn handle."),
    ],
)
def test_clean_social_refuses(value, message):
    with pytest.raises(FieldError) as caught:
        v.clean_social(value, *LINKEDIN, "LinkedIn")
    assert str(caught.value).startswith(message)


def test_clean_social_platform_without_a_url_pattern_needs_a_full_address():
    with pytest.raises(FieldError, match="Enter the full Website address."):
        v.clean_social("ana", [], "", "", "Website")
    assert v.clean_social("ana.example.com/me", [], "", "", "Website") == (
        "ana.example.com/me",
        "https://ana.example.com/me",
    )


def test_choice_lists_are_sorted_by_name():
    countries = v.country_choices()
    assert ("DE", "Germany") in countries
    assert [name for _, name in countries] == sorted(name for _, name in countries)
    languages = v.language_choices()
    assert ("fr", "French") in languages
    assert [name for _, name in languages] == sorted(name for _, name in languages)
