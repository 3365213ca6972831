"""The birthday entered as a day, a month and an optional year (crm.admin.fields.BirthdayField):
the field on its own, then the contact form through the test client, CSRF on."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form

from crm.admin.fields import BirthdayField
from crm.extensions import db
from crm.models import Contact
from tests.admin.helpers import contact_form, field_errors, post_form

THIS_YEAR = date.today().year
NOT_A_YEAR = "The year must be a number, such as 1980 (or leave it empty)."


class _Form(Form):
    birthday = BirthdayField("Birthday")


def _parts(day: str = "", month: str = "", year: str = "") -> dict[str, str]:
    return {"birthday-day": day, "birthday-month": month, "birthday-year": year}


def _bound(posted: dict[str, str] | None = None, stored: date | None = None) -> _Form:
    form = _Form(MultiDict(posted) if posted is not None else None, birthday=stored)
    form.validate()
    return form


@pytest.mark.parametrize(
    ("posted", "expected"),
    [
        (_parts("17", "5"), date(1604, 5, 17)),  # no year: the column's "no year" date
        (_parts("17", "5", "1980"), date(1980, 5, 17)),
        (_parts(" 17", "5", " 1980 "), date(1980, 5, 17)),
        (_parts("29", "2"), date(1604, 2, 29)),  # 29 February without a year is a birthday
        (_parts("29", "2", "1984"), date(1984, 2, 29)),
        (_parts("1", "1", "1900"), date(1900, 1, 1)),
        (_parts(), None),
        # The whole date as one value, as tools and the API's users post it.
        ({"birthday": "1980-05-17"}, date(1980, 5, 17)),
        ({"birthday": "--05-17"}, date(1604, 5, 17)),
        ({"birthday": "1604-05-17"}, date(1604, 5, 17)),
        ({"birthday": ""}, None),
    ],
)
def test_the_field_reads_the_three_parts_or_the_whole_date(posted, expected):
    form = _bound(posted)
    assert (form.birthday.data, form.birthday.errors) == (expected, [])


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        (_parts("17"), "Choose both the day and the month."),
        (_parts("", "5"), "Choose both the day and the month."),
        (_parts("", "", "1980"), "Choose both the day and the month."),
        (_parts("31", "2"), "February has no 31st."),
        (_parts("30", "2", "1980"), "February has no 30th."),
        (_parts("31", "4", "1980"), "April has no 31st."),
        (_parts("29", "2", "1981"), "29 February 1981 did not exist: 1981 was not a leap year."),
        (_parts("17", "5", f"{THIS_YEAR + 1}"), "A birthday cannot be in the future."),
        (_parts("17", "5", "99999"), "A birthday cannot be in the future."),
        (
            _parts("17", "5", "1899"),
            "A birthday before 1900 is not plausible; leave the year empty if it is not known.",
        ),
        (
            _parts("17", "5", "1604"),
            "A birthday before 1900 is not plausible; leave the year empty if it is not known.",
        ),
        (_parts("17", "5", "19x0"), NOT_A_YEAR),
        (_parts("17", "5", "-1980"), NOT_A_YEAR),
        (_parts("32", "5"), "Choose a day from the list."),
        (_parts("17", "13"), "Choose a month from the list."),
        (
            {"birthday": "17/05/1980"},
            "Not a date; use YYYY-MM-DD (or --MM-DD without the year).",
        ),
    ],
)
def test_the_field_says_what_is_wrong(posted, message):
    form = _bound(posted)
    assert form.birthday.data is None
    assert form.birthday.errors == [message]


def test_the_field_shows_a_stored_birthday_split_and_no_year_as_an_empty_year():
    html = _Form(birthday=date(1604, 5, 17)).birthday()
    assert _chosen(html) == ("17", "5", "")
    assert "1604" not in html
    assert _chosen(_Form(birthday=date(1980, 5, 17)).birthday()) == ("17", "5", "1980")
    assert _chosen(_Form().birthday()) == ("", "", "")


def test_the_field_keeps_what_was_chosen_when_it_is_refused():
    form = _bound(_parts("31", "2", "1980"))
    html = form.birthday(**{"class": "form-control is-invalid"})
    assert _chosen(html) == ("31", "2", "1980")
    assert 'class="crm-birthday is-invalid"' in html  # Bootstrap shows the error below it


def test_the_field_is_a_day_select_a_month_select_by_name_and_an_optional_year():
    html = _Form().birthday()
    assert re.search(r'<div [^>]*role="group" id="birthday" aria-label="Birthday"', html)
    assert re.search(r'<select [^>]*id="birthday-day" name="birthday-day"', html)
    assert re.findall(r'<option value="(\d+)">', _select(html, "birthday-day")) == [
        str(d) for d in range(1, 32)
    ]
    months = re.findall(r'<option value="\d+">(\w+)</option>', _select(html, "birthday-month"))
    assert months[:2] == ["January", "February"] and months[-1] == "December"
    assert len(months) == 12
    assert re.search(r'<input [^>]*inputmode="numeric"[^>]*name="birthday-year"', html)
    assert ">Day<" in html and ">Month<" in html and ">Year (optional)<" in html


# ---- the contact form --------------------------------------------------------------------


def _contacts() -> list[Contact]:
    db.session.expire_all()
    return db.session.query(Contact).all()


def _select(html: str, name: str) -> str:
    match = re.search(rf'<select [^>]*name="{name}".*?</select>', html, re.S)
    assert match, f"no select {name}"
    return match.group(0)


def _chosen(html: str) -> tuple[str, str, str]:
    """The day, month and year the birthday's inputs show chosen."""
    day, month = (
        re.findall(r'<option value="([^"]*)" selected', _select(html, f"birthday-{part}"))
        for part in ("day", "month")
    )
    year = re.search(r'<input [^>]*name="birthday-year"[^>]*>', html)
    assert year
    value = re.search(r'value="([^"]*)"', year.group(0))
    return (day[0] if day else "", month[0] if month else "", value.group(1) if value else "")


