"""The home page as a newcomer meets it after `make run`'s demo: figures that lead to the
lists they count, their tasks due, their recent contacts and the team's activity."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from crm.extensions import db
from crm.services.transfer.demo_data import load_demo
from tests.browser.widgets import no_sideways_scroll, snap

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [(1366, 900), (390, 844)], ids=["desktop", "phone"])
def test_home_figures_lead_to_their_lists_and_show_my_work(
    page: Page, viewport, make_user, sign_in, live_server
):
    admin = make_user("crm_admin")
    load_demo(40, seed=1)
    db.session.commit()

    sign_in(page, admin.email)
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.goto("/admin/")
    figures = page.locator("#crm-figures .crm-figure")
    expect(figures).to_have_count(4)
    expect(figures.nth(0)).to_contain_text("Active contacts")
    # The signed-in user's tasks: the overdue ones first, then today's, each linked.
    my_tasks = page.locator("#crm-my-tasks .crm-my-task")
    expect(my_tasks.first).to_contain_text("Overdue since")
    expect(my_tasks.last).to_contain_text("Today")
    expect(page.locator("#crm-my-contacts .crm-my-contact").first).to_be_visible()
    activity = page.locator("#crm-team-activity .crm-activity")
    expect(activity.first).to_be_visible()
    expect(activity.filter(has_text=re.compile(r"Tom Baker|Sara Lindqvist"))).not_to_have_count(0)
    no_sideways_scroll(page)
    snap(page, f"home-{viewport[0]}")

    # A figure opens the list it counts, filtered the same way.
    customers = figures.filter(has_text="Customers")
    shown = customers.locator(".h3").inner_text()
    customers.click()
    expect(page).to_have_url(re.compile(r"/admin/contact/\?flt0_customer_status_is=customer$"))
    expect(page.locator("body")).to_contain_text(f"{shown} contact")
    snap(page, f"home-customers-{viewport[0]}")

    page.goto("/admin/")
    figures.filter(has_text="Accounts").click()
    expect(page).to_have_url(f"{live_server}/admin/account/")
    expect(page.locator("table.model-list tbody tr").first).to_be_visible()

    # A task of mine opens the task; a recent contact opens its card.
    page.goto("/admin/")
    title = my_tasks.nth(0).locator("a").first.inner_text()
    my_tasks.nth(0).get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(r"/admin/tasks/details/\?id=\d+"))
    expect(page.locator("body")).to_contain_text(title)
    page.goto("/admin/")
    first_contact = page.locator("#crm-my-contacts .crm-my-contact a").first
    name = first_contact.inner_text()
    first_contact.click()
    expect(page).to_have_url(re.compile(r"/admin/contact/details/\?id=\d+"))
    expect(page.locator("body")).to_contain_text(name)
