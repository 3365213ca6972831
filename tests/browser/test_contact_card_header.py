"""The contact card as a person reads it: a header with the avatar, the role at the company,
the statuses and tags, the quick actions; the key facts beside (before, on a phone) the
fields, no empty field and no internal one; and a map of the located address, offline."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm.extensions import db
from crm.services.lists.tags import tags_for_names
from tests.browser.widgets import no_sideways_scroll, snap

pytestmark = pytest.mark.browser


@pytest.fixture
def ana(make_user, make_contact):
    manager = make_user("crm_manager")
    manager.full_name = "Maria Manager"
    contact = make_contact(
        manager, first_name="Ana", last_name="Smith", email="ana@example.com",
        job_title="Head of Purchasing", account="Globex", email_marketing=True,
        phones=[{"type": "Mobile", "country_code": "+44", "number": "7400 123456"}],
        addresses=[{"type": "Main", "street": "221B Baker Street", "city": "London",
                    "postal_code": "NW1 6XE", "country": "GB"}],
    )  # fmt: skip
    contact.tags = tags_for_names(["VIP", "Trade fair"])
    db.session.commit()
    return manager, contact


@pytest.mark.parametrize("width,height", [(1366, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_card_reads_as_a_person_and_maps_the_address(page: Page, ana, sign_in, width, height):
    manager, contact = ana
    sign_in(page, manager.email)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"/admin/contact/details/?id={contact.id}")
    header = page.locator("#contact-header")
    expect(header.locator(".contact-initials")).to_have_text("AS")
    expect(page.locator("#contact-role")).to_have_text("Head of Purchasing at Globex")
    expect(page.locator("#contact-role a")).to_have_attribute(
        "href", f"/admin/account/details/?id={contact.account_id}"
    )
    expect(page.locator("#contact-statuses")).to_contain_text("Non-customer")
    expect(page.locator("#contact-statuses .contact-tag")).to_have_text(["Trade fair", "VIP"])
    expect(page.locator("#contact-people")).to_have_text("Owner: Maria Manager")
    for action in ("Email", "Call", "Note", "Task", "Deal", "Edit"):
        expect(page.locator("#contact-actions").get_by_role("link", name=action)).to_be_visible()
    fields = page.locator("#contact-fields")
    expect(fields).to_contain_text("Head of Purchasing")
    for hidden in ("Version", "Middle name", "Certificate", "Do not call"):
        expect(fields).not_to_contain_text(hidden)  # empty, internal or "No"
    expect(page.locator("#details-consent")).to_contain_text("Marketing email: yes, accepted")
    # The map: drawn with the country outlines shipped with the app, the point on London.
    map_box = page.locator("#contact-map")
    expect(map_box).to_have_attribute("data-drawn", "1")
    expect(map_box.locator("path.leaflet-interactive")).to_have_count(1)  # the point
    expect(map_box.locator("svg path")).not_to_have_count(1)  # and the countries
    expect(page.locator("#contact-map-precision")).to_contain_text("located at city level")
    box = page.locator("#contact-key-facts").bounding_box()
    table = fields.bounding_box()
    if width < 992:  # on a phone the key facts come first
        assert box["y"] < table["y"]
    else:
        assert box["x"] > table["x"]
    no_sideways_scroll(page)
    snap(page, f"contact-card-{width}")


def test_an_account_maps_where_its_contacts_are(page: Page, ana, make_contact, sign_in):
    manager, contact = ana
    make_contact(
        manager, first_name="Bo", last_name="Lee", account="Globex",
        addresses=[{"type": "Main", "city": "Manchester", "country": "GB"}],
    )  # fmt: skip
    sign_in(page, manager.email)
    page.goto(f"/admin/account/details/?id={contact.account_id}")
    expect(page.locator("#account-map")).to_have_attribute("data-drawn", "2")
    expect(page.locator("#account-map-precision")).to_contain_text("Ana Smith, Main: 221B Baker")
    expect(page.locator("#account-map-precision")).to_contain_text("Bo Lee, Main: Manchester")
