"""A streamed download that fails once started: logged through app.logger and cut short
(the connection closed before the body's end), never an error page inside the file."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from flask_login import current_user

from crm.extensions import db
from crm.streaming import streamed_download
from tests.live_server import served, signed_in

ROWS = ["Email,First name\r\n", "ana@example.com,Ana\r\n"]


@pytest.fixture
def failing_downloads(app: Flask) -> Flask:
    """/rows/<n>.csv: a CSV whose generator fails after n rows."""

    def rows(before_failure: int) -> Iterator[str]:
        yield from ROWS[:before_failure]
        raise RuntimeError("the disk went away")

    @app.get("/rows/<int:count>.csv")
    def failing(count: int):
        return streamed_download(rows(count), mimetype="text/csv", filename=f"rows-{count}.csv")

    return app


def failures(caplog: pytest.LogCaptureFixture, app: Flask) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == app.logger.name]


def test_a_download_failing_half_way_is_logged_and_cut_short(failing_downloads, caplog):
    app = failing_downloads
    received = b""
    with served(app) as base:
        response = requests.get(f"{base}/rows/2.csv", stream=True, timeout=30)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith(
            "text/csv"
        )
        assert response.headers["Content-Disposition"] == 'attachment; filename="rows-2.csv"'
        with pytest.raises(requests.exceptions.ChunkedEncodingError):  # the body's end missing
            for piece in response.iter_content(chunk_size=None):
                received += piece
    assert received.decode() == "".join(ROWS)  # what was written before, and nothing after
    [record] = failures(caplog, app)
    assert "rows-2.csv" in record.getMessage() and "cut short" in record.getMessage()
    assert isinstance(record.exc_info[1], RuntimeError)


def test_a_download_failing_before_its_first_row_is_cut_short_too(failing_downloads, caplog):
    app = failing_downloads
    with served(app) as base:
        response = requests.get(f"{base}/rows/0.csv", stream=True, timeout=30)
        assert response.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            response.content  # noqa: B018 - reading the body is the point
    [record] = failures(caplog, app)
    assert "rows-0.csv" in record.getMessage()
    assert isinstance(record.exc_info[1], RuntimeError)


def test_the_whole_download_when_nothing_fails(app: Flask):
    @app.get("/fine.csv")
    def fine():
        return streamed_download(iter(ROWS), mimetype="text/csv", filename="fine.csv")

    with served(app) as base:
        response = requests.get(f"{base}/fine.csv", timeout=30)
    assert response.status_code == 200 and response.text == "".join(ROWS)
    assert response.headers["Cache-Control"] == "private, no-store"


def test_the_generator_may_read_the_signed_in_user(app: Flask, make_user):
    """The body is written after the request's session is closed; the signed-in user is
    loaded again for it (a view may commit after building the response)."""

    def lines() -> Iterator[str]:
        yield f"{current_user.email}\n"

    @app.get("/whoami.txt")
    def whoami():
        response = streamed_download(lines(), mimetype="text/plain", filename="whoami.txt")
        db.session.commit()  # the user's loaded attributes expire
        return response

    user = make_user("crm_sales")
    with served(app) as base:
        response = signed_in(base, user.email).get(f"{base}/whoami.txt", timeout=30)
    assert response.status_code == 200 and response.text == f"{user.email}\n"
