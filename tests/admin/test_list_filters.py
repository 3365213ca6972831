"""Every list's filter menu: each choice it offers works, and nonsense typed into the
address is ignored (never a server error)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask_admin.contrib.sqla import ModelView

from crm.extensions import db
from crm.models import Lead, LeadStatus


def test_choosing_a_status_filters_the_leads(client, login_as):
    db.session.add_all(
        [
            Lead(first_name="Nia", last_name="Newton", kind="b2c", status=LeadStatus.NEW),
            Lead(first_name="Wes", last_name="Worker", kind="b2c", status=LeadStatus.WORKING),
            Lead(first_name="Quin", last_name="Quality", kind="b2c", status=LeadStatus.QUALIFIED),
        ]
    )
    db.session.commit()
    login_as("crm_sales")
    view = next(v for v in client.application.extensions["admin"][0]._views if v.endpoint == "lead")
    args = {
        f"{flt.name}:{flt.operation()}": view.get_filter_arg(i, flt)
        for i, flt in enumerate(view._filters)
    }
    menu = client.get("/admin/lead/").get_data(as_text=True)
    assert '["new", "New"]' in menu  # the menu offers the stored values, with their labels

    def names(query: dict[str, str]) -> set[str]:
        html = client.get("/admin/lead/?" + urlencode(query)).get_data(as_text=True)
        return {n for n in ("Newton", "Worker", "Quality") if n in html}

    assert names({f"flt0_{args['Status:equals']}": "new"}) == {"Newton"}
    assert names({f"flt0_{args['Status:not equal']}": "new"}) == {"Worker", "Quality"}
    assert names({f"flt0_{args['Status:in list']}": "new,qualified"}) == {"Newton", "Quality"}
    # An unknown status is not a choice: the filter is ignored, the page answers.
    assert names({f"flt0_{args['Status:equals']}": "NEW"}) == {"Newton", "Worker", "Quality"}
    assert names({f"flt0_{args['Status:in list']}": "new,bogus"}) == {
        "Newton",
        "Worker",
        "Quality",
    }


def test_every_filter_of_every_list_takes_its_choices_and_survives_nonsense(
    client, login_as, subtests
):
    """All of a list's filters at once (flt0_, flt1_, ...), set to their menu's first
    choice, then to nonsense; a failure is then narrowed down to the filter at fault."""
    login_as("crm_admin")
    walked = 0
    for view in client.application.extensions["admin"][0]._views:
        if not isinstance(view, ModelView) or not view._filters:
            continue
        base = view.url.rstrip("/") + "/"
        if client.get(base).status_code != 200:
            continue  # not this role's list
        args, choices = [], []
        for index, flt in enumerate(view._filters):
            args.append(view.get_filter_arg(index, flt))
            with client.application.test_request_context():
                options = flt.get_options(view) or []
            choices.append(str(options[0][0]) if options else "1")
        for kind, values in (
            ("first choices", choices),
            ("30 digits", ["9" * 30] * len(args)),
            ("markup", ["<b>x</b>,1"] * len(args)),
        ):
            with subtests.test(list=base, values=kind):
                query = {
                    f"flt{n}_{arg}": value
                    for n, (arg, value) in enumerate(zip(args, values, strict=True))
                }
                answer = client.get(base + "?" + urlencode(query))
                if answer.status_code != 200:  # which one?
                    failing = [
                        arg
                        for arg, value in zip(args, values, strict=True)
                        if client.get(base + "?" + urlencode({f"flt0_{arg}": value})).status_code
                        != 200
                    ]
                    raise AssertionError(f"{base}: {answer.status_code} with {kind}: {failing}")
                assert "<b>x</b>" not in answer.get_data(as_text=True)
        walked += 1
    assert walked >= 10  # every list with filters was walked


def _filter_data(html: str) -> dict:
    import json
    import re

    found = re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', html, re.S)
    assert found, "the list page carries its filter menu's data"
    return json.loads(found.group(1))


def test_the_countries_of_the_filter_menu_load_when_the_filter_is_chosen(client, login_as):
    """The contact list does not carry 249 countries on every page: the Country filter
    names where its options are, and they answer there (as the filter takes them)."""
    login_as("crm_sales")
    page = client.get("/admin/contact/").get_data(as_text=True)
    (country,) = _filter_data(page)["Country"]
    assert country["options"] is None and "Afghanistan" not in page
    assert country["options_url"] == "/admin/contact/filter-options/?arg=country_is"
    answer = client.get(country["options_url"])
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "private, no-store"
    options = answer.get_json()
    assert ["DE", "Germany"] in options and ["FR", "France"] in options and len(options) > 240
    # Small menus stay on the page (the owners, read at each request).
    assert _filter_data(page)["Customer status"][0]["options"]
    # Only a filter that loads its options answers there.
    assert client.get("/admin/contact/filter-options/?arg=owner_is").status_code == 404
    assert client.get("/admin/contact/filter-options/?arg=nonsense").status_code == 404
    assert client.get("/admin/contact/filter-options/").status_code == 404


def test_the_filter_options_need_the_right_to_see_contacts(client, make_user):
    from tests.conftest import login

    answer = client.get("/admin/contact/filter-options/?arg=country_is")
    assert answer.status_code in (302, 401, 403)  # signed out: to the sign-in page
    login(client, make_user().email)  # a user without a role
    assert client.get("/admin/contact/filter-options/?arg=country_is").status_code == 403
