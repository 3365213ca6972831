"""A large export in a real browser: asked for from the bulk page, its progress on the job's
page, then the file downloaded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_a_large_export_runs_in_the_background_then_downloads(
    page: Page, app, make_user, make_contact, sign_in, live_server
) -> None:
    app.config["CRM_EXPORT_BACKGROUND_FROM"] = 2
    for name in ("Able", "Baker", "Cole"):
        make_contact(first_name="Ann", last_name=name)
    manager = make_user("crm_manager")
    sign_in(page, manager.email)
    page.goto("/admin/contact/bulk/?target=matching")
    page.get_by_label("Export (CSV, XLSX or vCard)").check()
    page.locator("#export_format").select_option("csv")
    if page.locator("#confirm").count():
        page.locator("#confirm").check()
    page.locator("#bulk-submit").click()

    # The job's page (its "in the background" message may be gone already: the page reloads
    # itself when the job ends, and three contacts take no time).
    expect(page.locator("#export-title")).to_have_text(re.compile(r"Export #\d+"))
    expect(page.locator(".export-progress .job-state")).to_have_text("Done")
    expect(page.locator(".export-progress .progress-bar")).to_have_text("100%")
    with page.expect_download() as download:
        page.locator(".export-download").click()
    body = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert all(name in body for name in ("Able", "Baker", "Cole"))
    assert download.value.suggested_filename.endswith(".csv")

    page.goto("/admin/exports/")
    expect(page.locator(".export-progress")).to_have_count(1)
