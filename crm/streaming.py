"""Streamed downloads (contact exports, a marketing list's recipients): the one way a view
answers with a body written while it is sent.

A streamed body runs after the view has returned, once the request's database session has
been committed and closed: rows loaded by the view are detached by then and reading one of
their attributes fails (DetachedInstanceError). The generator must take plain values (ids,
names) from the view and load what it needs itself; `current_user` is loaded again here in
the generator's own session, so services may be given it.

The view checks what may refuse the download (rights, a missing record) before it answers.
The status (200) and headers are sent as the body starts: a failure in the generator is logged
through app.logger and the download cut short (the connection closed before the body's end,
which the browser reports as a failed download), never an error page written into the file.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable, Iterator

from flask import Response, current_app, g, stream_with_context
from flask_login import current_user

from crm.extensions import db
from crm.models import User


class DownloadInterrupted(ConnectionAbortedError):
    """Raised to the WSGI server when a download fails after it started (the failure itself
    is logged already). Servers close the connection without ending the body; Werkzeug's
    takes a connection error for a dropped connection and logs no second traceback."""

    def __init__(self, filename: str):
        super().__init__(errno.ECONNABORTED, f"the download of {filename} was cut short")


def _attachment(filename: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._ -]+", "-", filename).strip(" -") or "download"
    return f'attachment; filename="{safe}"'


def streamed_download(pieces: Iterable[bytes | str], *, mimetype: str, filename: str) -> Response:
    """A download whose body is `pieces`, produced while it is sent (see the module's
    docstring for what the generator may touch); a failure half-way is logged through
    app.logger and cuts the download short."""
    user_id = current_user.id if current_user.is_authenticated else None

    def body() -> Iterator[bytes | str]:
        # The status and headers go out at once, so that whatever fails below can only cut
        # the body short: with nothing sent yet, a server would answer its own error page.
        yield b""
        try:
            if user_id is not None:
                # Flask-Login caches the request's user on g, bound to the closed session.
                g._login_user = db.session.get(User, user_id)
            yield from pieces
        except Exception as exc:
            current_app.logger.exception(
                "The download of %s failed after it started: it was cut short", filename
            )
            raise DownloadInterrupted(filename) from exc

    return Response(
        stream_with_context(body()),
        mimetype=mimetype,
        headers={"Content-Disposition": _attachment(filename)},
    )
