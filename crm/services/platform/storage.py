"""Where the app keeps files of its own under the instance folder."""

from __future__ import annotations

from pathlib import Path

from flask import current_app


def files_folder(name: str) -> Path:
    """The folder under the instance where jobs of a kind keep their files ("imports",
    "exports"), made when missing."""
    folder = Path(current_app.instance_path) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
