"""`flask crm create-token EMAIL --scope S ...`: a token printed once, by the API tokens
page's rules."""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.models import ApiToken, AuditEntry
from tests.conftest import csrf_from
from tests.services.conftest import count


def test_create_token_prints_a_working_token_once(cli, client, make_user, make_contact):
    marketeer = make_user("crm_marketeer", email="news@example.com")
    make_contact(first_name="Rita", email="rita@example.com")
    result = cli("create-token", "News@Example.com", "--scope", "contacts:read", "--scope",
                 "campaigns:write", "--name", "Newsletter sign-up")  # fmt: skip
    assert result.exit_code == 0, result.output
    plain = result.stdout.strip()
    assert plain.startswith("crm_") and len(plain.splitlines()) == 1
    assert "shown once" in result.stderr and plain not in result.stderr
    token = db.session.scalar(select(ApiToken))
    assert (token.user_id, token.name) == (marketeer.id, "Newsletter sign-up")
    assert token.scopes == "contacts:read campaigns:write" and token.token_hash != plain
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "api_token"))
    response = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200
    assert [c["first_name"] for c in response.get_json()["items"]] == ["Rita"]
    # Its scopes hold: no contacts:write, so no writing.
    refused = client.post("/api/v1/contacts", json={"first_name": "X", "last_name": "Y"},
                          headers={"Authorization": f"Bearer {plain}"})  # fmt: skip
    assert refused.status_code == 403 and "contacts:write" in refused.get_json()["error"]


def test_create_token_keeps_the_page_s_rules(cli, make_user):
    make_user("crm_sales", email="sales@example.com")
    make_user("crm_list_manager", email="lists@example.com")
    make_user("crm_admin", email="gone@example.com", active=False)

    # A scope the user's rights do not allow (crm_sales may not send campaigns).
    refused = cli("create-token", "sales@example.com", "--scope", "campaigns:write")
    assert refused.exit_code == 2
    assert "error: scopes: Choose among the scopes your rights allow." in refused.output
    # A role without API tokens at all.
    refused = cli("create-token", "lists@example.com", "--scope", "contacts:read")
    assert refused.exit_code == 1 and "error: You may not make API tokens." in refused.output
    # No such (active) user, an unknown scope, no scope, an empty name.
    for args in (
        ("nobody@example.com", "--scope", "contacts:read"),
        ("gone@example.com", "--scope", "contacts:read"),
        ("sales@example.com", "--scope", "everything"),
        ("sales@example.com",),
    ):
        result = cli("create-token", *args)
        assert result.exit_code == 2, (args, result.output)
    assert (
        "No active user 'gone@example.com'"
        in cli("create-token", "gone@example.com", "--scope", "contacts:read").output
    )
    assert "campaigns:read" in cli("create-token", "sales@example.com", "--scope", "x").output
    empty = cli("create-token", "sales@example.com", "--scope", "contacts:read", "--name", " ")
    assert empty.exit_code == 2 and "error: name: Name the token" in empty.output
    assert count(ApiToken) == 0


def test_the_tokens_page_offers_the_campaign_scopes_by_the_user_s_rights(client, login_as):
    login_as("crm_sales")
    page = client.get("/admin/api-tokens/").get_data(as_text=True)
    assert "read email campaigns and their results <code>campaigns:read</code>" in page
    assert "campaigns:write" not in page


def test_a_marketeer_makes_a_campaigns_token_on_the_page(client, login_as):
    login_as("crm_marketeer")
    page = client.get("/admin/api-tokens/").get_data(as_text=True)
    assert "write and send email campaigns <code>campaigns:write</code>" in page
    made = client.post("/admin/api-tokens/", data={
        "csrf_token": csrf_from(page), "name": "Newsletter", "scopes_shown": "1",
        "scopes": ["campaigns:read", "campaigns:write"],
    })  # fmt: skip
    assert made.status_code == 200
    assert db.session.scalar(select(ApiToken.scopes)) == "campaigns:read campaigns:write"
