"""One database for the whole hostile-input module: the hostile values are typed in once,
through the real forms (tests/security/world.py), and every test reads what became of them.
Built per module: 33 hostile values through a dozen forms each would otherwise cost a fresh
database per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from crm import create_app
from crm.extensions import db
from tests.conftest import (
    PG_URL,
    TEST_PASSWORD,
    IsolatedClient,
    _base_config,
    _pg_admin_engine,
    login,
)
from tests.security import payloads
from tests.security.checks import CHECKED


@pytest.fixture(scope="module")
def shared_app(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app on its own copy of the migrated database, kept for the module."""
    instance: Path = tmp_path_factory.mktemp("hostile")
    name = f"crm_hostile_{os.getpid()}_{instance.name.replace('-', '_')}"
    if not PG_URL:
        path = instance / "crm.sqlite3"
        shutil.copyfile(database_template, path)
        url = f"sqlite:///{path}"
    else:
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{database_template}"'))
        admin.dispose()
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    app = create_app(_base_config(instance, url))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if PG_URL:
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def admin_client(shared_app: Flask):
    """Signed in as a user holding crm_admin and crm_manager (history, list management,
    export, and adding to marketing lists)."""
    from crm.services.platform.users import create_user

    user = create_user(
        "hostile-admin@example.com", TEST_PASSWORD, ["crm_admin", "crm_manager"], full_name="H"
    )
    db.session.commit()
    client = shared_app.test_client()
    assert login(client, user.email).status_code == 302
    return client


@pytest.fixture(scope="module")
def world(admin_client):
    from tests.security.world import World

    built = World(admin_client)
    built.build()
    return built


def pytest_terminal_summary(terminalreporter) -> None:
    """The number of hostile inputs tried, under the test results."""
    terminalreporter.write_line(payloads.summary())
    if CHECKED["pages"]:
        checked = ", ".join(f"{count} {what}" for what, count in CHECKED.items())
        terminalreporter.write_line(f"checked for live payload markup: {checked}")
