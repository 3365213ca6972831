"""Shared fixtures: a migrated database per test (real SQLite file, or PostgreSQL when
TEST_DATABASE_URL names a server), the app, a client, users per role and small factories.

The schema is built once per session with the real migrations into a template (a SQLite
file copied per test, or a PostgreSQL template database cloned per test).
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm import create_app
from crm.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
TEST_PASSWORD = "correct-horse-battery"
ROLES = ("crm_admin", "crm_manager", "crm_sales", "crm_marketeer", "crm_list_manager")


def _share_url_builders() -> None:
    """Each test builds its own app, and werkzeug compiles two Python functions for each of
    its 1,450 URL rules: 80% of create_app's time (0.1-0.4 s a test). A builder depends only
    on the rule's text, its defaults and its converters (it reaches the rule through its
    first argument), so the suite compiles each once and hands the same function to the
    same rule of the next app."""
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "shared", False):
        return
    builders: dict[tuple, Any] = {}

    def shared(self: Rule, append_unknown: bool = True) -> Any:
        key = (
            self.rule,
            self.host or self.subdomain,
            self.merge_slashes,
            append_unknown,
            tuple(self._trace),
            repr(sorted((self.defaults or {}).items())),
            tuple(
                (name, type(c), repr({k: v for k, v in vars(c).items() if k != "map"}))
                for name, c in self._converters.items()
            ),
        )
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    shared.shared = True  # type: ignore[attr-defined]
    Rule._compile_builder = shared  # type: ignore[method-assign]


_share_url_builders()


def _weight(item: pytest.Item) -> float:
    """A test's rough cost, as measured on CI: a browser test 10, a test with its own app
    and database 1, a test on a module's shared app (the hostile inputs) 0.2."""
    if item.get_closest_marker("browser"):
        return 10.0
    return 1.0 if "app" in getattr(item, "fixturenames", ()) else 0.2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """CRM_TEST_SHARD=K/N keeps the Kth of N shares of the suite, whole test files each
    (module fixtures are built once), balanced by weight (`_weight`): `make test-postgres`
    runs two shares side by side against one cluster."""
    shard = os.environ.get("CRM_TEST_SHARD", "").strip()
    if not shard:
        return
    own, _, total = shard.partition("/")
    if not (own.isdigit() and total.isdigit() and 1 <= int(own) <= int(total)):
        raise pytest.UsageError(f"CRM_TEST_SHARD={shard!r}: give K/N, 1 <= K <= N")
    weights: dict[str, float] = {}
    for item in items:
        file = item.nodeid.split("::")[0]
        weights[file] = weights.get(file, 0) + _weight(item)
    loads = [0.0] * int(total)
    share: dict[str, int] = {}
    for file in sorted(weights, key=lambda f: (-weights[f], f)):  # heaviest first
        lightest = loads.index(min(loads))
        share[file] = lightest
        loads[lightest] += weights[file]
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (keep if share[item.nodeid.split("::")[0]] == int(own) - 1 else drop).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep


def _base_config(instance: Path, database_url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "FLASK_ADMIN_RAISE_ON_VIEW_EXCEPTION": True,
        "CRM_DEFAULT_PHONE_REGION": "US",
        # Cheap hashes for the many test users (scrypt costs 0.1 s each); the production
        # default is checked in tests/services/test_users.py.
        "CRM_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


def _migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


def _pg_admin_engine():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT", future=True)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head: a file path (SQLite) or a database name (PostgreSQL)."""
    instance = tmp_path_factory.mktemp("template")
    if not PG_URL:
        path = instance / "template.sqlite3"
        _migrate(create_app(_base_config(instance, f"sqlite:///{path}")))
        yield str(path)
        return
    name = f"crm_tpl_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    _migrate(create_app(_base_config(instance, url)))
    global _pg_copies
    _pg_copies = _PgCopies(name)
    yield name
    _pg_copies.close()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class _PgCopies:
    """Copies of the PostgreSQL template made ahead and dropped behind, in a thread: each
    copy (CREATE DATABASE ... TEMPLATE) and drop costs the server 50-100 ms, which the
    test being run no longer waits for."""

    AHEAD = 2

    def __init__(self, template: str):
        self.template = template
        self.ready: queue.Queue[str] = queue.Queue()
        self.used: queue.Queue[str] = queue.Queue()
        self.wanted = threading.Semaphore(self.AHEAD)
        self.stopping = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="pg-copies", daemon=True)
        self.thread.start()

    def take(self) -> str:
        while True:
            try:
                name = self.ready.get(timeout=1)
            except queue.Empty:
                if self.failure is not None or not self.thread.is_alive():
                    raise RuntimeError("the template copier stopped") from self.failure
                continue
            self.wanted.release()
            return name

    def give_back(self, name: str) -> None:
        self.used.put(name)

    def _work(self) -> None:
        admin = _pg_admin_engine()
        try:
            with admin.connect() as conn:
                # PostgreSQL 15's default WAL_LOG strategy writes every page of the copy to
                # the WAL: copying the files is about half the server's work per test.
                version = int(conn.execute(text("SHOW server_version_num")).scalar())
                strategy = " STRATEGY FILE_COPY" if version >= 150000 else ""
                while not self.stopping.is_set():
                    self._drop_used(conn)
                    if not self.wanted.acquire(timeout=0.05):
                        continue
                    name = f"crm_t_{os.getpid()}_{next(_counter)}"
                    conn.execute(
                        text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"{strategy}')
                    )
                    self.ready.put(name)
                self._drop_used(conn)
                while not self.ready.empty():
                    self.used.put(self.ready.get())
                self._drop_used(conn)
        except BaseException as exc:  # reported by take()
            self.failure = exc
        finally:
            admin.dispose()

    def _drop_used(self, conn: Any) -> None:
        while True:
            try:
                name = self.used.get_nowait()
            except queue.Empty:
                return
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)


