"""Migrations: one head, empty -> head matches the models, and down/up round-trips."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from crm import create_app
from crm.config import PROJECT_ROOT
from crm.extensions import db


def _script() -> ScriptDirectory:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return ScriptDirectory.from_config(config)


def test_migrations_have_a_single_head():
    assert len(_script().get_heads()) == 1


def test_every_migration_has_a_message():
    for revision in _script().walk_revisions():
        assert revision.doc and revision.doc.strip(), f"{revision.revision} has no message"


def test_migrated_schema_matches_models(app):
    """The per-test database was built by the migrations: no drift from the models."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(database_url: str, tmp_path: Path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    with app.app_context():
        downgrade(revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        assert {"contacts", "phones", "addresses", "social_links", "audit_entries"} <= set(
            inspect(db.engine).get_table_names()
        )
        db.session.remove()
        db.engine.dispose()
