"""The JSON API: token authentication, the same visibility and rules as the admin pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models import AccessClass, ApiToken, AuditEntry, Contact
from crm.models.base import utcnow
from crm.services.platform.api_tokens import create_token, revoke_token
from tests.conftest import csrf_from


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sales_token(make_user, make_contact):
    admin = make_user("crm_admin")
    sales = make_user("crm_sales")
    retail, key = AccessClass(name="Retail"), AccessClass(name="Key accounts")
    db.session.add_all([retail, key])
    retail.users.append(sales)
    db.session.commit()
    make_contact(admin, first_name="Rita", last_name="Smith", access_class=retail)
    hidden = make_contact(admin, first_name="Kai", last_name="Smith", access_class=key)
    make_contact(admin, first_name="Nora", last_name="Jones")
    _, plain = create_token(sales, "Shop")
    db.session.commit()
    return {"token": plain, "user": sales, "hidden": hidden.id}


def test_without_a_valid_token_nothing_is_answered(client, sales_token, make_user):
    for headers in ({}, {"Authorization": "Basic abc"}, bearer("crm_not-a-token"), bearer("x")):
        response = client.get("/api/v1/contacts", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "API token" in response.get_json()["error"]
    token = db.session.scalar(select(ApiToken))
    revoke_token(sales_token["user"], token.id)
    db.session.commit()
    assert client.get("/api/v1/contacts", headers=bearer(sales_token["token"])).status_code == 401
    with pytest.raises(PermissionDenied):
        create_token(make_user("crm_list_manager"), "Lists")


def test_an_inactive_user_s_token_stops_working(client, sales_token):
    sales_token["user"].active = False
    db.session.commit()
    assert client.get("/api/v1/contacts", headers=bearer(sales_token["token"])).status_code == 401


def test_the_api_sees_what_the_user_sees(client, sales_token):
    headers = bearer(sales_token["token"])
    body = client.get("/api/v1/contacts", headers=headers).get_json()
    assert [c["full_name"] for c in body["items"]] == ["Nora Jones", "Rita Smith"]
    assert body["more"] is False
    found = client.get("/api/v1/contacts?search=smith", headers=headers).get_json()
    assert [c["full_name"] for c in found["items"]] == ["Rita Smith"]
    assert (
        client.get(f"/api/v1/contacts/{sales_token['hidden']}", headers=headers).status_code == 404
    )
    one = client.get("/api/v1/contacts?page_size=1", headers=headers).get_json()
    assert len(one["items"]) == 1 and one["more"] is True
    assert client.get("/api/v1/contacts?page=x", headers=headers).status_code == 400
    missing = client.get("/api/v1/nothing-here", headers=headers)
    assert missing.status_code == 404 and "error" in missing.get_json()
    token = db.session.scalar(select(ApiToken))
    assert token.last_used_at is not None


def test_creating_a_contact_follows_the_contact_rules(client, sales_token):
    headers = bearer(sales_token["token"])
    created = client.post(
        "/api/v1/contacts",
        headers=headers,
        json={
            "first_name": "Pia",
            "last_name": "Lopez",
            "email": "Pia.Lopez@Example.com",
            "phones": [{"type": "Mobile", "country_code": "GB", "number": "07400 123456"}],
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["email"] == "pia.lopez@example.com"
    assert body["owner"] == sales_token["user"].email  # theirs, as on the form
    assert body["phones"][0]["e164"] == "+447400123456"
    assert created.headers["Location"].endswith(f"/api/v1/contacts/{body['id']}")
    entry = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.entity_type == "contact",
            AuditEntry.action == "create",
            AuditEntry.entity_id == body["id"],
        )
    )
    assert entry.user_id == sales_token["user"].id

    for payload, field in (
        ({"first_name": "X", "last_name": "Y", "email": "not-an-email"}, "email"),
        ({"first_name": "", "last_name": "Y"}, "first_name"),
        ({"first_name": "X", "last_name": "Y", "owner_id": 1}, "owner_id"),
        ({"first_name": "X", "last_name": "Y", "access_class_id": 1}, "access_class_id"),
        ({"first_name": "X", "last_name": ["Y"]}, "last_name"),
        ({"first_name": "X", "last_name": "Y", "phones": [{"number": 5}]}, "phones"),
        ({"first_name": "X", "last_name": "Y", "kind": "martian"}, "kind"),
        (
            {"first_name": "X", "last_name": "Y", "phones": [{"type": "Pager", "number": "1"}]},
            "phones-0-phone_type",
        ),
        (["not", "an", "object"], "body"),
    ):
        refused = client.post("/api/v1/contacts", headers=headers, json=payload)
        assert refused.status_code == 422, payload
        assert field in refused.get_json()["errors"], (payload, refused.get_json())
    assert db.session.query(Contact).filter(Contact.first_name == "X").count() == 0


def test_tokens_are_made_and_revoked_on_their_page_and_shown_once(client, login_as):
    login_as("crm_sales")
    page = client.get("/admin/api-tokens/").get_data(as_text=True)
    made = client.post(
        "/admin/api-tokens/", data={"name": "Web shop", "csrf_token": csrf_from(page)}
    ).get_data(as_text=True)
    plain = re.search(r'id="new-token-value"\s+value="(crm_[^"]+)"|value="(crm_[^"]+)"', made)
    plain = next(group for group in plain.groups() if group)
    listing = client.get("/admin/api-tokens/").get_data(as_text=True)
    assert "Web shop" in listing and plain not in listing  # never shown again
    assert client.get("/api/v1/contacts", headers=bearer(plain)).status_code == 200
    row = db.session.scalar(select(ApiToken))
    assert row.token_hash != plain and plain.startswith(row.prefix)
    client.post("/admin/api-tokens/revoke/", data={"id": row.id, "csrf_token": csrf_from(listing)})
    assert client.get("/api/v1/contacts", headers=bearer(plain)).status_code == 401
    empty = client.post(
        "/admin/api-tokens/", data={"name": " ", "csrf_token": csrf_from(listing)}
    ).get_data(as_text=True)
    assert "Name the token" in empty


def test_hostile_values_go_through_the_api_as_data(client, sales_token):
    """What the hostile-input suite types into the forms, sent to the API: refused with a
    reason, or stored and returned exactly, as JSON (never HTML) with nosniff."""
    from tests.security.payloads import PAYLOADS

    headers = bearer(sales_token["token"])
    for key, value in PAYLOADS.items():
        response = client.post(
            "/api/v1/contacts", headers=headers, json={"first_name": "Hos", "last_name": value}
        )
        assert response.status_code in (201, 422), key
        assert response.mimetype == "application/json", key
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = response.get_json()
        if response.status_code == 422:
            assert body["errors"]["last_name"], key
            continue
        fetched = client.get(f"/api/v1/contacts/{body['id']}", headers=headers).get_json()
        assert (
            fetched["last_name"] == " ".join(value.split()) or fetched["last_name"] == value.strip()
        ), key


def test_a_merged_contact_s_url_redirects_to_the_contact_it_was_merged_into(
    client, sales_token, make_user, make_contact
):
    headers = bearer(sales_token["token"])
    admin = make_user("crm_admin")
    master = make_contact(admin, first_name="Ana", last_name="Perez")
    merged = make_contact(admin, first_name="Anna", last_name="Perez")
    merged.merged_into_id, merged.deleted_at = master.id, utcnow()
    db.session.commit()
    response = client.get(f"/api/v1/contacts/{merged.id}", headers=headers)
    assert response.status_code == 301
    assert response.headers["Location"] == f"/api/v1/contacts/{master.id}"
    body = response.get_json()
    assert body["merged_into"] == master.id
    assert body["url"].endswith(f"/api/v1/contacts/{master.id}")
    assert f"was merged into contact {master.id}" in body["error"]
    followed = client.get(response.headers["Location"], headers=headers)
    assert followed.get_json()["full_name"] == "Ana Perez"
    # Merged into a contact out of the user's sight: as if it did not exist.
    hidden = make_contact(admin, first_name="Kai", last_name="Perez")
    merged.merged_into_id = hidden.id
    hidden.access_class_id = db.session.get(Contact, sales_token["hidden"]).access_class_id
    db.session.commit()
    response = client.get(f"/api/v1/contacts/{merged.id}", headers=headers)
    assert response.status_code == 404
    assert "merged" not in response.get_data(as_text=True)
