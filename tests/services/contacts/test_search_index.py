"""The search index: phone fragments in any format, company names, accents, and the index
(FTS5 on SQLite, pg_trgm on PostgreSQL) staying in step with every write."""

from __future__ import annotations

from sqlalchemy import select, text

from crm.extensions import db
from crm.models import Account, Contact
from crm.services.contacts.saving import apply_contact_rules
from crm.services.contacts.search import contact_search_clause, search_terms
from crm.services.contacts.trash import purge_contact
from tests.services.conftest import an_admin


def found(text_typed: str) -> list[str]:
    query = select(Contact).order_by(Contact.id).where(contact_search_clause(text_typed))
    return [c.full_name for c in db.session.scalars(query)]


def test_phone_fragments_in_any_format(make_contact):
    make_contact(
        first_name="Hans",
        last_name="Berlin",
        phones=[{"type": "Work", "country_code": "+49", "number": "030 1234567"}],
    )
    make_contact(first_name="Other", last_name="Person")
    for typed in ("+49 30 1234", "030-1234", "(030) 123", "1234567", "4930123"):
        assert found(typed) == ["Hans Berlin"], typed
    assert found("030-9999") == []


def test_search_terms_keep_phone_queries_whole():
    assert search_terms("+49 (30) 1234-56") == ["4930123456"]
    assert search_terms("Ana  SMITH ana") == ["ana", "smith"]
    assert search_terms("  ") == []


def test_company_names_and_unaccented_names_are_found(make_contact):
    acme = Account(name="Acme Logistics GmbH")
    db.session.add(acme)
    db.session.commit()
    make_contact(first_name="Jürgen", last_name="Müller", account=acme)
    assert found("logistics") == ["Jürgen Müller"]
    assert found("muller") == ["Jürgen Müller"]
    assert found("müll") == ["Jürgen Müller"]
    assert found("jurgen acme") == ["Jürgen Müller"]


def test_the_index_follows_edits_renames_and_deletes(make_contact, manager):
    contact = make_contact(first_name="Ana", last_name="Smith", account="Initech")
    assert found("smith") == ["Ana Smith"]
    contact.last_name = "Jones"
    apply_contact_rules(manager, contact, is_new=False)
    db.session.commit()
    assert found("smith") == [] and found("jones") == ["Ana Jones"]

    from crm.services.contacts.accounts import save_account

    account = contact.account
    account.name = "Globex"
    save_account(manager, account, is_new=False)
    db.session.commit()
    assert found("initech") == [] and found("globex") == ["Ana Jones"]

    purge_contact(an_admin(), contact)
    db.session.commit()
    assert found("jones") == []


def test_the_sqlite_index_is_the_fts5_table_kept_by_triggers(make_contact):
    if db.engine.dialect.name != "sqlite":
        index = db.session.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_contacts_search_trgm'")
        ).scalar()
        assert "gin_trgm_ops" in index
        return
    contact = make_contact(first_name="Zed", last_name="Quux")
    rows = db.session.execute(
        text("SELECT rowid FROM contact_search WHERE contact_search MATCH '\"quux\"'")
    ).all()
    assert rows == [(contact.id,)]
    db.session.execute(
        text("INSERT INTO contact_search(contact_search) VALUES ('integrity-check')")
    )


def _index_is_whole() -> None:
    """FTS5 compares an external-content index with its table; raises if they differ."""
    db.session.execute(
        text("INSERT INTO contact_search(contact_search) VALUES ('integrity-check')")
    )


def test_imported_contacts_are_indexed_together_and_the_trigger_stays(manager, make_contact):
    import pytest

    from crm.services.contacts.search import indexed_together
    from tests.services.transfer.test_imports import csv_bytes, run

    make_contact(first_name="Before", last_name="Import")
    job = run(manager, csv_bytes(*(f"Ana{i},Quist{i},ana{i}@example.com,,," for i in range(30))))
    assert job.created == 30
    assert found("quist7") == ["Ana7 Quist7"] and len(found("quist")) == 30
    if db.engine.dialect.name != "sqlite":
        return
    _index_is_whole()
    trigger = "SELECT count(*) FROM sqlite_master WHERE name = 'contact_search_insert'"
    assert db.session.execute(text(trigger)).scalar() == 1

    # A failure inside rolls back with the rows: the trigger is back, later saves indexed.
    with pytest.raises(RuntimeError), indexed_together():
        db.session.add(Contact(first_name="Lost", last_name="Row", account_id=job.id))
        db.session.flush()
        raise RuntimeError("batch failed")
    db.session.rollback()
    assert db.session.execute(text(trigger)).scalar() == 1
    make_contact(first_name="After", last_name="Failure")
    assert found("failure") == ["After Failure"] and found("lost") == []
    _index_is_whole()


def test_postgresql_serves_the_sales_lists_searches_from_trigram_indexes(app):
    """Flask-Admin searches a list with CAST(column AS VARCHAR) ILIKE '%word%': on
    PostgreSQL each searchable column of leads, deals and orders has a pg_trgm index that
    such a search can use (SQLite scans these tables)."""
    import pytest

    if db.engine.dialect.name != "postgresql":
        pytest.skip("the trigram indexes are PostgreSQL's")
    names = set(
        db.session.scalars(
            text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_trgm_%'")
        )
    )
    assert names == {
        "ix_trgm_leads_first_name",
        "ix_trgm_leads_last_name",
        "ix_trgm_leads_email",
        "ix_trgm_leads_company",
        "ix_trgm_deals_title",
        "ix_trgm_orders_number",
        "ix_trgm_orders_external_id",
    }
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        db.session.scalars(
            text(
                "EXPLAIN SELECT id FROM orders WHERE CAST(number AS VARCHAR) ILIKE '%0000123%' "
                "OR CAST(external_id AS VARCHAR) ILIKE '%0000123%'"
            )
        )
    )
    assert "ix_trgm_orders_number" in plan and "ix_trgm_orders_external_id" in plan
    db.session.rollback()
