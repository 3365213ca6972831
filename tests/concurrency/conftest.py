"""Simultaneous requests against a real server: the test app served from a thread (as the
browser tests serve it), signed-in `requests` sessions, and `together()` to release
requests at the same moment.

Each pair of requests first reads what a person would (the form, the record, its version),
then sends its write at the same moment as the other: whichever reaches the database first
wins; the other must be refused with a message (or 409), never answered with a 5xx.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from flask import Flask

from crm.extensions import db
from tests.conftest import TEST_PASSWORD, csrf_from
from tests.live_server import served


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The test app on 127.0.0.1 (a free port), threaded; yields its base URL. Any exception
    inside a request (a 500) fails the test at teardown, whatever the test checked."""
    db.session.commit()  # the test's own rows are visible to the server's threads
    with served(app) as base:
        yield base


class Person:
    """A signed-in browser: a `requests` session that keeps its cookies, and the redirects
    and statuses it saw."""

    def __init__(self, base: str, email: str):
        self.base = base
        self.http = requests.Session()
        page = self.http.get(f"{base}/login", timeout=30)
        signed_in = self.http.post(
            f"{base}/login",
            data={"email": email, "password": TEST_PASSWORD, "csrf_token": csrf_from(page.text)},
            timeout=30,
        )
        assert signed_in.url.rstrip("/").endswith("/admin"), signed_in.text[:300]

    def get(self, path: str) -> requests.Response:
        response = self.http.get(self.base + path, timeout=60)
        assert response.status_code == 200, (path, response.status_code)
        return response

    def post(self, path: str, data: Any) -> requests.Response:
        """POST and follow the redirects, as a browser does (the flash is on the last page)."""
        return self.http.post(self.base + path, data=data, timeout=60)

    def form(self, path: str, marker: str) -> list[tuple[str, str]]:
        """The fields (name, value) of the form on `path` that has a field named `marker`,
        as a browser would send them unchanged."""
        return form_fields(self.get(path).text, marker)


@pytest.fixture
def person(server: str, make_user: Callable[..., Any]) -> Callable[..., Person]:
    """person("crm_admin") -> a new user with those roles, signed in to the live server."""

    def sign_in(*roles: str) -> Person:
        user = make_user(*roles)
        return Person(server, user.email)

    return sign_in


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; their results in order (an
    exception in a call is raised here)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    failures: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]
    return results


def statuses(response: requests.Response) -> list[int]:
    """Every status on the way to the response (redirects included)."""
    return [r.status_code for r in (*response.history, response)]


def with_values(fields: list[tuple[str, str]], **changes: str) -> list[tuple[str, str]]:
    """The form's fields with some values replaced."""
    return [(name, changes.get(name, value)) for name, value in fields]


class _Forms(HTMLParser):
    """The forms of a page, each as the list of (name, value) a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self.current: list[tuple[str, str]] | None = None
        self.select: dict[str, Any] | None = None
        self.option: dict[str, Any] | None = None
        self.textarea: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.current = []
            self.forms.append(self.current)
        elif self.current is None or "disabled" in a:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "file", "reset", "image"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.current.append((a["name"], a.get("value", "on")))
                return
            self.current.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self.select = {"name": a["name"], "multiple": "multiple" in a, "options": []}
        elif tag == "option" and self.select is not None:
            self.option = {"value": a.get("value"), "text": "", "selected": "selected" in a}
            self.select["options"].append(self.option)
        elif tag == "textarea" and a.get("name"):
            self.textarea = [a["name"], ""]

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea[1] += data
        elif self.option is not None:
            self.option["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == "option":
            self.option = None
        elif tag == "textarea" and self.textarea is not None and self.current is not None:
            name, text = self.textarea
            self.current.append((name, text[1:] if text.startswith("\n") else text))
            self.textarea = None
        elif tag == "select" and self.select is not None and self.current is not None:
            options = self.select["options"]
            chosen = [o for o in options if o["selected"]]
            if not chosen and options and not self.select["multiple"]:
                chosen = options[:1]
            for option in chosen:
                value = option["value"] if option["value"] is not None else option["text"]
                self.current.append((self.select["name"], value.strip()))
            self.select = None


def form_fields(html: str, marker: str) -> list[tuple[str, str]]:
    """The fields of the page's form that has a field named `marker`."""
    parser = _Forms()
    parser.feed(html)
    for fields in parser.forms:
        if any(name == marker for name, _ in fields):
            return fields
    raise AssertionError(f"no form with a field {marker!r} on the page")
