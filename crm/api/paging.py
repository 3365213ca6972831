"""The API's pages, as the contacts list has them: `?page=` (from 0) and `?page_size=` (1 to
100, 50 by default); the answer says whether there is `more`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import Select

from crm.api.responses import error
from crm.extensions import db

MAX_PAGE_SIZE = 100
MAX_PAGE = 100_000


def paged(query: Select, to_json: Callable[[Any], dict[str, Any]]) -> Response:
    """One page of `query`'s rows (ordered by the caller) as `items`, with `page`,
    `page_size` and `more`; 400 when the arguments are not whole numbers."""
    try:
        page = max(0, int(request.args.get("page", 0)))
        size = min(MAX_PAGE_SIZE, max(1, int(request.args.get("page_size", 50))))
    except ValueError:
        return error(400, "page and page_size must be whole numbers.")
    rows = db.session.scalars(query.offset(min(page, MAX_PAGE) * size).limit(size + 1)).all()
    return jsonify(
        items=[to_json(row) for row in rows[:size]], page=page, page_size=size,
        more=len(rows) > size,
    )  # fmt: skip
