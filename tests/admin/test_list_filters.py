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
