"""Tasks: the list across contacts and accounts, and a contact's Tasks tab."""

from __future__ import annotations

from typing import Any


def tasks_tab(user: Any, contact: Any) -> Any:
    """What the Tasks tab of the contact's page shows to `user`."""
    return None
