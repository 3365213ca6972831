"""A campaign mail's unsubscribe link: a page that asks, then one click; it applies to the
address (every contact holding it) and says where it came from in each one's history."""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, CampaignRecipient, Contact
from crm.services.marketing import campaigns, sending, unsubscribing
from tests.conftest import csrf_from


def test_the_link_asks_first_then_unsubscribes_every_contact_with_the_address(
    inline_jobs, smtp_server, marketeer, make_contact, make_segment, client
):
    ana = make_contact(first_name="Ana", email="ana@example.org", email_marketing=True)
    other = make_contact(first_name="Ana", last_name="Work", email="team@example.org",
                         email_secondary="ana@example.org", email_marketing=True)  # fmt: skip
    segment = make_segment("Readers", [ana])
    campaign = campaigns.save_campaign(marketeer, None, {
        "name": "Spring sale", "subject": "Hi", "body_text": "Hello.",
        "segment_ids": [segment.id],
    })  # fmt: skip
    sending.send_campaign(marketeer, campaign)
    sending.commit_and_queue(campaign)
    body = smtp_server.messages[0][2].get_body(("plain",)).get_content()
    link = next(w for w in body.split() if "/unsubscribe/c/" in w)
    path = link.replace("https://crm.example.com", "")

    page = client.get(path)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and "a***@example.org" in page.get_data(as_text=True)
    assert db.session.get(Contact, ana.id).email_marketing is True
    assert client.post(path, data={}).status_code == 400  # no CSRF token: refused
    assert db.session.get(Contact, ana.id).email_marketing is True

    done = client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert "You will get no more marketing email from us." in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Contact, ana.id).email_marketing is False
    assert db.session.get(Contact, other.id).email_marketing is False
    summaries = db.session.scalars(
        select(AuditEntry.summary).where(AuditEntry.action == "unsubscribe")
    ).all()
    assert len(summaries) == 2 and all("campaign Spring sale" in s for s in summaries)
    recipient = db.session.scalar(select(CampaignRecipient))
    assert recipient.unsubscribed_at is not None

    # An altered link is refused, not guessed.
    token = path.rsplit("/", 1)[-1]
    assert client.get(f"/unsubscribe/c/{token[:-2]}xx").status_code == 404
    assert unsubscribing.token_of(recipient.id) == token