_pg_copies: _PgCopies | None = None


_counter = itertools.count()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the migrated database for one test."""
    if not PG_URL:
        path = tmp_path / "crm.sqlite3"
        shutil.copyfile(database_template, path)
        yield f"sqlite:///{path}"
        return
    assert _pg_copies is not None and _pg_copies.template == database_template
    name = _pg_copies.take()
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    _pg_copies.give_back(name)


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own application context.

    The test body holds an app context (for db.session); without this, Flask would reuse it
    for requests, sharing `g` (Flask-Login's cached user) and the database session between
    requests, which production never does. The test's own session ends its transaction
    before each request and forgets loaded state after it, so it sees what the request did.
    """

    def open(self, *args: Any, **kwargs: Any):
        db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()
        return response


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(_base_config(tmp_path, database_url))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        from crm.services.platform.password_links import wait_for_mail

        wait_for_mail()  # a reset mail's thread uses the database: it ends before it goes
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no csrf_token on the page"
    return match.group(1)


@pytest.fixture
def make_user(app: Flask) -> Callable[..., Any]:
    from crm.services.platform.users import create_user

    def factory(
        *roles: str, email: str | None = None, password: str = TEST_PASSWORD, active: bool = True
    ):
        user = create_user(
            email or f"user{next(_counter)}@example.com",
            password,
            list(roles),
            full_name=f"Test {' '.join(roles) or 'nobody'}",
        )
        user.active = active
        db.session.commit()
        return user

    return factory


def login(client: FlaskClient, email: str, password: str = TEST_PASSWORD, next_url: str = ""):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def login_as(client: FlaskClient, make_user: Callable[..., Any]) -> Callable[..., Any]:
    """login_as('crm_sales') -> the signed-in user (the `client` fixture carries the session)."""

    def do(*roles: str):
        user = make_user(*roles)
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user

    return do


@pytest.fixture
def make_contact(app: Flask, make_user: Callable[..., Any]) -> Callable[..., Any]:
    """make_contact(first_name=..., ...) -> a saved contact (acting user: a manager)."""
    from crm.services.contacts.saving import create_contact

    state: dict[str, Any] = {}

    def factory(actor=None, **data: Any):
        if actor is None:
            actor = state.get("actor") or make_user("crm_manager")
            state["actor"] = actor
        data.setdefault("first_name", "Ana")
        data.setdefault("last_name", "Smith")
        contact = create_contact(actor, data)
        db.session.commit()
        return contact

    return factory


class _CollectedMail:
    """What a local SMTP server received: (envelope sender, recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"


@pytest.fixture
def smtp_server(app: Flask) -> Iterator[_CollectedMail]:
    """A real SMTP server on loopback (aiosmtpd), and the app configured to send through it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = _CollectedMail()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=port)
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def make_segment() -> Callable[..., Any]:
    """make_segment(name, contacts) -> a static segment of those contacts, committed."""

    def factory(name: str, contacts=()):
        from crm.models import Segment, SegmentKind, segment_members

        segment = Segment(name=name, kind=SegmentKind.STATIC)
        db.session.add(segment)
        db.session.flush()
        for contact in contacts:
            db.session.execute(
                segment_members.insert().values(segment_id=segment.id, contact_id=contact.id)
            )
        db.session.commit()
        return segment

    return factory
