"""Campaigns through the API: written, sent to a real local SMTP server, read back with their
counts; the scopes, the rights and the campaign rules hold as on the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    AccessClass,
    BouncingAddress,
    Campaign,
    CampaignRecipient,
    Role,
    Segment,
    SegmentKind,
    segment_members,
)
from crm.services.marketing import bounces
from crm.services.platform.api_tokens import create_token

POSTFIX = Path(__file__).resolve().parents[1] / "fixtures" / "bounces" / "postfix-user-unknown.eml"
BODY = 'Hello {{ first_name | default("there") }},\n\nOur **winter** offers are here.'


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def inline(app):
    """The mails go out within the request (the in-process queue, without a thread)."""
    app.config.update(CRM_JOB_QUEUE="inline", CRM_CAMPAIGN_RATE=0,
                      CRM_BASE_URL="https://crm.example.com")  # fmt: skip
    return app


@pytest.fixture
def marketeer(make_user):
    return make_user("crm_marketeer", email="marketeer@example.com")


@pytest.fixture
def token(marketeer):
    scopes = ["contacts:read", "campaigns:read", "campaigns:write"]
    plain = create_token(marketeer, "Newsletter tool", scopes)[1]
    db.session.commit()
    return bearer(plain)


def segment_of(name: str, contacts=()) -> Segment:
    segment = Segment(name=name, kind=SegmentKind.STATIC)
    db.session.add(segment)
    db.session.flush()
    for contact in contacts:
        db.session.execute(segment_members.insert().values(segment_id=segment.id,
                                                           contact_id=contact.id))  # fmt: skip
    db.session.commit()
    return segment


def campaign_body(**extra):
    return {"name": "Winter offers", "subject": "Winter offers for {{ first_name }}",
            "body_text": BODY, **extra}  # fmt: skip


def campaigns_saved() -> int:
    return db.session.scalar(select(func.count()).select_from(Campaign))


def test_a_campaign_written_and_sent_through_the_api_reaches_its_audience(
    client, inline, smtp_server, token, make_contact
):
    ana = make_contact(first_name="Ana", email="ana@example.org", email_marketing=True)
    bo = make_contact(first_name="Bo", email="bo@example.org", email_marketing=False)
    gone = make_contact(first_name="Gus", email="gone@example.org", email_marketing=True)
    cy = make_contact(first_name="Cy", email="cy@example.org", email_marketing=True)
    db.session.add(BouncingAddress(email="gone@example.org", reason="The mailbox does not exist"))
    db.session.commit()
    customers = segment_of("Customers", [ana, bo, gone, cy])
    vips = segment_of("Do not disturb", [cy])

    # The integration finds the segments by name, then writes the campaign.
    segments = client.get("/api/v1/segments", headers=token).get_json()["items"]
    ids = {s["name"]: s["id"] for s in segments}
    created = client.post("/api/v1/campaigns", headers=token, json=campaign_body(
        segment_ids=[ids["Customers"]], excluded_segment_ids=[ids["Do not disturb"]],
        sender_name="Example Shop", reply_to="help@example.com",
    ))  # fmt: skip
    assert created.status_code == 201, created.get_json()
    made = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/campaigns/{made['id']}")
    assert (made["status"], made["segment_ids"], made["excluded_segment_ids"]) == (
        "draft", [customers.id], [vips.id],
    )  # fmt: skip
    assert made["sender_email"] == "crm@localhost" and made["counts"]["total"] == 0
    assert smtp_server.messages == []

    sent = client.post(f"/api/v1/campaigns/{made['id']}/send", headers=token)
    assert sent.status_code == 202, sent.get_json()
    body = sent.get_json()
    assert body["status"] == "sent" and "warning" not in body
    assert sent.headers["Location"].endswith(f"/api/v1/campaigns/{made['id']}")
    # The mail arrived, once, to the consenting address only.
    assert [to for _, to, _ in smtp_server.messages] == [["ana@example.org"]]
    _, _, message = smtp_server.messages[0]
    assert message["Subject"] == "Winter offers for Ana"
    assert message["From"] == "Example Shop <crm@localhost>"
    assert message["Reply-To"] == "help@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hello Ana," in message.get_body(("plain",)).get_content()

    read = client.get(f"/api/v1/campaigns/{made['id']}", headers=token).get_json()
    assert read["status"] == "sent" and read["finished_at"] is not None
    assert read["status_text"].startswith("Sent, ")
    counts = read["counts"]
    assert {k: counts[k] for k in ("queued", "sent", "failed", "bounced", "unsubscribed")} == {
        "queued": 0, "sent": 1, "failed": 0, "bounced": 0, "unsubscribed": 0,
    }  # fmt: skip
    assert counts["excluded"] == 3
    assert counts["excluded_by_reason"] == {"no_consent": 1, "bouncing": 1, "excluded_list": 1}

    # A bounce naming the mail's Message-ID shows in the counts.
    dsn = POSTFIX.read_text().replace("gone@example.org", "ana@example.org")
    dsn = dsn.replace("<173062890.1234.5678@crm.example.com>", message["Message-ID"])
    (Path(inline.instance_path) / "bounce.eml").write_text(dsn)
    assert bounces.record_bounces(Path(inline.instance_path) / "bounce.eml").recipients == 1
    db.session.commit()
    read = client.get(f"/api/v1/campaigns/{made['id']}", headers=token).get_json()
    assert read["counts"]["bounced"] == 1

    # Sent once: a second send is refused, and nobody gets it twice.
    again = client.post(f"/api/v1/campaigns/{made['id']}/send", headers=token)
    assert again.status_code == 409
    assert again.get_json()["error"] == "This campaign is sent: it cannot be sent again."
    assert len(smtp_server.messages) == 1

    listed = client.get("/api/v1/campaigns", headers=token).get_json()
    assert [c["name"] for c in listed["items"]] == ["Winter offers"]
    assert "counts" not in listed["items"][0] and listed["more"] is False
    assert client.get("/api/v1/campaigns?status=draft", headers=token).get_json()["items"] == []
    assert client.get("/api/v1/campaigns?status=sent", headers=token).get_json()["items"]
    assert client.get("/api/v1/campaigns?status=gone", headers=token).status_code == 400


def test_chosen_contacts_and_a_time_to_send(client, inline, smtp_server, token, make_contact,
                                            marketeer):  # fmt: skip
    ana = make_contact(first_name="Ana", email="ana@example.org", email_marketing=True)
    created = client.post("/api/v1/campaigns", headers=token,
                          json=campaign_body(contact_ids=[ana.id])).get_json()  # fmt: skip
    assert created["contacts"] == 1
    url = f"/api/v1/campaigns/{created['id']}/send"

    for send_at, message in (
        ("tomorrow", "A time as ISO-8601 is expected, e.g. 2026-12-01T09:00:00+01:00."),
        (1767225600, "A time as ISO-8601 is expected, e.g. 2026-12-01T09:00:00+01:00."),
        ("2020-01-01T09:00:00+00:00", "Choose a time in the future."),
    ):
        refused = client.post(url, headers=token, json={"send_at": send_at})
        assert refused.status_code == 422, send_at
        assert refused.get_json()["errors"] == {"send_at": [message]}
    odd = client.post(url, headers=token, json={"send_at": "2030-01-01T09:00", "when": "now"})
    assert odd.status_code == 422 and odd.get_json()["errors"] == {
        "when": ["Not a field you can set."]
    }
    not_json = client.post(url, headers=token, data="send now",
                           content_type="text/plain")  # fmt: skip
    assert not_json.status_code == 422
    assert not_json.get_json()["errors"] == {"body": ["Send a JSON object, or nothing."]}
    assert db.session.get(Campaign, created["id"]).status.value == "draft"

    # Without an offset the time is the office's (here Oslo, UTC+1 in January).
    inline.config["CRM_TIMEZONE"] = "Europe/Oslo"
    later = client.post(url, headers=token, json={"send_at": "2030-01-01T09:00"})
    assert later.status_code == 202, later.get_json()
    body = later.get_json()
    assert body["status"] == "scheduled" and body["send_at"] == "2030-01-01T08:00:00+00:00"
    assert body["status_text"] == "Scheduled for 1 Jan 2030 09:00"
    assert smtp_server.messages == []

    # A scheduled campaign may be sent now instead.
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    assert client.post(url, headers=token, json={"send_at": soon}).status_code == 202
    now = client.post(url, headers=token, json={})
    assert now.status_code == 202 and now.get_json()["status"] == "sent"
    assert [to for _, to, _ in smtp_server.messages] == [["ana@example.org"]]


def test_bad_input_is_refused_field_by_field_and_nothing_is_saved(
    client, inline, token, make_contact, make_user
):
    admin = make_user("crm_admin")
    secret = db.session.scalar(select(AccessClass).limit(1)) or AccessClass(name="Board")
    db.session.add(secret)
    db.session.commit()
    hidden = make_contact(admin, first_name="Kai", email="kai@example.org", access_class=secret)

    def refused(payload) -> dict:
        response = client.post("/api/v1/campaigns", headers=token, json=payload)
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["error"] == "The campaign was not saved."
        return response.get_json()["errors"]

    assert set(refused({})) == {"name", "subject", "body_text"}
    assert refused(campaign_body(kind="one_off", status="sent")) == {
        "kind": ["Not a field you can set."], "status": ["Not a field you can set."],
    }  # fmt: skip
    assert refused(campaign_body(name=5, segment_ids="3", contact_ids=[1, "2"])) == {
        "name": ["Text is expected."],
        "segment_ids": ["A list of ids is expected, e.g. [3, 7]."],
        "contact_ids": ["A list of ids is expected, e.g. [3, 7]."],
    }
    assert refused(campaign_body(segment_ids=[999], marketing_list_ids=[998])) == {
        "segment_ids": ["No segment with id 999."],
        "marketing_list_ids": ["No marketing list with id 998."],
    }
    errors = refused(campaign_body(body_text="Hello\n{{ frist_name }}",
                                   sender_email="boss@elsewhere.org"))  # fmt: skip
    assert "Line 2" in errors["body_text"][0] and "frist_name" in errors["body_text"][0]
    assert "do not allow sending as boss@elsewhere.org" in errors["sender_email"][0]
    assert refused(campaign_body(contact_ids=[hidden.id])) == {
        "contact_ids": [f"No contact you may see with id {hidden.id}."]
    }
    assert refused([1, 2]) == {"body": ["Send a JSON object."]}
    assert campaigns_saved() == 0


def test_a_campaign_that_cannot_go_is_refused_with_its_reason(
    client, inline, smtp_server, token, make_contact
):
    empty = client.post("/api/v1/campaigns", headers=token, json=campaign_body()).get_json()
    refused = client.post(f"/api/v1/campaigns/{empty['id']}/send", headers=token)
    assert refused.status_code == 409
    assert refused.get_json()["error"].startswith("The audience is empty")

    cold = make_contact(first_name="Bo", email="bo@example.org", email_marketing=False)
    made = client.post("/api/v1/campaigns", headers=token,
                       json=campaign_body(contact_ids=[cold.id])).get_json()  # fmt: skip
    nobody = client.post(f"/api/v1/campaigns/{made['id']}/send", headers=token)
    assert nobody.status_code == 409
    assert nobody.get_json()["error"].startswith("Nobody to send to: all 1 contacts")

    inline.config["CRM_MAIL_BACKEND"] = "none"
    off = client.post(f"/api/v1/campaigns/{made['id']}/send", headers=token)
    assert off.status_code == 409 and "No mail server is configured" in off.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(CampaignRecipient)) == 0
    assert smtp_server.messages == []


def test_unknown_campaigns_are_not_found(client, token):
    for method, url in (
        ("get", "/api/v1/campaigns/999"),
        ("post", "/api/v1/campaigns/999/send"),
        ("get", "/api/v1/campaigns/abc"),
    ):
        response = getattr(client, method)(url, headers=token)
        assert response.status_code == 404, url
        assert "error" in response.get_json()


def test_scopes_and_rights_are_both_needed(client, inline, smtp_server, make_user, marketeer,
                                           token, make_contact):  # fmt: skip
    ana = make_contact(first_name="Ana", email="ana@example.org", email_marketing=True)
    made = client.post("/api/v1/campaigns", headers=token,
                       json=campaign_body(contact_ids=[ana.id])).get_json()  # fmt: skip
    send_url = f"/api/v1/campaigns/{made['id']}/send"

    assert client.get("/api/v1/campaigns").status_code == 401
    # crm_sales sees campaigns but may not write or send them.
    sales = make_user("crm_sales")
    reader = bearer(create_token(sales, "Reports", ["campaigns:read", "contacts:read"])[1])
    db.session.commit()
    assert client.get("/api/v1/campaigns", headers=reader).status_code == 200
    assert client.get(f"/api/v1/campaigns/{made['id']}", headers=reader).status_code == 200
    for url in ("/api/v1/campaigns", send_url):
        response = client.post(url, headers=reader, json=campaign_body())
        assert response.status_code == 403
        assert "lacks the scope campaigns:write" in response.get_json()["error"]
    # A token without campaigns:read reads no campaign.
    contacts_only = bearer(create_token(marketeer, "Contacts", ["contacts:read"])[1])
    db.session.commit()
    refused = client.get("/api/v1/campaigns", headers=contacts_only)
    assert refused.status_code == 403 and "campaigns:read" in refused.get_json()["error"]
    # The marketeer becomes a sales user: the token keeps its scope, but not the right.
    marketeer.roles = [db.session.scalar(select(Role).where(Role.name == "crm_sales"))]
    db.session.commit()
    for url, payload in (("/api/v1/campaigns", campaign_body()), (send_url, {})):
        response = client.post(url, headers=token, json=payload)
        assert response.status_code == 403
        assert response.get_json()["error"] == "You do not have permission to do this."
    assert client.get(f"/api/v1/campaigns/{made['id']}", headers=token).status_code == 200
    assert campaigns_saved() == 1 and smtp_server.messages == []
