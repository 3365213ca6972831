"""Imports as jobs: rows created or refused with their row numbers, duplicates skipped,
filled, overwritten or created, dry runs that save nothing, undo, and resuming a job cut off
half-way."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.errors import PermissionDenied
from crm.extensions import db
from crm.models import (
    Account,
    Contact,
    ContactKind,
    DuplicateHandling,
    ImportedRow,
    ImportJob,
    JobStatus,
    Phone,
)
from crm.models.base import utcnow
from crm.services.transfer.importing import imports
from crm.services.transfer.importing.targets import Mapping

HEADER = "First Name,Last Name,E-mail Address,Mobile Phone,Company,Job Title\n"


def csv_bytes(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode("utf-8")


def run(actor, data: bytes, how=DuplicateHandling.SKIP, *, dry_run=False, name="people.csv"):
    job = imports.create_job(actor, data, name)
    started = imports.start(actor, job, Mapping.from_json(job.mapping), how, dry_run=dry_run)
    db.session.commit()
    imports.run_job(started.id)
    db.session.expire_all()
    return db.session.get(ImportJob, started.id)


def live_contacts() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.deleted_at.is_(None))
    )


def test_rows_are_created_or_refused_with_their_row_number(manager):
    job = run(
        manager,
        csv_bytes(
            "Ana,Smith,ana@example.com,+44 7400 123456,Acme,CEO",
            "Bob,Jones,not-an-email,,,",
            "Cy,,cy@example.com,,,",
            "Di,Lee,di@example.com,12,,",
        ),
    )
    assert job.status == JobStatus.DONE
    assert (job.created, job.updated, job.skipped, job.failed) == (1, 0, 0, 3)
    by_row = {e["row"]: e for e in job.errors}
    assert set(by_row) == {3, 4, 5}
    assert "email" in by_row[3]["field"].lower()
    assert "last name" in by_row[4]["field"].lower() or "last" in by_row[4]["message"].lower()
    assert "phone 1" in by_row[5]["field"].lower()
    ana = db.session.scalar(select(Contact).where(Contact.email == "ana@example.com"))
    assert ana.account.name == "Acme" and ana.job_title == "CEO"
    assert [p.e164 for p in ana.phones] == ["+447400123456"]


@pytest.mark.parametrize(
    "how, expected_job_title, counts",
    [
        (DuplicateHandling.SKIP, None, (0, 0, 1)),
        (DuplicateHandling.FILL, "CEO", (0, 1, 0)),
        (DuplicateHandling.OVERWRITE, "CEO", (0, 1, 0)),
        (DuplicateHandling.CREATE, None, (1, 0, 0)),
    ],
)
def test_a_row_matching_an_existing_contact(manager, make_contact, how, expected_job_title, counts):
    existing = make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    job = run(manager, csv_bytes("Anna,Smith,ANA@example.com,,Acme,CEO"), how)
    assert job.status == JobStatus.DONE, job.message
    assert (job.created, job.updated, job.skipped) == counts
    db.session.refresh(existing)
    assert existing.job_title == expected_job_title
    assert existing.first_name == ("Anna" if how == DuplicateHandling.OVERWRITE else "Ana")


def test_rows_repeating_an_earlier_row_of_the_file_are_duplicates_too(manager):
    data = csv_bytes("Ana,Smith,ana@example.com,,,", "Ana,Smith,ana@example.com,,,")
    trial = run(manager, data, dry_run=True)
    assert (trial.created, trial.skipped) == (1, 1)
    assert live_contacts() == 0  # a dry run saves nothing
    job = run(manager, data)
    assert (job.created, job.skipped) == (1, 1) and live_contacts() == 1


def test_undo_deletes_what_was_created_and_restores_what_was_updated(manager, make_contact):
    existing = make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    job = run(
        manager,
        csv_bytes("Ana,Smith,ana@example.com,+44 7400 123456,,CEO", "Bo,Lee,bo@example.com,,,"),
        DuplicateHandling.FILL,
    )
    db.session.refresh(existing)
    assert existing.job_title == "CEO" and len(existing.phones) == 1
    report = imports.undo_import(manager, job)
    db.session.commit()
    db.session.expire_all()
    existing = db.session.get(Contact, existing.id)
    assert (report.deleted, report.restored, report.kept) == (1, 1, 0)
    assert existing.job_title is None and existing.phones == []
    assert db.session.scalar(select(Contact).where(Contact.email == "bo@example.com")) is None
    assert db.session.get(ImportJob, job.id).status == JobStatus.UNDONE


def test_undo_leaves_contacts_changed_since(manager):
    job = run(manager, csv_bytes("Bo,Lee,bo@example.com,,,"))
    bo = db.session.scalar(select(Contact).where(Contact.email == "bo@example.com"))
    bo.job_title = "Edited after the import"
    db.session.commit()
    report = imports.undo_import(manager, job)
    db.session.commit()
    assert (report.deleted, report.kept) == (0, 1)
    assert db.session.get(Contact, bo.id) is not None


def test_a_job_cut_off_half_way_applied_whole_batches_and_resumes_exactly(manager, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 3)
    rows = [f"P{i},Person,p{i}@example.com,,," for i in range(8)]
    job = imports.create_job(manager, csv_bytes(*rows), "people.csv")
    imports.start(
        manager, job, Mapping.from_json(job.mapping), DuplicateHandling.SKIP, dry_run=False
    )
    db.session.commit()
    real = imports._decide

    def dies_on_row_6(job, actor, item, *args):
        if item.number == 6:
            raise RuntimeError("the server went away")
        return real(job, actor, item, *args)

    monkeypatch.setattr(imports, "_decide", dies_on_row_6)
    imports.run_job(job.id)
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.status == JobStatus.FAILED and "Stopped after 3 rows" in job.message
    assert (job.created, job.done_rows) == (3, 3) and live_contacts() == 3  # one whole batch

    monkeypatch.setattr(imports, "_decide", real)
    imports.resume_job(manager, job)
    db.session.commit()
    imports.run_job(job.id)
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.status == JobStatus.DONE and (job.created, job.done_rows) == (8, 8)
    assert live_contacts() == 8
    numbers = db.session.scalars(
        select(ImportedRow.row_number).where(ImportedRow.job_id == job.id)
    ).all()
    assert sorted(numbers) == list(range(2, 10))  # every row once


def test_a_running_job_whose_process_ended_is_marked_failed(manager):
    job = imports.create_job(manager, csv_bytes("Ana,Smith,,,,"), "people.csv")
    job.status = JobStatus.RUNNING
    job.heartbeat_at = utcnow() - imports.STALE_AFTER * 2
    db.session.commit()
    assert imports.fail_interrupted() == 1
    assert "Interrupted after 0 of" in db.session.get(ImportJob, job.id).message


def test_only_importers_import(sales):
    with pytest.raises(PermissionDenied):
        imports.create_job(sales, csv_bytes("Ana,Smith,,,,"), "people.csv")


def test_a_queued_job_a_restart_dropped_is_marked_failed_and_can_be_resumed(manager):
    job = imports.create_job(manager, csv_bytes("Ana,Smith,ana@example.com,,,"), "people.csv")
    job.status = JobStatus.QUEUED
    job.created_at = utcnow() - imports.STALE_AFTER * 2
    db.session.commit()
    assert imports.fail_interrupted() == 1
    job = db.session.get(ImportJob, job.id)
    assert job.status == JobStatus.FAILED and "Not started" in job.message
    imports.resume_job(manager, job)
    db.session.commit()
    imports.run_job(job.id)
    db.session.expire_all()
    assert db.session.get(ImportJob, job.id).created == 1


def test_a_queued_job_waits_while_another_runs(manager):
    waiting = imports.create_job(manager, csv_bytes("Ana,Smith,,,,"), "a.csv")
    running = imports.create_job(manager, csv_bytes("Bo,Lee,,,,"), "b.csv")
    waiting.status, waiting.created_at = JobStatus.QUEUED, utcnow() - imports.STALE_AFTER * 2
    running.status, running.heartbeat_at = JobStatus.RUNNING, utcnow()
    db.session.commit()
    assert imports.fail_interrupted() == 0


def test_an_update_does_not_add_what_the_contact_already_has(manager, make_contact):
    existing = make_contact(
        manager,
        first_name="Ana",
        last_name="Smith",
        email="ana@example.com",
        phones=[{"type": "Mobile", "country_code": "GB", "number": "07400 123456"}],
    )
    job = run(
        manager,
        (b"First Name,Last Name,E-mail Address,Mobile Phone,LinkedIn\n"
         b"Ana,Smith,ana@example.com,+44 7400 123456,https://www.linkedin.com/in/ana-s\n"
         b"Ana,Smith,ana@example.com,+44 7400 123456,https://www.linkedin.com/in/ana-s\n"),
        DuplicateHandling.FILL,
    )  # fmt: skip
    assert job.status == JobStatus.DONE, job.message
    assert (job.updated, job.failed) == (2, 0), job.errors
    db.session.expire_all()
    existing = db.session.get(Contact, existing.id)
    assert [p.e164 for p in existing.phones] == ["+447400123456"]
    assert [link.url for link in existing.social_links] == ["https://www.linkedin.com/in/ana-s"]


def test_companies_are_matched_by_name_or_created_once(manager):
    db.session.add(Account(name="Globex"))
    db.session.commit()
    job = run(
        manager,
        csv_bytes(
            "Ana,Smith,ana@example.com,,globex,",
            "Bo,Lee,bo@example.com,,New  Co,",
            "Cy,Park,cy@example.com,,new co,",
            "Di,Ray,di@example.com,,,",
        ),
    )
    assert job.created == 4, job.errors
    people = {c.first_name: c for c in db.session.scalars(select(Contact))}
    assert people["Ana"].account.name == "Globex" and people["Ana"].kind == ContactKind.B2B
    assert people["Bo"].account is people["Cy"].account and people["Bo"].account.name == "New Co"
    assert people["Di"].kind == ContactKind.B2C and people["Di"].account.is_hidden
    assert people["Di"].account.name == "Di Ray" and people["Di"].is_primary
    assert db.session.scalar(select(func.count()).select_from(Account)) == 3


def test_a_skipped_row_naming_a_new_company_leaves_no_half_made_account(
    manager, make_contact, monkeypatch
):
    """A duplicate row with a company nobody has yet, then another row of that company:
    this stopped imports with a UNIQUE error ("accounts.id") before."""
    monkeypatch.setattr(imports, "BATCH", 2)
    make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    job = run(
        manager,
        csv_bytes(
            "Ana,Smith,ana@example.com,,Brand New Ltd,",
            "Bo,Lee,bo@example.com,,Brand New Ltd,",
            "Cy,Park,cy@example.com,,Brand New Ltd,",
        ),
    )
    assert job.status == JobStatus.DONE, job.message
    assert (job.created, job.skipped) == (2, 1)
    names = db.session.scalars(select(Account.name).where(Account.name == "Brand New Ltd"))
    assert list(names) == ["Brand New Ltd"]


def test_imported_contacts_are_stored_as_the_form_stores_them(manager):
    from crm.models import AuditEntry
    from crm.services.contacts.duplicates import matches_for
    from crm.services.contacts.search import contact_search_clause

    run(manager, csv_bytes("José,Pérez,Jose@Example.com,(212) 555-0147,Acme,CEO"))
    jose = db.session.scalar(select(Contact))
    assert jose.email == "jose@example.com" and jose.owner == manager
    assert [(p.e164, p.formatted) for p in jose.phones] == [("+12125550147", "+1 212-555-0147")]
    assert jose.name_key == "jose perez" and jose.has_phone and jose.version == 1
    for term in ("perez", "2125550147", "acme"):
        assert db.session.scalar(select(Contact.id).where(contact_search_clause(term))) == jose.id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.contact_id == jose.id))
    assert entry.action == "create" and entry.user_id == manager.id
    assert entry.changes["job_title"] == [None, "CEO"]
    assert entry.changes["phones"] == [None, ["+1 212-555-0147"]]
    probe = Contact(first_name="Jose", last_name="Perez", account=jose.account)
    probe.kind = ContactKind.B2B
    assert [c.id for c, _why in matches_for(manager, probe)] == [jose.id]


def test_updated_contacts_are_stored_as_the_form_stores_them(manager, make_contact):
    """An update goes through the form's own save: names, phones and the derived fields
    (search text, name key, phone flag) as an edit in the form leaves them."""
    from crm.models import AuditEntry
    from crm.services.contacts.search import contact_search_clause, name_key

    ana = make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    assert not ana.has_phone and ana.version == 1
    job = run(
        manager,
        csv_bytes("Ána,Smith-Jones,ANA@example.com,(212) 555-0147,,Head of Sales"),
        DuplicateHandling.OVERWRITE,
    )
    assert (job.updated, job.failed) == (1, 0), job.errors
    db.session.expire_all()
    ana = db.session.get(Contact, ana.id)
    assert (ana.first_name, ana.last_name, ana.job_title) == ("Ána", "Smith-Jones", "Head of Sales")
    assert [(p.e164, p.formatted) for p in ana.phones] == [("+12125550147", "+1 212-555-0147")]
    assert ana.name_key == name_key("Ána", None, "Smith-Jones") and ana.has_phone
    assert ana.version > 1 and ana.owner == manager  # moved on: a form open before is stale
    for term in ("smith-jones", "2125550147", "ana"):
        found = db.session.scalars(select(Contact.id).where(contact_search_clause(term))).all()
        assert found == [ana.id], term
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.contact_id == ana.id, AuditEntry.action == "update")
    )
    assert entry.user_id == manager.id and entry.changes["job_title"] == [None, "Head of Sales"]


@pytest.mark.parametrize("batch", [1000, 1])
@pytest.mark.parametrize("how", [DuplicateHandling.FILL, DuplicateHandling.OVERWRITE])
def test_rows_of_one_person_become_one_contact_and_the_dry_run_says_so(
    manager, how, batch, monkeypatch
):
    monkeypatch.setattr(imports, "BATCH", batch)
    data = csv_bytes(
        "Ana,Smith,ana@example.com,,,",
        "Ana,Smith,ana@example.com,+44 7400 123456,,CEO",
        "Bo,Lee,bo@example.com,,,",
    )
    trial = run(manager, data, how, dry_run=True)
    job = run(manager, data, how)
    assert (trial.created, trial.updated, trial.skipped) == (2, 1, 0)
    assert (job.created, job.updated, job.skipped) == (2, 1, 0)
    ana = db.session.scalar(select(Contact).where(Contact.email == "ana@example.com"))
    assert ana.job_title == "CEO" and [p.e164 for p in ana.phones] == ["+447400123456"]
    report = imports.undo_import(manager, job)
    db.session.commit()
    assert (report.deleted, report.restored, report.kept) == (2, 0, 0) and live_contacts() == 0


def test_undo_removes_a_contact_that_later_batches_of_the_import_updated(manager, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 1)
    job = run(
        manager,
        csv_bytes("Ana,Smith,ana@example.com,,,", "Ana,Smith,ana@example.com,,,CEO"),
        DuplicateHandling.FILL,
    )
    assert (job.created, job.updated) == (1, 1)
    report = imports.undo_import(manager, job)
    db.session.commit()
    assert (report.deleted, report.kept) == (1, 0) and live_contacts() == 0


def test_the_same_name_in_the_same_company_is_a_duplicate(manager, make_contact):
    make_contact(manager, first_name="Ana", last_name="Smith", kind="b2b", account="Acme")
    job = run(
        manager,
        csv_bytes("ana,SMITH,,,Acme,CEO", "Ana,Smith,,,Globex,", "Ana,Smith,,,,"),
    )
    # Acme's Ana is the same person; Globex's and a consumer of that name are not.
    assert (job.created, job.skipped) == (2, 1)


def test_undo_takes_the_created_contacts_rows_and_hidden_accounts_with_them(manager):
    from crm.models import AuditEntry, Phone

    job = run(manager, csv_bytes("Di,Ray,di@example.com,+44 7400 123456,,", "Bo,Lee,,,Acme,"))
    di = db.session.scalar(select(Contact).where(Contact.first_name == "Di"))
    hidden_id, di_id = di.account_id, di.id
    report = imports.undo_import(manager, job)
    db.session.commit()
    assert report.deleted == 2 and live_contacts() == 0
    assert db.session.scalar(select(func.count()).select_from(Phone)) == 0
    assert db.session.get(Account, hidden_id) is None  # Di's own (hidden) account
    assert db.session.scalar(select(Account.name)) == "Acme"  # a company stays
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.contact_id == di_id, AuditEntry.action == "delete")
    )
    assert "undo of the import of people.csv" in entry.summary


@pytest.mark.parametrize("how", [DuplicateHandling.FILL, DuplicateHandling.OVERWRITE])
def test_importing_the_same_file_again_changes_nothing(manager, how):
    from crm.models import AuditEntry

    data = csv_bytes(
        "Ana,Smith,Ana@Example.com,+44 7400 123456,Acme,CEO",
        "Bo,Lee,bo@example.com,(212) 555-0147,,",
    )
    run(manager, data)
    versions = dict(db.session.execute(select(Contact.id, Contact.version)).all())
    history = db.session.scalar(select(func.count()).select_from(AuditEntry))
    again = run(manager, data, how)
    assert (again.created, again.updated, again.skipped) == (0, 0, 2)
    assert dict(db.session.execute(select(Contact.id, Contact.version)).all()) == versions
    # Only the import's own entry is new: no contact was touched.
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == history + 1
    changed = run(manager, csv_bytes("Bo,Lee,bo@example.com,(212) 555-0147,,Buyer"), how)
    assert (changed.updated, changed.skipped) == (1, 0)
    bo = db.session.scalar(select(Contact).where(Contact.email == "bo@example.com"))
    assert bo.job_title == "Buyer"


def test_local_numbers_are_read_in_the_country_of_the_address(manager, make_contact):
    """A European file's numbers come without +: the row's (or the contact's) address says
    which country they belong to."""
    make_contact(
        first_name="Hans", last_name="Meier", email="hans@example.de",
        addresses=[{"city": "Berlin", "country": "DE"}],
    )  # fmt: skip
    data = (
        "First Name,Last Name,E-mail Address,Mobile Phone,Home City,Home Country/Region\n"
        "Hans,Meier,hans@example.de,030 1234567,,\n"  # updates Hans, whose address is German
        "Zoe,Roth,zoe@example.at,01 5123456,Wien,Österreich\n"
        "Ann,Lee,ann@example.com,(212) 736-5000,,\n"
    ).encode()
    job = run(manager, data, DuplicateHandling.FILL)
    assert (job.created, job.updated, job.failed) == (2, 1, 0), job.errors
    numbers = dict(db.session.execute(select(Contact.email, Phone.e164).join(Contact.phones)).all())
    assert numbers == {
        "hans@example.de": "+49301234567",
        "zoe@example.at": "+4315123456",
        "ann@example.com": "+12127365000",
    }


def test_a_file_beyond_the_limits_when_the_job_runs_is_the_jobs_report(app, manager):
    # Uploaded within the limits, which were lowered before it ran: the job says why it
    # stopped, and nothing of the file is imported.
    job = imports.create_job(manager, csv_bytes(*(f"Ana{n},Smith,,,," for n in range(6))), "p.csv")
    started = imports.start(manager, job, Mapping.from_json(job.mapping), DuplicateHandling.SKIP,
                            dry_run=False)  # fmt: skip
    db.session.commit()
    app.config["CRM_IMPORT_MAX_ROWS"] = 5
    imports.run_job(started.id)
    db.session.expire_all()
    job = db.session.get(ImportJob, started.id)
    assert job.status == JobStatus.FAILED
    assert job.message.startswith(
        "The file cannot be read any more: This file has more than 5 rows (the limit is 5)."
    )
    assert live_contacts() == 0


def test_the_job_keeps_the_first_characters_of_its_first_rows(manager):
    notes = "x" * 5000
    job = imports.create_job(
        manager,
        ("First Name,Last Name,Notes\n" + "".join(f"Ana{n},Smith,{notes}\n" for n in range(5)))
        .encode(),
        "people.csv",
    )  # fmt: skip
    samples = job.details["samples"]
    assert len(samples) == imports.SAMPLES == 3
    assert samples[0] == ["Ana0", "Smith", "x" * 100]
