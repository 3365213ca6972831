"""An import updating existing contacts while someone else saves one of them: two sessions
in two threads against the same database, no mock."""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from crm.extensions import db
from crm.models import Contact, DuplicateHandling, ImportJob, JobStatus
from crm.services.transfer.importing.jobs import create_job, start
from crm.services.transfer.importing.run import run_job
from crm.services.transfer.importing.targets import Mapping

HEADER = "First Name,Last Name,E-mail Address,Mobile Phone,Company,Job Title\n"


def test_a_contact_saved_by_someone_else_while_the_import_updates_it(app, manager, make_contact):
    ana = make_contact(manager, first_name="Ana", last_name="Smith", email="ana@example.com")
    bo = make_contact(manager, first_name="Bo", last_name="Lee", email="bo@example.com")
    ana_id, bo_id = ana.id, bo.id
    rows = ["Ana,Smith,ana@example.com,,,CEO", "Bo,Lee,bo@example.com,,,CTO", "Cy,Young,,,,"]
    data = (HEADER + "".join(row + "\n" for row in rows)).encode()
    job = create_job(manager, data, "people.csv")
    how = DuplicateHandling.OVERWRITE
    started = start(manager, job, Mapping.from_json(job.mapping), how, dry_run=False)
    db.session.commit()
    job_id = started.id
    on_sqlite = db.engine.dialect.name == "sqlite"

    other: dict[str, object] = {}

    def someone_else_saves_ana() -> None:
        """Another user's save of Ana, in its own session, committed."""
        with app.app_context():
            try:
                contact = db.session.get(Contact, ana_id)
                contact.notes = "Called today"
                db.session.commit()
                other["saved"] = True
            except StaleDataError:
                db.session.rollback()
                other["saved"] = False

    importer: dict[str, int] = {}
    editor = threading.Thread(target=someone_else_saves_ana)

    def when_the_import_writes_ana(session, _context, _instances) -> None:
        """The moment the import has loaded Ana (at version 1) and is about to write her."""
        if threading.get_ident() != importer.get("thread") or editor.ident is not None:
            return
        if not any(isinstance(o, Contact) and o.id == ana_id for o in session.dirty):
            return
        editor.start()
        # PostgreSQL: the other save commits now, between the import's read and its write.
        # SQLite: the import's batch holds the database's write lock (BEGIN IMMEDIATE), so
        # the other save waits for the batch: it cannot come in between.
        editor.join(timeout=0.5 if on_sqlite else 10)

    def run_the_import() -> None:
        importer["thread"] = threading.get_ident()
        with app.app_context():
            run_job(job_id)

    event.listen(Session, "before_flush", when_the_import_writes_ana)
    try:
        runner = threading.Thread(target=run_the_import)
        runner.start()
        runner.join(timeout=60)
        editor.join(timeout=30)
    finally:
        event.remove(Session, "before_flush", when_the_import_writes_ana)
    assert not runner.is_alive() and not editor.is_alive()

    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    # The job is not a crash: the rest of the batch is imported.
    assert job.status == JobStatus.DONE, job.message
    assert db.session.get(Contact, bo_id).job_title == "CTO"
    assert db.session.query(Contact).filter_by(first_name="Cy").count() == 1
    ana = db.session.get(Contact, ana_id)
    if on_sqlite:
        # The import wrote Ana first; the other save, made from the version it had read
        # before, is refused as a stale edit (what the contact form says "someone else
        # saved" for), and nothing is lost.
        assert other == {"saved": False}
        assert (ana.job_title, ana.notes, job.updated, job.failed) == ("CEO", None, 2, 0)
    else:
        # The other save came first: the import's row for Ana is a row of its report.
        assert other == {"saved": True}
        assert (ana.job_title, ana.notes) == (None, "Called today")
        assert (job.created, job.updated, job.failed) == (1, 1, 1)
        assert job.errors == [
            {
                "row": 2,
                "field": "",
                "message": "Someone else changed this contact while the import ran; it was "
                "not updated (import the row again to update it).",
            }
        ]
