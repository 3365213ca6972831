"""Appointments: the list, the form with participants, and a contact's Appointments tab."""

from __future__ import annotations

from typing import Any


def appointments_tab(user: Any, contact: Any) -> Any:
    """What the Appointments tab of the contact's page shows to `user`."""
    return None
