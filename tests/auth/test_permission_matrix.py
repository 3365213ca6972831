"""The permission matrix: one table, enforced, printed, shown and documented alike."""

from __future__ import annotations

import re
from pathlib import Path

from crm.auth.permissions import LABELS, PERMISSIONS, ROLE_ORDER, matrix_markdown
from tests.conftest import ROLES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_action_is_labelled_and_every_role_listed():
    assert set(LABELS) == set(PERMISSIONS)
    assert set(ROLE_ORDER) == set(ROLES)


def test_the_readme_shows_the_enforced_matrix():
    assert matrix_markdown() in README.read_text(encoding="utf-8")


def test_the_cli_prints_it(app):
    result = app.test_cli_runner().invoke(args=["crm", "permissions"])
    assert result.exit_code == 0
    assert result.output == matrix_markdown()


def test_the_page_shows_what_the_server_enforces(client, login_as):
    login_as("crm_sales")
    page = client.get("/admin/permissions/").get_data(as_text=True)
    rows = re.findall(r'<tr data-action="([^"]+)">(.*?)</tr>', page, re.S)
    assert [action for action, _ in rows] == list(LABELS)
    for action, cells in rows:
        shown = re.findall(r'aria-label="(yes|no)"', cells)
        assert shown == ["yes" if r in PERMISSIONS[action] else "no" for r in ROLE_ORDER], action
    # Roles by name, with the code the CLI and the API use; the user's own marked.
    headers = re.findall(r'<th [^>]*data-role="[^"]+">([^<]+)', page)
    assert headers == [
        "Administrator (crm_admin)",
        "Manager (crm_manager)",
        "Sales (crm_sales)",
        "Marketing (crm_marketeer)",
        "List manager (crm_list_manager)",
    ]
    assert re.findall(r">([^<>]+)<br><small>\(yours\)", page) == ["Sales (crm_sales)"]
