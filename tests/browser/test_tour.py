"""The README's tour: its screenshots are taken here, on the demo data `make run` loads, by
a browser that signs in and opens the pages as a newcomer does.

`make tour` runs this file with CRM_TOUR_DIR=docs/tour, which replaces the PNG files the
README shows; a plain test run writes them to a temporary folder and checks them the same
way. A test without the browser checks that the README shows every picture taken here and
that each is in the repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Account, Address, Contact
from crm.services.platform.users import create_user
from crm.services.transfer.demo_data import load_demo
from tests.conftest import TEST_PASSWORD

PROJECT = Path(__file__).resolve().parents[2]
TOUR_FOLDER = "docs/tour"
# Each picture: its file name and the size of the window it is taken in.
PICTURES = {
    "home.png": (1366, 900),
    "contacts.png": (1366, 900),
    "contact-card.png": (1366, 900),
    "contact-form.png": (1366, 900),
    "contacts-phone.png": (390, 844),
}


def _card_contact() -> Contact:
    """A demo contact with the most to show: an account, a located address, tags."""
    candidates = db.session.scalars(
        select(Contact)
        .join(Contact.account)
        .join(Contact.addresses)
        .where(Account.is_hidden.is_(False), Address.latitude.is_not(None))
        .where(Contact.job_title.is_not(None), Contact.deleted_at.is_(None))
        .order_by(Contact.id)
    ).all()
    tagged = [c for c in candidates if c.tags]
    assert tagged, "the demo has no located, tagged company contact to show"
    return tagged[0]


@pytest.mark.browser
def test_the_tour_pictures(page: Page, sign_in, tmp_path: Path) -> None:
    folder = Path(os.environ.get("CRM_TOUR_DIR") or tmp_path)
    if not folder.is_absolute():
        folder = PROJECT / folder
    folder.mkdir(parents=True, exist_ok=True)
    admin = create_user(
        "admin@example.com", TEST_PASSWORD, ["crm_admin"], full_name="Administrator"
    )
    load_demo(120, seed=1)
    db.session.commit()
    shown = _card_contact()

    def take(name: str, url: str, ready: str) -> None:
        width, height = PICTURES[name]
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        page.wait_for_load_state("networkidle")
        expect(page.locator(ready).first).to_be_visible()
        page.mouse.move(0, 0)  # no hover effects in the picture
        path = folder / name
        page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 20_000, f"{name} looks empty"

    sign_in(page, admin.email)
    take("home.png", "/admin/", "#crm-team-activity .crm-activity")
    take("contacts.png", "/admin/contact/", "td.col-tags a.badge-pill")
    take(
        "contact-card.png",
        f"/admin/contact/details/?id={shown.id}",
        ".crm-map .leaflet-overlay-pane svg",
    )
    take("contact-form.png", f"/admin/contact/edit/?id={shown.id}", "#s2id_tags")
    take("contacts-phone.png", "/admin/contact/", "td.col-last_name a")
    assert sorted(p.name for p in folder.glob("*.png")) >= sorted(PICTURES)


def test_the_readme_shows_every_tour_picture_and_each_is_in_the_repository() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(rf"\]\(({re.escape(TOUR_FOLDER)}/[^)]+\.png)\)", readme)
    assert sorted(shown) == sorted(f"{TOUR_FOLDER}/{name}" for name in PICTURES)
    for path in shown:
        assert (PROJECT / path).stat().st_size > 20_000, f"{path} is missing or empty"
