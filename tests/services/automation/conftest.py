"""Helpers for the scheduled work's tests: automations switched on, contacts with birthdays,
what a local SMTP server received."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm.extensions import db
from crm.models import AutomationKind
from crm.services.automation import settings

GREETING_SUBJECT = 'Happy birthday, {{ first_name | default("friend") }}!'
GREETING_BODY = "Dear {{ first_name }},\n\nMany happy returns from **all of us**.\n"


@pytest.fixture
def greetings_on(admin_user) -> Callable[..., Any]:
    """greetings_on(send_time="09:00", segment_id=None): birthday greetings switched on."""

    def switch(send_time: str = "09:00", **values: Any):
        data = {
            "enabled": "y", "subject": GREETING_SUBJECT, "body_text": GREETING_BODY,
            "send_time": send_time, **values,
        }  # fmt: skip
        row = settings.save_automation(admin_user, AutomationKind.BIRTHDAY_GREETING, data)
        db.session.commit()
        return row

    return switch


@pytest.fixture
def birthday_contact(make_contact, manager) -> Callable[..., Any]:
    """birthday_contact("Ana", "1990-05-17", timezone=...): a contact with email-marketing
    consent and an address of its own."""

    def make(first_name: str, birthday: str, **data: Any):
        data.setdefault("email", f"{first_name.lower()}@example.com")
        data.setdefault("email_marketing", True)
        data.setdefault("last_name", "Example")
        return make_contact(manager, first_name=first_name, birthday=birthday, **data)

    return make


def received(smtp_server) -> list[tuple[str, str]]:
    """(recipient, subject) of every mail the server received, in order."""
    return [(rcpt[0], str(message["Subject"])) for _, rcpt, message in smtp_server.messages]
