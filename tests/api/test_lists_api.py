"""Segments and marketing lists through the API: ids and names, by pages, contacts:read."""

from __future__ import annotations

from crm.extensions import db
from crm.models import MarketingList, Segment, SegmentKind
from crm.services.platform.api_tokens import create_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_segments_and_lists_are_listed_by_name_in_pages(client, make_user):
    sales = make_user("crm_sales")
    db.session.add_all([
        Segment(name="Oslo customers", kind=SegmentKind.DYNAMIC, query="search=oslo"),
        Segment(name="Fair visitors 2026", kind=SegmentKind.STATIC, description="Met at the fair"),
        MarketingList(name="Newsletter", active=True),
        MarketingList(name="Autumn 2025", active=False),
    ])  # fmt: skip
    db.session.commit()
    headers = bearer(create_token(sales, "Newsletter tool", ["contacts:read"])[1])
    db.session.commit()

    body = client.get("/api/v1/segments", headers=headers).get_json()
    assert [(s["name"], s["kind"]) for s in body["items"]] == [
        ("Fair visitors 2026", "static"), ("Oslo customers", "dynamic"),
    ]  # fmt: skip
    assert body["items"][0]["description"] == "Met at the fair"
    assert isinstance(body["items"][0]["id"], int)
    assert (body["page"], body["page_size"], body["more"]) == (0, 50, False)

    lists = client.get("/api/v1/marketing-lists", headers=headers).get_json()
    assert [(m["name"], m["active"]) for m in lists["items"]] == [
        ("Autumn 2025", False), ("Newsletter", True),
    ]  # fmt: skip
    first = client.get("/api/v1/marketing-lists?page_size=1", headers=headers).get_json()
    assert [m["name"] for m in first["items"]] == ["Autumn 2025"] and first["more"] is True
    second = client.get("/api/v1/marketing-lists?page_size=1&page=1", headers=headers).get_json()
    assert [m["name"] for m in second["items"]] == ["Newsletter"] and second["more"] is False
    huge = client.get("/api/v1/segments?page_size=5000&page=-3", headers=headers).get_json()
    assert (huge["page"], huge["page_size"]) == (0, 100)
    bad = client.get("/api/v1/segments?page=two", headers=headers)
    assert bad.status_code == 400 and "whole numbers" in bad.get_json()["error"]


def test_segments_and_lists_need_a_token_with_contacts_read(client, make_user):
    manager = make_user("crm_manager")
    orders_only = create_token(manager, "Shop", ["orders:write"])[1]
    db.session.commit()
    for url in ("/api/v1/segments", "/api/v1/marketing-lists"):
        assert client.get(url).status_code == 401
        refused = client.get(url, headers=bearer(orders_only))
        assert refused.status_code == 403
        assert "lacks the scope contacts:read" in refused.get_json()["error"]
