"""Every file the app offers for download, fetched whole from a real server by each role
allowed to, and refused to the others.

A real server thread, not the test client (tests/live_server.py): the recipients CSV failed
there only (DetachedInstanceError, a 500 for every role).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from openpyxl import load_workbook
from PIL import Image

from crm.auth.permissions import can
from crm.extensions import db
from crm.models import MarketingList, MarketingListMember
from crm.services.platform import jobs
from tests.conftest import ROLES, csrf_from
from tests.live_server import served, signed_in

PDF = b"%PDF-1.4\n% the minutes of the meeting\n%%EOF\n"
EXPORT = "/admin/contact/bulk/?target=matching"


class Who:
    def __init__(self, roles: tuple[str, ...]):
        self.role_names = set(roles)
        self.is_authenticated = True
        self.is_active = True


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with served(app) as base:
        yield base


@pytest.fixture
def world(make_user, make_contact) -> dict[str, Any]:
    """Ana Smith (marketing mail allowed) on a marketing list, with a file and a picture."""
    from crm.services.card import files

    manager = make_user("crm_manager")
    ana = make_contact(
        manager, first_name="Ana", last_name="Smith", email="ana@example.com",
        email_marketing=True,
    )  # fmt: skip
    newsletter = MarketingList(name="Newsletter 2026")
    db.session.add(newsletter)
    db.session.flush()
    db.session.add(
        MarketingListMember(list_id=newsletter.id, contact_id=ana.id, added_by_id=manager.id)
    )
    minutes = files.upload_file(manager, ana, "minutes.pdf", io.BytesIO(PDF))
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(picture, "PNG")
    picture.seek(0)
    files.set_picture(manager, ana, "ana.png", picture)
    db.session.commit()
    return {"contact": ana.id, "list": newsletter.id, "file": minutes.id}


def fetched(
    response: requests.Response, status: int, mimetype: str = "", *, attachment: bool = True
) -> requests.Response:
    """The response, its body read whole by requests (a download cut short raises there),
    with the status, type and headers expected."""
    assert response.status_code == status, (response.url, response.status_code)
    assert response.headers["Cache-Control"] == "private, no-store", response.url
    if mimetype:
        assert response.headers["Content-Type"].split(";")[0] == mimetype, response.url
        disposition = response.headers.get("Content-Disposition", "")
        assert disposition.startswith("attachment") is attachment, response.url
    return response


def refused(who: Who, answer: requests.Response) -> None:
    """An export asked by a role without the right: no file. The bulk page does not offer
    the export to those who may tag contacts but not export them (the form says the choice
    is not valid); the others may not open the bulk page at all (403)."""
    status = 200 if can(who, "contact.bulk_edit") else 403
    fetched(answer, status, "text/html", attachment=False)
    if status == 200:
        assert 'id="operation-error"' in answer.text  # the choice is refused


@pytest.mark.parametrize("role", ROLES)
def test_every_download_as_every_role(
    app: Flask,
    live_server: str,
    make_user: Callable[..., Any],
    world: dict[str, Any],
    role: str,
    caplog: pytest.LogCaptureFixture,
):
    who = Who((role,))
    base = live_server
    browser = signed_in(base, make_user(role).email)
    token = csrf_from(browser.get(f"{base}/logout").text)  # one token for the session's forms

    # The contact exports, streamed as they are written (CSV, XLSX, vCard).
    for file_format, mimetype in (
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("vcf", "text/vcard"),
    ):
        answer = browser.post(
            f"{base}{EXPORT}",
            data={"operation": "export", "export_format": file_format, "csrf_token": token},
        )
        if not can(who, "contact.export"):
            refused(who, answer)
            continue
        fetched(answer, 200, mimetype)
        assert f'.{file_format}"' in answer.headers["Content-Disposition"]
        if file_format == "csv":
            rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
            names = [rows[1][rows[0].index(h)] for h in ("First name", "Last name")]
            assert names == ["Ana", "Smith"]
        elif file_format == "xlsx":
            sheet = load_workbook(io.BytesIO(answer.content), read_only=True).active
            values = [cell for row in sheet.iter_rows(values_only=True) for cell in row]
            assert "Ana" in values and "ana@example.com" in values
        else:
            assert "FN:Ana Smith" in answer.text and "ana@example.com" in answer.text

    # A large export: written by a job, then downloaded from its page.
    app.config["CRM_EXPORT_BACKGROUND_FROM"] = 0  # more than none: a job
    asked = browser.post(
        f"{base}{EXPORT}",
        data={"operation": "export", "export_format": "csv", "csrf_token": token},
        allow_redirects=False,
    )
    app.config["CRM_EXPORT_BACKGROUND_FROM"] = 10_000
    if can(who, "contact.export"):
        assert asked.status_code == 302, asked.text[:300]
        jobs.wait()
        job_page = re.search(r"/admin/exports/(\d+)/", asked.headers["Location"])
        download = fetched(
            browser.get(f"{base}/admin/exports/{job_page.group(1)}/download/"), 200, "text/csv"
        )
        assert "Ana" in download.content.decode("utf-8-sig")
    else:
        refused(who, asked)
        fetched(browser.get(f"{base}/admin/exports/1/download/"), 403)

    # The marketing list's recipients, for the mailing tool.
    members = browser.get(f"{base}/admin/marketing-lists/members/?id={world['list']}")
    recipients = browser.post(
        f"{base}/admin/marketing-lists/recipients.csv?id={world['list']}",
        data={"csrf_token": token},
    )
    if can(who, "contact.export"):
        fetched(recipients, 200, "text/csv")
        assert 'id="recipients-download"' in members.text
        rows = list(csv.reader(io.StringIO(recipients.text)))
        assert rows[0] == ["Email", "First name", "Last name", "Unsubscribe link"]
        assert rows[1][:3] == ["ana@example.com", "Ana", "Smith"]
        assert "/unsubscribe/" in rows[1][3]
    else:
        fetched(recipients, 403)

    # The contact's file and picture.
    document = browser.get(f"{base}/admin/contact-files/{world['file']}/download/")
    picture = browser.get(f"{base}/admin/contact-files/{world['contact']}/picture/")
    if can(who, "contact.view"):
        fetched(document, 200, "application/pdf")
        assert "filename=minutes.pdf" in document.headers["Content-Disposition"]
        assert document.content == PDF
        fetched(picture, 200)
        assert picture.headers["Content-Type"].startswith("image/")
        assert Image.open(io.BytesIO(picture.content)).size[0] > 0
    else:
        fetched(document, 403)
        fetched(picture, 403)

    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, [r.getMessage() for r in failures]
