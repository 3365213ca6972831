"""Configuration layering, the generated secret key and SQLite's connection settings."""

from __future__ import annotations

import stat

import pytest
from sqlalchemy import text

from crm import create_app
from crm.config import database_uri
from crm.extensions import db
from tests.conftest import PG_URL


def test_defaults_then_instance_file_then_environment_then_test_config(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text(
        'CRM_DEFAULT_PHONE_REGION = "DE"\nCRM_GEOCODER = "none"\nCRM_NAME = "Instance CRM"\n'
    )
    monkeypatch.setenv("CRM_GEOCODER", "nominatim")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "CRM_NAME": "Test CRM"})
    assert app.config["CRM_PAGE_SIZE"] == 20  # default
    assert app.config["CRM_DEFAULT_PHONE_REGION"] == "DE"  # instance file
    assert app.config["CRM_GEOCODER"] == "nominatim"  # environment beats the file
    assert app.config["CRM_NAME"] == "Test CRM"  # test config beats everything
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'crm.sqlite3'}"


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    key_file = tmp_path / "secret_key"
    assert first == second == key_file.read_text().strip()
    assert len(first) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_secret_key_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db/crm", "postgresql+psycopg://u:p@db/crm"),
        ("postgresql://u:p@db/crm", "postgresql+psycopg://u:p@db/crm"),
        ("postgresql+psycopg://u@db/crm", "postgresql+psycopg://u@db/crm"),
        ("sqlite:////var/crm.db", "sqlite:////var/crm.db"),
    ],
)
def test_database_url_forms(tmp_path, given, expected):
    assert database_uri({"DATABASE_URL": given}, tmp_path) == expected


@pytest.mark.skipif(bool(PG_URL), reason="SQLite connection settings; this run uses PostgreSQL")
def test_sqlite_connections_enforce_foreign_keys_with_wal_and_busy_timeout(app):
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL connection settings; this run uses SQLite")
def test_postgresql_connections_run_without_jit(app):
    """JIT compiling added 10-20 ms to list pages of 20-50 ms (bench)."""
    with db.engine.connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "off"
