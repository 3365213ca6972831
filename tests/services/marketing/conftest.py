"""Campaign fixtures: a marketeer, and sending inline (make_segment is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


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