def _without_birthday(**parts: str) -> dict:
    return {**contact_form(birthday=None), **parts}


def test_a_birthday_chosen_without_a_year_is_shown_as_day_and_month(client, login_as):
    login_as("crm_sales")
    form = client.get("/admin/contact/new/").get_data(as_text=True)
    assert "1604" not in form and _chosen(form) == ("", "", "")
    response = post_form(client, "/admin/contact/new/", _without_birthday(**_parts("17", "5")))
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    [ana] = _contacts()
    assert (ana.birthday, ana.birthday_month) == (date(1604, 5, 17), 5)
    details = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    assert "17 May" in details and "1604" not in details
    edit = client.get(f"/admin/contact/edit/?id={ana.id}").get_data(as_text=True)
    assert _chosen(edit) == ("17", "5", "") and "1604" not in edit


def test_the_year_is_added_on_the_edit_form(client, login_as):
    user = login_as("crm_sales")
    post_form(client, "/admin/contact/new/", _without_birthday(**_parts("17", "5")))
    [ana] = _contacts()
    url = f"/admin/contact/edit/?id={ana.id}"
    posted = _without_birthday(owner=str(user.id), **_parts("17", "5", "1980"))
    edit = {
        name: value
        for name, value in posted.items()
        if not name.startswith(("phones-", "addresses-", "social_links-"))  # rows stay as they are
    }
    response = post_form(client, url, {**edit, "expected_version": str(ana.version)})
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    [ana] = _contacts()
    assert ana.birthday == date(1980, 5, 17)
    assert _chosen(client.get(url).get_data(as_text=True)) == ("17", "5", "1980")


@pytest.mark.parametrize(
    ("posted", "stored"),
    [("1980-05-17", date(1980, 5, 17)), ("--05-17", date(1604, 5, 17)), ("", None)],
)
def test_the_whole_date_may_still_be_posted_as_birthday(client, login_as, posted, stored):
    login_as("crm_sales")
    response = post_form(client, "/admin/contact/new/", contact_form(birthday=posted))
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    [ana] = _contacts()
    assert ana.birthday == stored
    assert ana.birthday_month == (stored.month if stored else None)


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("31", "2", ""), "February has no 31st."),
        (("", "5", ""), "Choose both the day and the month."),
        (("17", "5", "nineteen"), "The year must be a number"),
        (("17", "5", "1850"), "A birthday before 1900 is not plausible"),
        (("17", "5", str(THIS_YEAR + 1)), "A birthday cannot be in the future."),
    ],
)
def test_a_refused_birthday_shows_its_error_on_the_field_and_keeps_the_choices(
    client, login_as, parts, message
):
    login_as("crm_sales")
    response = post_form(client, "/admin/contact/new/", _without_birthday(**_parts(*parts)))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and _contacts() == []
    group = re.search(r'<label for="birthday".*?<div class="form-group', html, re.S)
    assert group, "no birthday field"
    assert message in unescape(group.group(0))  # under the birthday, not elsewhere
    assert _chosen(html) == parts
    assert "1604" not in html
