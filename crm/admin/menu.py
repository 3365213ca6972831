"""The main menu, rendered once per set of roles and page, not at every request.

Flask-Admin renders the menu from scratch on every page: for each of its thirty-odd items it
asks the view whether the user may open and see it, and builds its address (a tenth of a
list page's time). What it shows depends only on the user's roles (every view's
`is_accessible` and `is_visible` asks `can()`, which reads the roles), the page it is on
(the active item) and where the app is mounted, so the rendered menu is kept per app for
those and reused. A user who signs in with other roles gets the menu of those roles."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_login import current_user
from markupsafe import Markup

from crm.auth.permissions import roles_of

KEPT = 500  # menus kept per app (roles x pages); the oldest is dropped first
_lock = threading.Lock()


def cached_menu(admin_view: Any, render: Callable[[], Any]) -> Markup:
    """The menu `render()` draws for this user's roles on `admin_view`'s page, drawn once."""
    key = (
        frozenset(roles_of(current_user)),
        getattr(admin_view, "endpoint", None),
        request.script_root,
    )
    kept: OrderedDict = current_app.extensions.setdefault("crm_menus", OrderedDict())
    with _lock:
        html = kept.get(key)
        if html is not None:
            kept.move_to_end(key)
            return html
    html = Markup(render())  # noqa: S704 - a Jinja macro's own Markup
    with _lock:
        kept[key] = html
        while len(kept) > KEPT:
            kept.popitem(last=False)
    return html
