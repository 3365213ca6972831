"""Email marketing consent: the unsubscribe link (no sign-in), its history entry, and the
recipients of a marketing list: never a contact without consent or with do-not-email."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, Contact, MarketingList, MarketingListMember
from crm.services.lists import consent
from tests.conftest import csrf_from


def path_of(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def test_the_unsubscribe_link_asks_then_turns_consent_off_once(client, make_contact):
    ana = make_contact(email="ana@example.com", email_marketing=True)
    url = path_of(consent.unsubscribe_link(ana))
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "a***@example.com" in html  # opening it changes nothing
    db.session.refresh(ana)
    assert ana.email_marketing is True
    done = client.post(url, data={"csrf_token": csrf_from(html)})
    assert "You will get no more marketing email from us." in done.get_data(as_text=True)
    db.session.refresh(ana)
    assert ana.email_marketing is False
    entry = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "unsubscribe", AuditEntry.contact_id == ana.id
        )
    )
    assert entry.user_email == "unsubscribe link" and entry.user_id is None
    update = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "update", AuditEntry.contact_id == ana.id)
    )
    assert update.changes["email_marketing"] == [True, False]
    again = client.get(url).get_data(as_text=True)
    assert 'id="not-subscribed"' in again


def test_an_altered_link_or_one_without_csrf_changes_nothing(client, make_contact):
    ana = make_contact(email="ana@example.com", email_marketing=True)
    url = path_of(consent.unsubscribe_link(ana))
    assert client.get(url[:-2] + "xx").status_code == 404
    assert client.post(url, data={}).status_code == 400  # no CSRF token
    db.session.refresh(ana)
    assert ana.email_marketing is True


def test_recipients_are_only_those_who_may_receive_marketing(client, login_as, make_contact):
    user = login_as("crm_manager")
    people = {
        "yes": make_contact(first_name="Yes", email="yes@example.com", email_marketing=True),
        "no consent": make_contact(first_name="No", email="no@example.com"),
        "do not email": make_contact(
            first_name="Dne", email="dne@example.com", email_marketing=True, do_not_email=True
        ),  # fmt: skip
        "no email": make_contact(first_name="None", email_marketing=True),
        "formula": make_contact(first_name="=cmd()", email="f@example.com", email_marketing=True),
    }
    newsletter = MarketingList(name="Newsletter 2026")
    db.session.add(newsletter)
    db.session.flush()
    for contact in people.values():
        db.session.add(MarketingListMember(list_id=newsletter.id, contact_id=contact.id,
                                           added_by_id=user.id))  # fmt: skip
    db.session.commit()
    page = client.get(f"/admin/marketing-lists/members/?id={newsletter.id}").get_data(as_text=True)
    assert 'id="recipients-download"' in page
    response = client.post(
        f"/admin/marketing-lists/recipients.csv?id={newsletter.id}",
        data={"csrf_token": csrf_from(page)},
    )
    assert response.status_code == 200
    assert 'filename="Newsletter-2026-recipients.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["Email", "First name", "Last name", "Unsubscribe link"]
    assert sorted(r[0] for r in rows[1:]) == ["f@example.com", "yes@example.com"]
    formula = next(r for r in rows[1:] if r[0] == "f@example.com")
    assert formula[1] == "'=cmd()"  # neutralised for spreadsheets
    link = next(r[3] for r in rows[1:] if r[0] == "yes@example.com")
    assert client.get(path_of(link)).status_code == 200
    assert db.session.scalar(
        select(Contact.email_marketing).where(Contact.email == "yes@example.com")
    )


def test_sales_may_not_download_recipients(client, login_as):
    login_as("crm_sales")
    newsletter = MarketingList(name="N")
    db.session.add(newsletter)
    db.session.commit()
    page = client.get(f"/admin/marketing-lists/members/?id={newsletter.id}").get_data(as_text=True)
    assert 'id="recipients-download"' not in page
    response = client.post(
        f"/admin/marketing-lists/recipients.csv?id={newsletter.id}",
        data={"csrf_token": csrf_from(page)},
    )
    assert response.status_code == 403
