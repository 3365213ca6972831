"""services.validation and control characters: NUL (which PostgreSQL refuses in text
columns), the other C0 and C1 controls, DEL and lone surrogates are refused with a message
by every cleaning function a form field goes through, and removed by clean_text (whose
callers have no field to show a message on); tab and newlines are text."""

from __future__ import annotations

import pytest

from crm.errors import FieldError
from crm.services.platform import validation as v

CONTROL = v.CONTROL_CHARACTERS_MESSAGE
REFUSED = ["a\x00b", "\x00", "a\x01b", "bell\x07", "esc\x1b[31m", "a\x0bb", "a\x0cb", "del\x7f"]
REFUSED += ["nel\x85x", "csi\x9bx", "x\x1fy"]


@pytest.mark.parametrize("value", REFUSED)
@pytest.mark.parametrize(
    "clean",
    [
        v.clean_free_text,
        lambda value: v.clean_limited(value, 100),
        lambda value: v.clean_required_name(value, "First name"),
    ],
    ids=["clean_free_text", "clean_limited", "clean_required_name"],
)
def test_control_characters_are_refused_with_a_message(clean, value):
    with pytest.raises(FieldError) as caught:
        clean(value)
    assert str(caught.value) == CONTROL


@pytest.mark.parametrize(
    "clean",
    [
        v.clean_email,
        v.clean_url,
        v.clean_timezone,
        v.clean_language,
        v.clean_country,
        v.clean_birthday,
    ],
)
def test_the_other_cleaning_functions_refuse_them_too(clean):
    with pytest.raises(FieldError, match=r"^Remove the control characters \(such as NUL\)"):
        clean("ex\x00ample")


@pytest.mark.parametrize(
    ("country_code", "number", "extension"),
    [("+44", "7400\x00123456", None), ("+44", "7400 123456", "1\x002"), ("+4\x004", "7400", None)],
)
def test_a_phone_with_a_control_character_is_refused(country_code, number, extension):
    with pytest.raises(FieldError, match=r"^Remove the control characters"):
        v.clean_phone(country_code, number, extension, "GB")


def test_a_social_handle_with_a_control_character_is_refused():
    with pytest.raises(FieldError, match=r"^Remove the control characters"):
        v.clean_social("ana\x00", [], "https://x.example/{handle}", "", "X")


def test_broken_text_is_refused():
    with pytest.raises(FieldError, match=r"^Remove the characters that are not valid text"):
        v.clean_free_text("a\udcffb")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("line one\nline\ttwo\r\nthree", "line one\nline\ttwo\r\nthree"),
        ("  Zoë 漢字 🙂 ", "Zoë 漢字 🙂"),
        ("a\u200bb\u202ec\ufeff", "a\u200bb\u202ec\ufeff"),  # format characters are text
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ],
)
def test_tab_newlines_and_any_other_text_are_kept(value, expected):
    assert v.clean_free_text(value) == expected
    assert v.clean_limited(value, 100) == expected
    assert v.clean_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\x00b", "ab"),
        ("\x00", None),
        (" \x01 x\x7f ", "x"),
        ("esc\x1b[31mred", "esc[31mred"),
        ("a\udcffb", "ab"),
        ("keep\ttab\nand newline", "keep\ttab\nand newline"),
    ],
)
def test_clean_text_removes_them(value, expected):
    assert v.clean_text(value) == expected
