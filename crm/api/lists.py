"""Segments and marketing lists through the JSON API, for an integration to pick a campaign's
audience: their ids and names (`contacts:read`, seen by whoever may see contacts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm.api.blueprint import bp, require
from crm.api.paging import paged
from crm.models import MarketingList, Segment


def segment_json(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind.value,  # static: chosen contacts; dynamic: the list's filters
    }


def marketing_list_json(mlist: MarketingList) -> dict[str, Any]:
    return {
        "id": mlist.id,
        "name": mlist.name,
        "description": mlist.description,
        "active": mlist.active,
    }


@bp.get("/segments")
def list_segments():
    require("contact.view", "contacts:read")
    return paged(select(Segment).order_by(Segment.name, Segment.id), segment_json)


@bp.get("/marketing-lists")
def list_marketing_lists():
    require("contact.view", "contacts:read")
    query = select(MarketingList).order_by(MarketingList.name, MarketingList.id)
    return paged(query, marketing_list_json)
