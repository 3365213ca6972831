"""The card's Emails and Campaigns tabs and the page of one message (crm.admin.contact_emails):
what they show, the HTML part kept out of the page (a sandboxed frame), and who gets 403/404."""

from __future__ import annotations

import html as html_lib
from datetime import UTC, datetime

import pytest
from flask import url_for
from markupsafe import escape

from crm.extensions import db
from crm.models import (
    AccessClass,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    EmailKind,
    ExclusionReason,
    RecipientStatus,
)
from crm.services.marketing import email_log
from crm.services.platform import mail

SENT_AT = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
EVIL = '<p onclick="steal()">Hello <b>Ana</b></p><script>alert("x")</script>'


@pytest.fixture
def ana(make_contact):
    return make_contact(first_name="Ana", last_name="Smith", email="ana@example.com")


def _card(client, contact, tab: str) -> str:
    response = client.get(f"/admin/contact/details/?id={contact.id}&tab={tab}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _greeting(contact, html: str | None = None):
    message = mail.Mail(to=[contact.email], subject="Happy birthday <Ana>",
                        body="Many happy\nreturns", html=html)  # fmt: skip
    row = email_log.record(EmailKind.GREETING, contact, contact.email, message, message_id=None)
    db.session.commit()
    return row


def _spring(contact, **data) -> CampaignRecipient:
    campaign = Campaign(name="Spring sale", subject="Hello {{ first_name }}",
                        body_text="Dear {{ first_name }}, spring is here.",
                        status=CampaignStatus.SENT, started_at=SENT_AT)  # fmt: skip
    db.session.add(campaign)
    db.session.flush()
    values = {"email": contact.email, "status": RecipientStatus.SENT, "sent_at": SENT_AT, **data}
    recipient = CampaignRecipient(campaign_id=campaign.id, contact_id=contact.id, **values)
    db.session.add(recipient)
    db.session.commit()
    return recipient


def test_empty_tabs_say_so(client, login_as, ana):
    login_as("crm_sales")
    page = _card(client, ana, "emails")
    assert 'class="tab-pane active" id="tab-emails"' in page
    assert "No email was sent to this contact yet." in page
    assert "This contact was not in any campaign yet." in page
    assert ">Emails</a>" in page and ">Campaigns</a>" in page


def test_the_emails_tab_lists_and_the_page_shows_one_message(client, login_as, ana):
    login_as("crm_sales")
    greeting = _greeting(ana)
    recipient = _spring(ana)
    page = _card(client, ana, "emails")
    assert "Happy birthday &lt;Ana&gt;" in page and "Birthday greeting" in page
    assert "Campaign: Spring sale" in page and "Hello Ana" in page
    assert f'href="/admin/contact-emails/{ana.id}/sent/{greeting.id}/"' in page
    assert f'href="/admin/contact-emails/{ana.id}/campaign/{recipient.id}/"' in page
    shown = client.get(f"/admin/contact-emails/{ana.id}/sent/{greeting.id}/")
    assert shown.status_code == 200
    text = shown.get_data(as_text=True)
    assert "Many happy\nreturns" in text and "Happy birthday &lt;Ana&gt;" in text
    assert "<iframe" not in text  # no HTML part
    campaign = client.get(f"/admin/contact-emails/{ana.id}/campaign/{recipient.id}/")
    body = campaign.get_data(as_text=True)
    assert "Dear Ana, spring is here." in body and "Made again from the campaign" in body


def test_an_html_part_is_shown_in_a_frame_without_any_permission(client, login_as, ana):
    login_as("crm_sales")
    greeting = _greeting(ana, html=EVIL)
    text = client.get(f"/admin/contact-emails/{ana.id}/sent/{greeting.id}/").get_data(as_text=True)
    assert '<iframe sandbox="" referrerpolicy="no-referrer" srcdoc="' in text
    assert str(escape(EVIL)) in text  # the whole part, as the frame's text
    assert "<script>alert" not in text and 'onclick="steal()"' not in text


def test_the_campaigns_tab_in_words_and_its_links(app, client, login_as, ana):
    login_as("crm_sales")
    sent = _spring(ana, unsubscribed_at=datetime(2025, 3, 5, 8, 0, tzinfo=UTC))
    skipped = _spring(ana, status=RecipientStatus.EXCLUDED, sent_at=None,
                      reason=ExclusionReason.DO_NOT_EMAIL)  # fmt: skip
    page = _card(client, ana, "campaigns")
    assert "Sent on 2025-03-04 09:30 · Unsubscribed on 2025-03-05 08:00" in page
    assert "Not sent: Do not email" in page
    with app.test_request_context():
        link = url_for("campaign.details_view", id=sent.campaign_id)
    assert f'href="{html_lib.escape(link)}"' in page
    assert f"/admin/contact-emails/{ana.id}/campaign/{sent.id}/" in page
    assert f"/admin/contact-emails/{ana.id}/campaign/{skipped.id}/" not in page  # never mailed
    assert client.get(f"/admin/contact-emails/{ana.id}/campaign/{skipped.id}/").status_code == 404


def test_who_may_open_a_message(client, login_as, make_user, make_contact, ana):
    admin = make_user("crm_admin")
    board = AccessClass(name="Board")
    db.session.add(board)
    kept = make_contact(admin, first_name="Kept", email="kept@example.com", access_class=board)
    hidden = _greeting(kept)
    mine = _greeting(ana)
    login_as("crm_sales")
    assert client.get(f"/admin/contact-emails/{kept.id}/sent/{hidden.id}/").status_code == 404
    # Another contact's message through a contact one sees: not found either.
    assert client.get(f"/admin/contact-emails/{ana.id}/sent/{hidden.id}/").status_code == 404
    assert client.get(f"/admin/contact-emails/{ana.id}/sent/{mine.id}/").status_code == 200
    assert client.get(f"/admin/contact-emails/{ana.id}/sent/99999/").status_code == 404


def test_a_role_without_contacts_is_refused(client, login_as, ana):
    mine = _greeting(ana)
    login_as("crm_list_manager")
    assert client.get(f"/admin/contact-emails/{ana.id}/sent/{mine.id}/").status_code == 403
