"""A test's app served by a real server thread: each request then runs in its own context,
as in production, and a streamed body is written after the request's database session is
closed (the test client, sharing the test's context, hides what fails there)."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from flask import Flask, got_request_exception
from werkzeug.serving import make_server

from tests.conftest import TEST_PASSWORD, csrf_from


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """The app on 127.0.0.1 (a free port) until the block ends; yields its base URL. A
    request that fails with an exception fails the test when the block ends."""
    errors: list[str] = []

    def record(_sender: Flask, exception: BaseException, **_extra: Any) -> None:
        errors.append("".join(traceback.format_exception(exception)))

    got_request_exception.connect(record, app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        got_request_exception.disconnect(record, app)
    assert not errors, "The server failed:\n" + "\n".join(errors)


def signed_in(base: str, email: str) -> requests.Session:
    """A requests session signed in as `email` (through /login, with its CSRF token)."""
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=30)
    answer = browser.post(
        f"{base}/login",
        data={"email": email, "password": TEST_PASSWORD, "csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text[:300]
    return browser
