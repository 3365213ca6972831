"""Migrations: one head, empty -> head matches the models, and down/up round-trips."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from crm import create_app
from crm.config import PROJECT_ROOT
from crm.extensions import db, include_in_autogenerate


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
            connection,
            opts={
                "compare_type": True,
                "render_as_batch": True,
                "include_name": include_in_autogenerate,
            },
        )
        diff = compare_metadata(context, db.metadata)
        if connection.dialect.name == "sqlite":
            diff = _without_inline_foreign_keys(connection, diff)
    assert diff == []


def _without_inline_foreign_keys(connection, diff: list) -> list:
    """SQLite does not reflect the ON DELETE of a foreign key declared on a column added by
    ALTER TABLE (migrations add them so, to keep the search triggers on contacts): autogenerate
    then sees it removed and added again. Check those against PRAGMA foreign_key_list and
    drop them from the diff; anything else stays."""
    from sqlalchemy import text

    added = {
        (d[1].parent.name, tuple(c.name for c in d[1].columns)): d[1]
        for d in diff
        if d[0] == "add_fk"
    }
    kept = []
    for item in diff:
        if item[0] in {"add_fk", "remove_fk"}:
            fk = item[1]
            key = (fk.parent.name, tuple(c.name for c in fk.columns))
            model_fk = added.get(key)
            if model_fk is not None and len(key[1]) == 1:
                rows = connection.execute(text(f"PRAGMA foreign_key_list({key[0]})")).all()
                stored = {row[3]: (row[2], row[4], row[6]) for row in rows}
                element = next(iter(model_fk.elements))
                expected = (
                    element.column.table.name,
                    element.column.name,
                    (model_fk.ondelete or "NO ACTION").upper(),
                )
                assert stored.get(key[1][0]) == expected, (key, stored.get(key[1][0]))
                continue
        kept.append(item)
    return kept


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


def test_upgrading_keeps_existing_rows_and_indexes_them_for_search(
    database_url: str, tmp_path: Path
):
    """Rebuilding a table in a migration must not cascade-delete its children (SQLite's
    DROP TABLE does, with foreign keys on) and existing contacts become searchable."""
    from sqlalchemy import text

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    with app.app_context():
        downgrade(revision="0001_foundation")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (id, name, is_hidden, version, created_at, updated_at) "
                    "VALUES (1, 'Acme Ltd', false, 1, '2026-01-01', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO contacts (id, kind, account_id, is_primary, first_name, last_name,"
                    " customer_status, prospect_status, birthday, email_marketing, do_not_email,"
                    " do_not_call, contact_preference, active, search_text, version, created_at,"
                    " updated_at) VALUES (1, 'b2b', 1, false, 'Jürgen', 'Müller', 'customer',"
                    " 'non_prospect', '1980-05-17', false, false, false, 'any', true,"
                    " 'jürgen müller', 1, '2026-01-01', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO contacts (id, kind, account_id, is_primary, first_name, last_name,"
                    " customer_status, prospect_status, email_marketing, do_not_email,"
                    " do_not_call, contact_preference, active, search_text, version, created_at,"
                    " updated_at) VALUES (2, 'b2b', 1, false, 'Ana', 'Silva', 'customer',"
                    " 'non_prospect', false, false, false, 'any', true,"
                    " 'ana silva', 1, '2026-01-01', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO phones (contact_id, phone_type_id, country_code, number, e164)"
                    " VALUES (1, 1, '+49', '030 1234567', '+49301234567')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO addresses (contact_id, address_type_id, city, country)"
                    " VALUES (1, 1, 'Berlin', 'DE')"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM phones")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM addresses")).scalar() == 1
            row = conn.execute(
                text("SELECT search_text, birthday_month FROM contacts WHERE id = 1")
            ).one()
            with_phone = conn.execute(
                text("SELECT id FROM contacts WHERE has_phone ORDER BY id")
            ).all()
        assert row.birthday_month == 5
        assert with_phone == [(1,)]  # filled from the existing phones
        with db.engine.connect() as conn:
            keys = conn.execute(text("SELECT name_key FROM contacts ORDER BY id")).scalars()
            assert list(keys) == ["jurgen muller", "ana silva"]  # duplicate checks find them
        for expected in ("müller", "muller", "jurgen", "49301234567", "0301234567", "acme ltd"):
            assert expected in row.search_text
        from crm.models import Contact
        from crm.services.contacts.search import contact_search_clause

        for term, expected in (("uller", [1]), ("0301234", [1]), ("acme", [1, 2])):
            found = db.session.scalars(
                select(Contact.id).where(contact_search_clause(term)).order_by(Contact.id)
            ).all()
            assert found == expected, term
        db.session.remove()
        db.engine.dispose()


def test_older_bulk_entries_are_linked_to_the_contacts_they_name(database_url: str, tmp_path: Path):
    """Revision 0015 moves a bulk entry's list of contacts to audit_bulk_contacts (so the
    entry is in each contact's History tab) and keeps its length; history stays append-only."""
    import json

    import pytest
    from sqlalchemy import text

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": database_url,
                      "INSTANCE_PATH": str(tmp_path)})  # fmt: skip
    with app.app_context():
        downgrade(revision="0014_contact_logins")
        with db.engine.begin() as conn:
            for action, changes in (
                ("bulk", {"tags_added": ["VIP"], "contact_ids": [7, 3, 7, 9]}),
                ("export", {"contact_ids": [1, 2]}),
                ("bulk", {"tags_added": ["Old"]}),
            ):
                conn.execute(
                    text("INSERT INTO audit_entries (at, action, entity_type, summary, changes)"
                         " VALUES ('2026-01-01', :action, 'contact', 'Add tag', :changes)"),
                    {"action": action, "changes": json.dumps(changes)},
                )  # fmt: skip
        upgrade()
        with db.engine.connect() as conn:
            links = conn.execute(
                text("SELECT entry_id, contact_id FROM audit_bulk_contacts ORDER BY contact_id")
            ).all()
            stored = [
                json.loads(c) if isinstance(c, str) else c
                for c in conn.execute(
                    text("SELECT changes FROM audit_entries ORDER BY id")
                ).scalars()
            ]
        assert links == [(1, 3), (1, 7), (1, 9)]
        assert stored == [
            {"tags_added": ["VIP"], "contacts": 4, "contact_sample": [3, 7, 9]},
            {"contact_ids": [1, 2]},  # not a bulk action: as it was
            {"tags_added": ["Old"]},
        ]
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_entries SET summary = 'x'"))
        db.session.remove()
        db.engine.dispose()
