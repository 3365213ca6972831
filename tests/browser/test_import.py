"""Importing a file in a real browser: upload, the proposed mapping, a preview, a dry run,
the import with its progress bar, and undo."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from crm.models import Contact

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"


def test_upload_map_preview_and_import_a_google_contacts_file(
    page: Page, make_user, sign_in, fresh_db, live_server
) -> None:
    manager = make_user("crm_manager")
    sign_in(page, manager.email)
    page.goto("/admin/imports/")
    page.set_input_files("#file", str(FIXTURES / "google_contacts.csv"))
    page.locator("#upload-submit").click()

    expect(page.locator("#column-set")).to_have_text("Google Contacts")
    expect(page.locator("#col_0")).to_have_value("first_name")
    page.locator("#preview-submit").click()
    expect(page.locator("#preview-table")).to_be_visible()
    assert page.locator("#preview-table tbody tr").count() >= 1
    assert fresh_db().scalar(select(func.count()).select_from(Contact)) == 0

    page.locator("#dry-run-submit").click()
    # The "Dry run started" message may already be gone: the page reloads itself when the
    # dry run ends (a small file's, at once). Its card stays, with the counts.
    expect(page.locator(".import-progress .job-state").first).to_have_text("Done")
    # Every row goes in: local numbers and a birthday without a year (--05-17) included.
    expect(page.locator(".import-progress .job-created").first).to_have_text("3")
    assert fresh_db().scalar(select(func.count()).select_from(Contact)) == 0

    page.locator("#import-submit").click()
    expect(page.locator("#job-title")).to_have_text("google_contacts.csv")
    expect(page.locator(".job-state")).to_have_text("Done")
    expect(page.locator(".progress-bar")).to_have_text("100%")
    created = int(page.locator(".job-created").inner_text())
    assert created == 3
    session = fresh_db()
    assert session.scalar(select(func.count()).select_from(Contact)) == created

    # Undo asks first, saying what it will do; dismissed, nothing happens.
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.wait_for_load_state("load")  # the confirmation's script runs once the page has loaded
    page.once("dialog", lambda dialog: answer(dialog, False))
    page.locator("#undo-submit").click()
    expect(page.locator("#undo-submit")).to_be_visible()
    assert questions == ["Undo this import? 3 contacts it created will be deleted."]
    assert fresh_db().scalar(select(func.count()).select_from(Contact)) == created
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.locator("#undo-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("Import undone")
    assert fresh_db().scalar(select(func.count()).select_from(Contact)) == 0
