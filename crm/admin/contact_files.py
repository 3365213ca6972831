"""A contact's files and picture on its page (upload, download, delete)."""

from __future__ import annotations

from typing import Any


def files_tab(user: Any, contact: Any) -> Any:
    """What the Files tab of the contact's page shows to `user`."""
    return None
