"""Conditional updates through the API: every read of a versioned record carries its
`version`; a PATCH that sends it back is refused with 409 (and the version now) when the
record changed since; without it the last writer wins, unless CRM_API_REQUIRE_VERSION
asks for it (428)."""

from __future__ import annotations

import pytest

from crm.extensions import db
from crm.models import Contact
from crm.services.card import interactions, notes
from crm.services.platform.api_tokens import create_token
from crm.services.sales import orders
from tests.api.test_contacts_api import bearer


@pytest.fixture
def sync(make_user, make_contact):
    """A manager's token for everything, and one of the manager's contacts."""
    manager = make_user("crm_manager")
    ana = make_contact(manager, first_name="Ana", last_name="Version", email="ana@example.com")
    plain = create_token(manager, "CRM sync")[1]
    db.session.commit()
    return {"headers": bearer(plain), "user": manager, "contact": ana}


def test_every_read_of_a_versioned_record_carries_its_version(client, sync):
    ana, headers, manager = sync["contact"], sync["headers"], sync["user"]
    order = orders.create_order(manager, ana, {"total": "10"})
    note = notes.add_note(manager, ana, "Met at the fair")
    call = interactions.register(manager, ana, {"medium": "call", "subject": "Call"})
    db.session.commit()
    versions = {"contact": ana.version, "order": order.version, "note": note.version,
                "call": call.version}  # fmt: skip
    base = f"/api/v1/contacts/{ana.id}"
    read = {
        "contact": client.get(base, headers=headers).get_json(),
        "listed": client.get("/api/v1/contacts", headers=headers).get_json()["items"][0],
        "status": client.get(f"{base}/status", headers=headers).get_json(),
        "order": client.get(f"/api/v1/orders/{order.id}", headers=headers).get_json(),
        "note": client.get(f"{base}/notes", headers=headers).get_json()["notes"][0],
        "call": client.get(f"{base}/interactions", headers=headers).get_json()["interactions"][0],
    }
    assert read["contact"]["version"] == read["listed"]["version"] == versions["contact"]
    assert read["status"]["version"] == versions["contact"]
    assert read["order"]["version"] == versions["order"]
    assert read["note"]["version"] == versions["note"]
    assert read["call"]["version"] == versions["call"]


def test_a_patch_with_the_version_read_is_applied_and_a_stale_one_gets_409(client, sync):
    ana, headers = sync["contact"], sync["headers"]
    url = f"/api/v1/contacts/{ana.id}"
    version = client.get(url, headers=headers).get_json()["version"]
    done = client.patch(url, json={"job_title": "CTO", "version": version}, headers=headers)
    assert done.status_code == 200
    assert done.get_json()["version"] == version + 1  # the version for the next change
    stale = client.patch(url, json={"job_title": "CEO", "version": version}, headers=headers)
    assert stale.status_code == 409
    assert stale.get_json() == {
        "error": "The contact changed since you read it: read it again.",
        "version": version + 1,
    }
    again = client.patch(url, json={"job_title": "CEO", "version": "2"}, headers=headers)
    assert again.status_code == 200 and again.get_json()["job_title"] == "CEO"
    wrong = client.patch(url, json={"job_title": "CFO", "version": "two"}, headers=headers)
    assert wrong.status_code == 422
    assert wrong.get_json()["errors"] == {"version": ["A whole number, as a read gave it."]}
    db.session.expire_all()
    assert db.session.get(Contact, ana.id).job_title == "CEO"


def test_a_patch_without_a_version_is_last_writer_wins_by_default(client, sync):
    ana, headers = sync["contact"], sync["headers"]
    url = f"/api/v1/contacts/{ana.id}"
    for title in ("CTO", "CEO"):
        assert client.patch(url, json={"job_title": title}, headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, ana.id).job_title == "CEO"


def test_crm_api_require_version_refuses_a_patch_without_one(app, client, sync):
    app.config["CRM_API_REQUIRE_VERSION"] = True
    ana, headers = sync["contact"], sync["headers"]
    url = f"/api/v1/contacts/{ana.id}"
    for body in ({"job_title": "CTO"}, {"job_title": "CTO", "version": None}):
        refused = client.patch(url, json=body, headers=headers)
        assert refused.status_code == 428
        assert refused.get_json()["version"] == ana.version
        assert "Send the contact's version" in refused.get_json()["error"]
    db.session.expire_all()
    assert db.session.get(Contact, ana.id).job_title is None
    done = client.patch(url, json={"job_title": "CTO", "version": ana.version}, headers=headers)
    assert done.status_code == 200


def test_crm_api_require_version_is_read_from_the_environment(monkeypatch):
    from crm.config import DefaultConfig, apply_environment

    assert DefaultConfig.CRM_API_REQUIRE_VERSION is False
    config: dict = {}
    monkeypatch.setenv("CRM_API_REQUIRE_VERSION", "1")
    apply_environment(config)
    assert config["CRM_API_REQUIRE_VERSION"] is True
