"""Sending a campaign to a real local SMTP server: who gets it, its headers, unsubscribing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.models import CampaignRecipient, CampaignStatus, Contact, RecipientStatus
from crm.services.marketing import campaigns, sending

BODY = 'Hello {{ first_name | default("there") }},\n\nNews from **{{ account | default("us") }}**.'


def _campaign(actor, segment, **extra):
    data = {
        "name": "December news", "subject": "News for {{ first_name }}", "body_text": BODY,
        "segment_ids": [segment.id], **extra,
    }  # fmt: skip
    campaign = campaigns.save_campaign(actor, None, data)
    db.session.commit()
    return campaign


def test_a_campaign_reaches_the_consenting_once_per_address_with_unsubscribe_headers(
    inline_jobs, smtp_server, marketeer, make_contact, make_segment, client
):
    ana = make_contact(first_name="Ana", email="ana@example.org", email_marketing=True)
    twin = make_contact(first_name="Anna", email="ANA@example.org", email_marketing=True)
    refused = make_contact(first_name="Bo", email="bo@example.org", email_marketing=False)
    banned = make_contact(
        first_name="Cy", email="cy@example.org", email_marketing=True, do_not_email=True
    )
    mute = make_contact(first_name="Di", email_marketing=True)
    segment = make_segment("Newsletter", [ana, twin, refused, banned, mute])
    campaign = _campaign(marketeer, segment)

    sending.send_campaign(marketeer, campaign)
    assert sending.commit_and_queue(campaign) is None

    db.session.expire_all()
    assert campaign.status == CampaignStatus.SENT
    assert [to for _, to, _ in smtp_server.messages] == [["ana@example.org"]]
    _, _, message = smtp_server.messages[0]
    assert message["Subject"] == "News for Ana"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"]
    assert (
        unsubscribe.startswith("<mailto:")
        and "https://crm.example.com/unsubscribe/c/" in unsubscribe
    )
    text = message.get_body(("plain",)).get_content()
    assert (
        "Hello Ana," in text
        and "News from **us**" in text
        and "https://crm.example.com/unsubscribe/c/" in text
    )
    html = message.get_body(("html",)).get_content()
    assert "<strong>" in html and "unsubscribe</a>" in html
    counts = campaigns.counts(campaign)
    assert counts["sent"] == 1 and counts["queued"] == 0
    assert counts["excluded_by_reason"] == {
        "duplicate_address": 1, "no_consent": 1, "do_not_email": 1, "no_email": 1,
    }  # fmt: skip
    recipient = db.session.scalar(
        select(CampaignRecipient).where(CampaignRecipient.status == RecipientStatus.SENT)
    )
    assert recipient.message_id == message["Message-ID"]

    # One-click (RFC 8058): no session, no CSRF token; both contacts with the address lose consent.
    one_click = unsubscribe.split("<")[2].rstrip(">").replace("https://crm.example.com", "")
    assert client.post(one_click, data={"List-Unsubscribe": "Nope"}).status_code == 400
    answer = client.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, ana.id).email_marketing is False
    assert db.session.get(Contact, twin.id).email_marketing is False
    assert campaigns.counts(campaign)["unsubscribed"] == 1


def test_nothing_is_queued_for_bad_input(inline_jobs, smtp_server, marketeer, make_contact,
                                         make_segment, app):  # fmt: skip
    nobody = make_contact(first_name="Bo", email="bo@example.org", email_marketing=False)
    segment = make_segment("Cold", [nobody])
    with pytest.raises(ValidationFailed) as bad:
        campaigns.save_campaign(marketeer, None, {
            "name": "x", "subject": "Hi", "body_text": "Hello\n{{ frist_name }}",
            "segment_ids": [segment.id], "sender_email": "boss@elsewhere.org",
        })  # fmt: skip
    assert "Line 2" in bad.value.errors["body_text"][0]
    assert "frist_name" in bad.value.errors["body_text"][0]
    assert "do not allow sending as boss@elsewhere.org" in bad.value.errors["sender_email"][0]
    db.session.rollback()
    campaign = _campaign(marketeer, segment)
    with pytest.raises(DomainError, match="Nobody to send to: all 1 contacts"):
        sending.send_campaign(marketeer, campaign)
    db.session.rollback()
    app.config["CRM_MAIL_BACKEND"] = "none"
    with pytest.raises(DomainError, match="No mail server is configured"):
        sending.send_campaign(marketeer, campaign)
    db.session.rollback()
    assert db.session.scalar(select(CampaignRecipient.id)) is None
    assert smtp_server.messages == []


def test_a_dynamic_segment_sends_to_what_its_filter_shows_the_sender(
    inline_jobs, smtp_server, marketeer, make_contact
):
    from crm.models import Segment, SegmentKind

    make_contact(first_name="Ana", last_name="Lindqvist", email="ana@example.org",
                 email_marketing=True)  # fmt: skip
    make_contact(first_name="Bo", last_name="Other", email="bo@example.org", email_marketing=True)
    segment = Segment(name="Lindqvists", kind=SegmentKind.DYNAMIC, query="search=Lindqvist")
    db.session.add(segment)
    db.session.commit()
    campaign = _campaign(marketeer, segment)
    sending.send_campaign(marketeer, campaign)
    sending.commit_and_queue(campaign)
    assert [to for _, to, _ in smtp_server.messages] == [["ana@example.org"]]
