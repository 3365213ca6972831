"""Campaign fixtures: marketeers, consenting contacts, a static segment, sending inline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm.extensions import db
from crm.models import Segment, SegmentKind, segment_members


@pytest.fixture
def marketeer(make_user: Callable[..., Any]):
    return make_user("crm_marketeer", email="marketeer@example.com")


@pytest.fixture
def inline_jobs(app):
    """Jobs run in the calling code (the campaign's sending finishes before the call returns)."""
    app.config.update(
        CRM_JOB_QUEUE="inline", CRM_CAMPAIGN_RATE=0, CRM_BASE_URL="https://crm.example.com"
    )
    return app


@pytest.fixture
def make_segment() -> Callable[..., Segment]:
    def factory(name: str, contacts=()) -> Segment:
        segment = Segment(name=name, kind=SegmentKind.STATIC)
        db.session.add(segment)
        db.session.flush()
        for contact in contacts:
            db.session.execute(
                segment_members.insert().values(segment_id=segment.id, contact_id=contact.id)
            )
        db.session.commit()
        return segment

    return factory
