"""The history text of an edit, as a person reads it after making the edit in the browser: on
the contact's History tab, in its activity feed and in Administration > History, with the
form's labels, names, enumeration labels and the office's time to the minute."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from crm.extensions import db
from crm.models.base import utcnow
from crm.services.platform.local_time import local_text
from tests.browser.widgets import section, snap, submit

pytestmark = pytest.mark.browser

RAW = re.compile(r"[a-z]+_[a-z_]+|_id\b|\bid:|\+00:00|\d\d:\d\d:\d\d", re.I)


@pytest.mark.parametrize("viewport", [(1366, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_history_text_of_an_edit(
    app, page: Page, viewport, make_user, make_contact, sign_in
) -> None:
    app.config["CRM_TIMEZONE"] = "Europe/Paris"
    admin = make_user("crm_admin")
    admin.full_name = "Alex Admin"
    db.session.commit()
    ana = make_contact(
        admin, first_name="Ana", last_name="Smith",
        phones=[{"type": "Mobile", "country_code": "+44", "number": "7400 123456"}],
    )  # fmt: skip

    sign_in(page, admin.email)
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.goto(f"/admin/contact/edit/?id={ana.id}")
    section(page, "Working data").get_by_label("Job title").fill("Head of Purchasing")
    section(page, "Profile").get_by_label("Customer status").select_option(label="Customer")
    before = local_text(utcnow())
    submit(page)
    expect(page.locator(".alert-success")).to_contain_text("successfully saved")

    page.goto(f"/admin/contact/details/?id={ana.id}&tab=history")
    edit = page.locator("#history-table tbody tr").first
    expect(edit).to_contain_text("Updated the contact Ana Smith")
    expect(edit).to_contain_text("Alex Admin")
    expect(edit.locator(".history-changes")).to_contain_text("Job title: Head of Purchasing")
    expect(edit.locator(".history-changes")).to_contain_text(
        "Customer status: Non-customer → Customer"
    )
    # To the minute, in office time (on a phone, with who beside it).
    when = edit.locator("td").first.inner_text().strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d( · Alex Admin)?", when), when
    assert when[:16] >= before[:15]
    table = page.locator("#history-table").inner_text()
    assert RAW.search(table) is None, RAW.search(table).group()
    snap(page, f"history-tab-{viewport[0]}")

    page.goto(f"/admin/contact/details/?id={ana.id}&tab=activity")
    line = page.locator("#activity-feed li.feed-change").first
    expect(line).to_contain_text("Alex Admin updated the contact Ana Smith")
    expect(line).to_contain_text("Job title")
    snap(page, f"history-feed-{viewport[0]}")

    page.goto("/admin/history/")
    row = page.locator("table.model-list tbody tr", has_text="Updated the contact").first
    expect(row).to_contain_text("Alex Admin")
    expect(row).to_contain_text("Customer status: Non-customer → Customer")
    expect(row.get_by_role("link", name="Ana Smith")).to_be_visible()
    listing = page.locator("table.model-list").inner_text()
    assert RAW.search(listing) is None, RAW.search(listing).group()
    snap(page, f"history-admin-{viewport[0]}")
