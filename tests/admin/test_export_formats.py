"""The bulk page's export: a format choice (CSV, XLSX, vCard), the right download, only the
contacts the list's filter matches and the user may see, and a line in the history."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
import vobject
from sqlalchemy import select

from crm.extensions import db
from crm.models import AccessClass, AuditEntry, Contact, Role
from crm.services.contacts.bulk import add_tags
from crm.services.transfer.importing.targets import restore_neutralised
from tests.conftest import csrf_from

VIP = "/admin/contact/bulk/?target=matching&flt0_tag_is=VIP"


@pytest.fixture
def vips(make_user, make_contact):
    """Three VIP contacts (one in an access class marketeers are not granted) and one more."""
    admin = make_user("crm_admin")
    key = AccessClass(name="Key accounts")
    db.session.add(key)
    db.session.commit()
    made = [
        make_contact(admin, first_name="Zoë", last_name="Ærø", email="zoe@example.com"),
        make_contact(admin, first_name="Bo 🙂", last_name="=1+1"),
        make_contact(admin, first_name="Kai", last_name="Keyman", access_class=key),
    ]
    make_contact(admin, first_name="Nora", last_name="Normal")
    add_tags(admin, select(Contact.id).where(Contact.id.in_([c.id for c in made])), ["VIP"])
    db.session.commit()
    return made


def _export(client, file_format: str | None, url: str = VIP):
    page = client.get(url).get_data(as_text=True)
    data = {"operation": "export", "csrf_token": csrf_from(page)}
    if file_format is not None:
        data["export_format"] = file_format
    return client.post(url, data=data)


def _names_in(response) -> list[str]:
    """The last names in a downloaded export, whatever its format."""
    body = response.get_data()
    if response.mimetype == "text/csv":
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        return [restore_neutralised(row["Last name"]) for row in rows]
    if response.mimetype == "text/vcard":
        return [card.n.value.family for card in vobject.readComponents(body.decode("utf-8"))]
    sheet = openpyxl.load_workbook(io.BytesIO(body))["Contacts"]
    return [row[4].value for row in sheet.iter_rows(min_row=2)]


def test_the_bulk_page_offers_the_three_formats(client, login_as, vips):
    login_as("crm_manager")
    page = client.get(VIP).get_data(as_text=True)
    assert "Export (CSV, XLSX or vCard)" in page
    assert re.search(r'data-param="export_format"[^>]*value="export"|value="export"', page)
    assert 'data-bulk-param="export_format"' in page
    options = re.findall(r'<option[^>]*value="(csv|xlsx|vcf)"', page)
    assert options == ["csv", "xlsx", "vcf"]


@pytest.mark.parametrize(
    ("file_format", "mimetype", "extension"),
    [
        ("csv", "text/csv", "csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        ("vcf", "text/vcard", "vcf"),
    ],
)
def test_each_format_downloads_the_filtered_contacts(
    client, login_as, vips, file_format, mimetype, extension
):
    user = login_as("crm_manager")
    response = _export(client, file_format)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    if extension != "xlsx":
        assert response.mimetype_params.get("charset") == "utf-8"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(
        rf'attachment; filename="contacts-\d{{8}}-\d{{4}}\.{extension}"', disposition
    )
    assert sorted(_names_in(response)) == sorted(["Ærø", "=1+1", "Keyman"])  # not Normal
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert entry.user_id == user.id
    assert entry.summary.startswith("Exported 3 contact(s) to ")
    assert entry.changes["format"] == file_format
    assert "flt0_tag_is=VIP" in entry.changes["target"]
    assert sorted(entry.changes["contact_ids"]) == sorted(c.id for c in vips)


def test_csv_is_the_default_format(client, login_as, vips):
    login_as("crm_manager")
    response = _export(client, None)
    assert response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8-sig")
    assert "'=1+1" in text and "Bo 🙂" in text and "Zoë" in text


def test_an_unknown_format_is_refused_on_the_form(client, login_as, vips):
    login_as("crm_manager")
    response = _export(client, "pdf")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all() == []


def test_a_user_limited_by_classes_exports_only_what_they_see(client, login_as, vips):
    marketeer = login_as("crm_marketeer")
    open_class = AccessClass(name="Retail")
    db.session.add(open_class)
    open_class.roles.append(db.session.scalar(select(Role).where(Role.name == "crm_marketeer")))
    db.session.commit()
    assert marketeer.id
    for file_format in ("csv", "xlsx", "vcf"):
        response = _export(client, file_format)
        assert response.status_code == 200
        assert sorted(_names_in(response)) == sorted(["Ærø", "=1+1"])  # not Keyman


def test_a_user_without_the_export_right_gets_no_file(client, login_as, vips):
    login_as("crm_sales")
    page = client.get(VIP).get_data(as_text=True)
    assert 'value="export"' not in page
    response = _export(client, "csv")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "is not a valid choice" in response.get_data(as_text=True)
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all() == []
