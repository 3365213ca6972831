"""The JSON API for integrations: scoped tokens, store orders posted once, statuses read,
contacts changed with the form's rules; every refusal as JSON."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.models import Contact, ContactKind, CustomerStatus, Order
from crm.services.platform.api_tokens import create_token, revoke_token

ORDER = {
    "external_id": "shop-77",
    "ordered_on": "2026-11-21",
    "currency": "EUR",
    "customer": {"email": "zoe@example.com", "first_name": "Zoë", "last_name": "Roth"},
    "lines": [{"description": "Tea pot", "quantity": 2, "unit_price": "19.90"}],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def shop(make_user):
    """A crm_admin's token for the online store: it may post orders and nothing else."""
    admin = make_user("crm_admin")
    token, plain = create_token(admin, "Online store", ["orders:write"])
    db.session.commit()
    return {"token": plain, "row": token, "admin": admin}


def test_the_store_posts_an_order_once_and_its_buyer_becomes_a_customer(client, shop, make_user):
    first = client.post("/api/v1/orders", json=ORDER, headers=bearer(shop["token"]))
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["external_id"], body["total"], body["source"]) == (
        "shop-77",
        "39.80",
        "online_store",
    )
    assert body["lines"] == [
        {"description": "Tea pot", "quantity": "2", "unit_price": "19.90", "amount": "39.80"}
    ]
    again = client.post("/api/v1/orders", json=ORDER, headers=bearer(shop["token"]))
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    zoe = db.session.get(Contact, body["contact_id"])
    assert (zoe.kind, zoe.customer_status) == (ContactKind.B2C, CustomerStatus.CUSTOMER)
    # Reading it back needs orders:read, which this token was not given.
    refused = client.get(f"/api/v1/orders/{body['id']}", headers=bearer(shop["token"]))
    assert refused.status_code == 403
    assert (
        refused.get_json()["error"] == "This token may not do this: it lacks the scope orders:read."
    )
    reader = create_token(shop["admin"], "Reports", ["orders:read", "contacts:read"])[1]
    db.session.commit()
    read = client.get(f"/api/v1/orders/{body['id']}", headers=bearer(reader))
    assert read.status_code == 200 and read.get_json()["number"] == body["number"]
    status = client.get(f"/api/v1/contacts/{zoe.id}/status", headers=bearer(reader)).get_json()
    assert status == {
        "id": zoe.id, "version": zoe.version, "customer_status": "customer",
        "prospect_status": "non_prospect", "customer_number": None, "store_order": body["number"],
    }  # fmt: skip


def test_order_errors_come_back_with_their_field_names(client, shop):
    bad = {"customer": {"email": "nope"}, "lines": [{"description": "Tea", "quantity": "x"}]}
    response = client.post("/api/v1/orders", json=bad, headers=bearer(shop["token"]))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {
        "external_id",
        "customer.email",
        "lines-0-quantity",
        "lines-0-unit_price",
    }
    assert errors["lines-0-quantity"] == ["The quantity is not a number."]
    not_json = client.post("/api/v1/orders", data="x", headers=bearer(shop["token"]))
    assert not_json.status_code == 422 and not_json.get_json()["errors"] == {
        "body": ["Send a JSON object."]
    }
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_no_token_a_wrong_one_a_revoked_one_and_a_missing_scope(client, shop):
    assert client.post("/api/v1/orders", json=ORDER).status_code == 401
    wrong = client.post("/api/v1/orders", json=ORDER, headers=bearer("crm_" + "x" * 43))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    contacts = client.get("/api/v1/contacts", headers=bearer(shop["token"]))
    assert contacts.status_code == 403  # only orders:write
    assert "contacts:read" in contacts.get_json()["error"]
    revoke_token(shop["admin"], shop["row"].id)
    db.session.commit()
    assert (
        client.post("/api/v1/orders", json=ORDER, headers=bearer(shop["token"])).status_code == 401
    )
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_sales_user_may_not_give_a_token_the_order_scope(make_user):
    sales = make_user("crm_sales")
    with pytest.raises(ValidationFailed) as refused:
        create_token(sales, "Shop", ["orders:write"])
    assert refused.value.errors == {"scopes": ["Choose among the scopes your rights allow."]}
    token, _ = create_token(sales, "Everything I may")
    assert token.scopes == "contacts:read contacts:write orders:read campaigns:read"


def test_patching_a_contact_follows_the_form_s_rules(client, make_user, make_contact):
    manager = make_user("crm_manager")
    ana = make_contact(manager, email="ana@example.com")
    plain = create_token(manager, "CRM sync", ["contacts:read", "contacts:write"])[1]
    db.session.commit()
    url = f"/api/v1/contacts/{ana.id}"
    done = client.patch(url, json={"job_title": "CTO", "version": ana.version},
                        headers=bearer(plain))  # fmt: skip
    assert done.status_code == 200 and done.get_json()["job_title"] == "CTO"
    bad = client.patch(url, json={"email": "nope", "customer_status": "customer"},
                       headers=bearer(plain))  # fmt: skip
    assert bad.status_code == 422
    assert bad.get_json()["errors"] == {"customer_status": ["Not a field you can change here."]}
    bad = client.patch(url, json={"email": "nope"}, headers=bearer(plain))
    assert bad.status_code == 422 and list(bad.get_json()["errors"]) == ["email"]
    stale = client.patch(url, json={"job_title": "CEO", "version": 1}, headers=bearer(plain))
    assert stale.status_code == 409
    db.session.expire_all()
    assert db.session.get(Contact, ana.id).job_title == "CTO"
    assert (
        client.patch("/api/v1/contacts/999999", json={}, headers=bearer(plain)).status_code == 404
    )


def test_a_lead_is_converted_through_the_api_once(client, make_user):
    from crm.models import Lead

    sales = make_user("crm_sales")
    lead = Lead(first_name="Lena", last_name="Vogel", company="Vogel & Co", kind="b2b")
    bad = Lead(first_name="Bo", last_name="Bad", kind="b2c", phone="12")
    db.session.add_all([lead, bad])
    plain = create_token(sales, "Lead sync", ["contacts:read", "contacts:write"])[1]
    reader = create_token(sales, "Reader", ["contacts:read"])[1]
    db.session.commit()
    url = f"/api/v1/leads/{lead.id}/convert"
    assert client.post(url, headers=bearer(reader)).status_code == 403  # lacks contacts:write
    done = client.post(url, headers=bearer(plain))
    assert done.status_code == 201 and done.get_json()["account"] == "Vogel & Co"
    again = client.post(url, headers=bearer(plain))
    assert again.status_code == 409 and again.get_json()["contact_id"] == done.get_json()["id"]
    refused = client.post(f"/api/v1/leads/{bad.id}/convert", headers=bearer(plain))
    assert refused.status_code == 422 and list(refused.get_json()["errors"]) == ["phone"]
    assert client.post("/api/v1/leads/99999/convert", headers=bearer(plain)).status_code == 404
