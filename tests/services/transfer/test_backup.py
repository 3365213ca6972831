"""`flask crm backup FILE [--force] [--with-files]`: consistent backups of the live database
(crm/services/transfer/backup.py), their refusals, and restoring them as the README says.

Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL names a server; the tests of one
database's mechanics skip on the other.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from crm import create_app
from crm.extensions import db
from crm.models import Contact, User
from crm.services.card import files
from crm.services.transfer import backup
from tests.conftest import PG_URL

ON_PG = bool(PG_URL)
sqlite_only = pytest.mark.skipif(ON_PG, reason="SQLite's online backup API (a SQLite run)")
pg_only = pytest.mark.skipif(
    not ON_PG, reason="pg_dump and pg_restore need a PostgreSQL TEST_DATABASE_URL"
)
KIND = "postgresql" if ON_PG else "sqlite"
LABEL = "PostgreSQL database" if ON_PG else "SQLite database"
SUFFIX = ".dump" if ON_PG else ".sqlite3"
MEMBER = "crm.dump" if ON_PG else "crm.sqlite3"
CHECK = "pg_restore --list read it" if ON_PG else "integrity_check ok"

Names = list[tuple[str, str]]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The folder backups are written to (empty)."""
    folder = tmp_path / "backups"
    folder.mkdir()
    return folder


def live_names() -> Names:
    db.session.expire_all()
    names = select(Contact.first_name, Contact.last_name)
    rows = db.session.execute(names.order_by(Contact.last_name, Contact.first_name))
    return [tuple(row) for row in rows]


def live_revision() -> str:
    return db.session.scalar(text("SELECT version_num FROM alembic_version"))


_NAMES_SQL = "SELECT first_name, last_name FROM contacts ORDER BY last_name, first_name"


def sqlite_names(path: Path) -> Names:
    """The contacts of a SQLite backup, opened read-only (after its integrity_check)."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return [tuple(row) for row in connection.execute(_NAMES_SQL)]
    finally:
        connection.close()


def pg_restore(dump: Path, url, *options: str) -> None:
    """pg_restore DUMP into the database `url`, as README "Backup and restore" says."""
    pg_restore_program = backup.find_pg_tool("pg_restore")
    assert pg_restore_program, "pg_restore not found"
    done = subprocess.run(  # noqa: S603
        [
            pg_restore_program,
            "--no-owner",
            *options,
            f"--dbname={backup.libpq_conninfo(url)}",
            str(dump),
        ],
        env=backup.pg_environment(url),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def new_pg_database() -> Iterator[Callable[[], object]]:
    """new_pg_database() -> the URL of a new empty database (dropped after the test)."""
    made: list[str] = []
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT") if ON_PG else None

    def make():
        name = f"crm_restored_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(PG_URL).set(database=name)

    yield make
    if admin is not None:
        with admin.connect() as connection:
            for name in made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def names_in_backup(new_pg_database) -> Callable[[Path], Names]:
    """names_in_backup(FILE) -> the contacts the backup holds: the SQLite file opened, or the
    dump restored into a new PostgreSQL database."""

    def read(path: Path) -> Names:
        if not ON_PG:
            return sqlite_names(path)
        url = new_pg_database()
        pg_restore(path, url)
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(_NAMES_SQL))]
        finally:
            engine.dispose()

    return read


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


# ---- a backup holds the data ---------------------------------------------------------------


def test_the_backup_opens_as_a_database_with_the_same_contacts(
    cli, make_contact, out, names_in_backup
):
    for first, last in (("Ana", "Lopez"), ("Ben", "Okafor"), ("Chloé", "Müller")):
        make_contact(first_name=first, last_name=last)
    target = out / f"crm{SUFFIX}"

    result = cli("backup", str(target))

    assert result.exit_code == 0, result.output
    assert f"Backed up the {LABEL} to {target} (" in result.output
    assert "3 contact(s)" in result.output and CHECK in result.output
    assert " s: " in result.output  # the time taken
    assert os.listdir(out) == [target.name]  # no temporary file left beside it
    assert target.stat().st_mode & 0o777 == 0o600  # it holds password hashes
    assert (
        names_in_backup(target)
        == live_names()
        == [
            ("Ana", "Lopez"),
            ("Chloé", "Müller"),
            ("Ben", "Okafor"),
        ]
    )


@sqlite_only
def test_a_sqlite_backup_is_one_self_contained_file(cli, make_contact, out):
    make_contact(first_name="Ana", last_name="Lopez")
    target = out / "crm.sqlite3"

    assert cli("backup", str(target)).exit_code == 0

    assert target.read_bytes()[:16] == b"SQLite format 3\x00"
    # Rollback-journal mode (header bytes 18-19 = 1), not the live file's WAL: it opens
    # read-only anywhere and never needs a -wal beside it.
    assert target.read_bytes()[18:20] == b"\x01\x01"
    assert sqlite_names(target) == [("Ana", "Lopez")]
    assert sorted(os.listdir(out)) == ["crm.sqlite3"]


@pg_only
def test_a_postgresql_backup_is_a_custom_format_dump_pg_restore_lists(cli, make_contact, out):
    make_contact(first_name="Ana", last_name="Lopez")
    target = out / "crm.dump"

    assert cli("backup", str(target)).exit_code == 0

    assert target.read_bytes()[:5] == b"PGDMP"
    listed = subprocess.run(  # noqa: S603
        [backup.find_pg_tool("pg_restore"), "--list", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "TABLE DATA public contacts" in listed.stdout
    assert "TABLE DATA public alembic_version" in listed.stdout


# ---- while the app writes ------------------------------------------------------------------


class Writer:
    """A thread adding contacts one transaction at a time, as the running app would; it
    records the number of contacts after each of its commits."""

    def __init__(self, app, actor_id: int):
        self.app, self.actor_id = app, actor_id
        self.committed: list[int] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from crm.services.contacts.saving import create_contact

        try:
            with self.app.app_context():
                actor = db.session.get(User, self.actor_id)
                self.committed.append(db.session.scalar(select(func.count(Contact.id))))
                number = 0
                while not self._stop.is_set():
                    number += 1
                    create_contact(actor, {"first_name": "Writer", "last_name": f"W{number:05d}"})
                    db.session.commit()
                    self.committed.append(db.session.scalar(select(func.count(Contact.id))))
                db.session.remove()
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def start(self) -> None:
        self._thread.start()

    def wait_for(self, commits: int, timeout: float = 20.0) -> None:
        """Until `commits` more transactions have been committed than now."""
        goal = len(self.committed) + commits
        deadline = time.monotonic() + timeout
        while len(self.committed) < goal:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, "the writer made no progress (blocked?)"
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()
        assert not self.errors, self.errors


def test_a_backup_taken_while_contacts_are_added_is_complete_and_consistent(
    app, make_contact, manager, out, names_in_backup
):
    make_contact(first_name="Ana", last_name="Lopez")
    writer = Writer(app, manager.id)
    writer.start()
    writer.wait_for(3)
    steps: list[tuple[int, int]] = []

    def between_steps(copied: int, total: int) -> None:
        # The copy pauses after each step until the writer has committed once more: it must
        # be able to write meanwhile, and the copy must go on, not start over.
        if steps and copied < steps[-1][0]:
            raise AssertionError(f"the copy started over after {steps[-1][0]} pages")
        steps.append((copied, total))
        writer.wait_for(1)

    try:
        before = len(writer.committed)
        # A few pages per step on SQLite: dozens of steps, each with a commit in between.
        result = backup.create_backup(
            out / f"crm{SUFFIX}", pages_per_step=8, progress=between_steps
        )
        during = len(writer.committed) - before
        writer.wait_for(2)  # and it goes on after
    finally:
        writer.stop()

    assert result.path == out / f"crm{SUFFIX}" and result.check.startswith(CHECK)
    if not ON_PG:
        assert len(steps) >= 10 and steps[-1][0] == steps[-1][1]
        assert during >= len(steps), "the writer was blocked during the backup"
    # The backup is one moment of the database: a count the writer had committed, with
    # every contact written before that moment and none after.
    backed_up = result.snapshot.contacts
    assert backed_up in writer.committed
    assert backed_up < writer.committed[-1]
    names = names_in_backup(result.path)
    assert len(names) == backed_up
    written = [last for first, last in names if first == "Writer"]
    assert written == [f"W{n:05d}" for n in range(1, len(written) + 1)]
    assert ("Ana", "Lopez") in names


# ---- restoring, as the README says ---------------------------------------------------------


def _restart_config(app) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": app.config["DATABASE_URL"],
        "INSTANCE_PATH": app.instance_path,
        "CRM_PASSWORD_HASH_METHOD": app.config["CRM_PASSWORD_HASH_METHOD"],
    }


@sqlite_only
def test_restoring_a_sqlite_backup_as_the_readme_says_gives_back_the_data(
    app, cli, make_contact, out
):
    ana = make_contact(first_name="Ana", last_name="Lopez")
    make_contact(first_name="Ben", last_name="Okafor")
    target = out / "crm-backup.sqlite3"
    assert cli("backup", str(target)).exit_code == 0
    # Changes after the backup, which the restore takes back.
    make_contact(first_name="Cem", last_name="After")
    ana.first_name = "Renamed"
    db.session.commit()
    live = Path(db.engine.url.database)

    # 1. stop the app; 2. copy the backup over instance/crm.sqlite3; 3. remove stale -wal/-shm
    db.session.remove()
    db.engine.dispose()
    shutil.copyfile(target, live)
    for suffix in ("-wal", "-shm"):
        live.with_name(live.name + suffix).unlink(missing_ok=True)
    # 4. start it again
    restarted = create_app(_restart_config(app))
    with restarted.app_context():
        try:
            assert live_names() == [("Ana", "Lopez"), ("Ben", "Okafor")]
            assert restarted.test_client().get("/healthz").status_code == 200
        finally:
            db.session.remove()
            db.engine.dispose()


@pg_only
def test_restoring_a_postgresql_backup_into_a_new_database_gives_back_the_data(
    cli, make_contact, out, new_pg_database
):
    make_contact(first_name="Ana", last_name="Lopez")
    make_contact(first_name="Ben", last_name="Okafor")
    target = out / "crm.dump"
    assert cli("backup", str(target)).exit_code == 0
    make_contact(first_name="Cem", last_name="After")

    url = new_pg_database()  # createdb crm_restored
    pg_restore(target, url)  # pg_restore --no-owner -d crm_restored crm.dump
    restored = create_engine(url)
    try:
        with restored.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM contacts")) == 2
            assert [tuple(r) for r in connection.execute(text(_NAMES_SQL))] == [
                ("Ana", "Lopez"),
                ("Ben", "Okafor"),
            ]
            revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
            assert revision == live_revision()
    finally:
        restored.dispose()


@pg_only
def test_restoring_a_postgresql_backup_over_the_live_database_gives_back_the_data(
    cli, make_contact, out
):
    ana = make_contact(first_name="Ana", last_name="Lopez")
    target = out / "crm.dump"
    assert cli("backup", str(target)).exit_code == 0
    make_contact(first_name="Cem", last_name="After")
    ana.first_name = "Renamed"
    db.session.commit()

    url = db.engine.url
    db.session.remove()
    db.engine.dispose()  # the app stopped
    pg_restore(target, url, "--clean", "--if-exists")

    assert live_names() == [("Ana", "Lopez")]


# ---- --with-files --------------------------------------------------------------------------


def test_with_files_writes_an_archive_of_the_database_the_uploads_and_a_manifest(
    app, cli, make_contact, manager, out, tmp_path, names_in_backup
):
    ana = make_contact(manager, first_name="Ana", last_name="Lopez")
    bob = make_contact(manager, first_name="Bob", last_name="Trashed")
    bob.deleted_at = datetime.now(UTC)
    note = files.upload_file(manager, ana, "notes.txt", io.BytesIO(b"Call back on Monday.\n"))
    files.set_picture(manager, ana, "me.png", io.BytesIO(png()))
    db.session.commit()
    uploads = Path(app.instance_path) / "uploads"
    note_bytes = (uploads / "files" / note.stored_name).read_bytes()
    picture_bytes = (uploads / "pictures" / ana.picture).read_bytes()
    (Path(app.instance_path) / "secret_key").write_text("never-in-a-backup")
    target = out / "crm-backup.tar.gz"

    result = cli("backup", str(target), "--with-files")

    assert result.exit_code == 0, result.output
    assert f"Backed up the {LABEL} and 2 uploaded file(s) to {target}" in result.output
    assert os.listdir(out) == [target.name]
    assert target.stat().st_mode & 0o777 == 0o600
    with tarfile.open(target) as archive:
        assert set(archive.getnames()) == {
            "manifest.json",
            MEMBER,
            "uploads",
            "uploads/files",
            "uploads/pictures",
            f"uploads/files/{note.stored_name}",
            f"uploads/pictures/{ana.picture}",
        }
        assert archive.extractfile(f"uploads/files/{note.stored_name}").read() == note_bytes
        assert archive.extractfile(f"uploads/pictures/{ana.picture}").read() == picture_bytes
        manifest = json.loads(archive.extractfile("manifest.json").read())
        (tmp_path / "unpacked").mkdir()
        database = tmp_path / "unpacked" / MEMBER
        database.write_bytes(archive.extractfile(MEMBER).read())
    assert manifest["format"] == "contacts-crm backup 1"
    assert manifest["app_version"] == metadata.version("contacts-crm")
    assert manifest["alembic_revision"] == live_revision()
    assert manifest["database"] == KIND and manifest["database_file"] == MEMBER
    created = datetime.fromisoformat(manifest["created_at"])
    assert timedelta(0) <= datetime.now(UTC) - created < timedelta(minutes=1)
    assert manifest["contacts"] == {"total": 2, "deleted": 1}
    assert manifest["uploads"] == {"files": 2, "bytes": len(note_bytes) + len(picture_bytes)}
    assert manifest["check"].startswith(CHECK)
    assert names_in_backup(database) == [("Ana", "Lopez"), ("Bob", "Trashed")]


@sqlite_only
def test_restoring_with_files_as_the_readme_says_gives_back_the_uploads(
    app, cli, make_contact, manager, out
):
    ana = make_contact(manager, first_name="Ana", last_name="Lopez")
    note = files.upload_file(manager, ana, "notes.txt", io.BytesIO(b"Call back on Monday.\n"))
    db.session.commit()
    target = out / "crm-backup.tar.gz"
    assert cli("backup", str(target), "--with-files").exit_code == 0
    files.delete_file(manager, note.id)  # after the backup: the file and its bytes go
    db.session.commit()
    instance = Path(app.instance_path)
    assert not (instance / "uploads" / "files" / note.stored_name).exists()
    manager_id, note_id = manager.id, note.id

    db.session.remove()
    db.engine.dispose()  # the app stopped
    # rm -rf instance/uploads instance/crm.sqlite3-wal instance/crm.sqlite3-shm
    shutil.rmtree(instance / "uploads")
    for stale in ("crm.sqlite3-wal", "crm.sqlite3-shm"):
        (instance / stale).unlink(missing_ok=True)
    # tar -xzf crm-backup.tar.gz -C instance crm.sqlite3 uploads
    subprocess.run(  # noqa: S603
        ["tar", "-xzf", str(target), "-C", str(instance), "crm.sqlite3", "uploads"],  # noqa: S607
        check=True,
    )
    restarted = create_app(_restart_config(app))
    with restarted.app_context():
        try:
            actor = db.session.get(User, manager_id)
            found, path = files.open_file(actor, note_id)
            assert found.filename == "notes.txt"
            assert path.read_bytes() == b"Call back on Monday.\n"
        finally:
            db.session.remove()
            db.engine.dispose()


# ---- refusals: a message, a failure status, nothing written --------------------------------


def test_an_existing_file_is_kept_unless_force_is_given(cli, make_contact, out):
    make_contact(first_name="Ana", last_name="Lopez")
    target = out / f"crm{SUFFIX}"
    target.write_bytes(b"yesterday's backup")

    refused = cli("backup", str(target))

    assert refused.exit_code != 0
    assert f"Error: {target} exists: give --force to replace it." in refused.output
    assert target.read_bytes() == b"yesterday's backup"
    assert os.listdir(out) == [target.name]

    replaced = cli("backup", str(target), "--force")

    assert replaced.exit_code == 0, replaced.output
    assert target.read_bytes()[:5] == (b"PGDMP" if ON_PG else b"SQLit")
    assert os.listdir(out) == [target.name]


def test_a_missing_folder_is_refused(cli, tmp_path):
    target = tmp_path / "no-such-folder" / f"crm{SUFFIX}"

    result = cli("backup", str(target))

    assert result.exit_code != 0
    assert f"The folder {target.parent} does not exist: create it first." in result.output
    assert not target.parent.exists()


@sqlite_only
@pytest.mark.parametrize(
    ("spelling", "what"),
    [
        ("{live}", "the live database"),
        ("{link}/crm.sqlite3", "the live database"),
        ("{live}-wal", "the live database's write-ahead log"),
    ],
)
def test_the_live_database_itself_is_refused_even_with_force(
    cli, make_contact, tmp_path, spelling, what
):
    make_contact(first_name="Ana", last_name="Lopez")
    live = Path(db.engine.url.database)
    (tmp_path / "link").symlink_to(live.parent)
    before = live_names()
    target = spelling.format(live=live, link=tmp_path / "link")

    result = cli("backup", target, "--force")

    assert result.exit_code != 0
    assert f"Error: {target} is {what}: back up to another file." in result.output
    assert live_names() == before == [("Ana", "Lopez")]
    assert sqlite_names(live) == before
    assert not [name for name in os.listdir(live.parent) if name.endswith(".part")]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("crm.sqlite3", ["--with-files"], "With --with-files the backup is a .tar.gz archive"),
        ("crm.tar.gz", [], "is named like an archive, but without --with-files"),
    ],
)
def test_a_name_that_misleads_about_the_contents_is_refused(cli, out, name, options, message):
    result = cli("backup", str(out / name), *options)

    assert result.exit_code != 0
    assert message in result.output
    assert os.listdir(out) == []


def test_an_archive_inside_the_uploads_it_bundles_is_refused(app, cli):
    uploads = Path(app.instance_path) / "uploads"
    uploads.mkdir()

    result = cli("backup", str(uploads / "crm.tar.gz"), "--with-files")

    assert result.exit_code != 0
    assert "is inside the uploads folder it would bundle" in result.output
    assert os.listdir(uploads) == []


# ---- failures leave nothing behind ---------------------------------------------------------


@sqlite_only
def test_a_backup_failing_its_integrity_check_is_not_kept(cli, make_contact, out, monkeypatch):
    make_contact(first_name="Ana", last_name="Lopez")
    old = out / "crm.sqlite3"
    old.write_bytes(b"the previous backup")
    monkeypatch.setattr(
        backup, "integrity_problems", lambda _connection: ["row 3 missing from index ix_x"]
    )

    for target in (out / "new.sqlite3", old):
        result = cli("backup", str(target), "--force")

        assert result.exit_code == 1
        assert (
            "Error: The backup failed its integrity_check: row 3 missing from index ix_x"
            in result.output
        )
    assert os.listdir(out) == ["crm.sqlite3"]
    assert old.read_bytes() == b"the previous backup"


def _fake_pg_bin(tmp_path: Path, monkeypatch, script: str) -> Path:
    """Put a pg_dump shell script where the backup looks first (the newest version)."""
    folder = tmp_path / "postgresql" / "99" / "bin"
    folder.mkdir(parents=True)
    program = folder / "pg_dump"
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(0o755)
    monkeypatch.setattr(backup, "PG_BIN_FOLDERS", str(tmp_path / "postgresql" / "*" / "bin"))
    return folder


@pg_only
def test_pg_dump_failing_shows_its_message_and_keeps_nothing(cli, out, tmp_path, monkeypatch):
    _fake_pg_bin(
        tmp_path,
        monkeypatch,
        'echo "pg_dump: error: query failed: ERROR: permission denied for table contacts" >&2\n'
        "exit 1\n",
    )

    result = cli("backup", str(out / "crm.dump"))

    assert result.exit_code == 1
    assert (
        "Error: pg_dump failed: pg_dump: error: query failed: ERROR: permission denied for "
        "table contacts" in result.output
    )
    assert os.listdir(out) == []


@pg_only
def test_pg_dump_reports_a_real_failure_with_its_stderr(tmp_path):
    url = make_url(PG_URL).set(database="crm_no_such_database")

    with pytest.raises(backup.BackupError) as failed:
        backup.run_pg_dump(url, tmp_path / "x.dump")

    assert failed.value.message.startswith("pg_dump failed: pg_dump: error:")
    assert 'database "crm_no_such_database" does not exist' in failed.value.message


@pg_only
def test_a_missing_pg_dump_is_a_clear_error(cli, out, tmp_path, monkeypatch):
    monkeypatch.setattr(backup, "PG_BIN_FOLDERS", str(tmp_path / "nothing" / "*" / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path))

    result = cli("backup", str(out / "crm.dump"))

    assert result.exit_code == 1
    assert "Error: pg_dump was not found (on PATH or under /usr/lib/postgresql/*/bin)" in (
        result.output
    )
    assert os.listdir(out) == []


@pg_only
def test_the_password_reaches_pg_dump_in_its_environment_not_its_arguments(
    app, out, tmp_path, monkeypatch
):
    real = backup.find_pg_tool("pg_dump")
    seen = tmp_path / "seen"
    seen.mkdir()
    folder = _fake_pg_bin(
        tmp_path,
        monkeypatch,
        f'printf "%s\\n" "$@" > "{seen}/arguments"\n'
        f'printf "%s" "$PGPASSWORD" > "{seen}/password"\n'
        f'exec "{real}" "$@"\n',
    )
    (folder / "pg_restore").symlink_to(backup.find_pg_tool("pg_restore") or "/bin/false")
    # The test server trusts loopback, so it ignores the password pg_dump is given.
    with_password = make_url(app.config["DATABASE_URL"]).set(password="s3cret-Pw'd")
    config = _restart_config(app) | {
        "DATABASE_URL": with_password.render_as_string(hide_password=False)
    }
    other = create_app(config)
    with other.app_context():  # the CLI runs in the current app's context, if any
        try:
            result = other.test_cli_runner().invoke(args=["crm", "backup", str(out / "crm.dump")])
            assert db.engine.url.password == "s3cret-Pw'd"
        finally:
            db.engine.dispose()

    assert result.exit_code == 0, result.output
    assert (seen / "password").read_text() == "s3cret-Pw'd"
    arguments = (seen / "arguments").read_text()
    assert "s3cret" not in arguments and "s3cret" not in result.output
    assert "--format=custom" in arguments.splitlines()


# ---- finding pg_dump, building its command --------------------------------------------------


def test_the_newest_pg_dump_of_the_versioned_folders_is_preferred(tmp_path, monkeypatch):
    for version in ("9.6", "15", "16", "notaversion"):
        folder = tmp_path / "postgresql" / version / "bin"
        folder.mkdir(parents=True)
        (folder / "pg_dump").write_text("#!/bin/sh\n")
        (folder / "pg_dump").chmod(0o755)
    (tmp_path / "postgresql" / "17" / "bin").mkdir(parents=True)  # no pg_dump in it
    monkeypatch.setattr(backup, "PG_BIN_FOLDERS", str(tmp_path / "postgresql" / "*" / "bin"))

    assert backup.find_pg_tool("pg_dump") == str(tmp_path / "postgresql/16/bin/pg_dump")

    monkeypatch.setattr(backup, "PG_BIN_FOLDERS", str(tmp_path / "none" / "*" / "bin"))
    on_path = tmp_path / "path"
    on_path.mkdir()
    (on_path / "pg_dump").write_text("#!/bin/sh\n")
    (on_path / "pg_dump").chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path))
    assert backup.find_pg_tool("pg_dump") == str(on_path / "pg_dump")
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert backup.find_pg_tool("pg_dump") is None


def test_pg_dump_gets_the_password_in_pgpassword_never_on_its_command_line():
    url = make_url("postgresql+psycopg://o'neil:pa ss\\word@db.example:5433/crm?sslmode=require")

    command = backup.pg_dump_command("pg_dump", url, Path("/b/crm.dump"), snapshot="00000003-1")

    assert not any("pa ss" in part for part in command)
    assert command == [
        "pg_dump",
        "--format=custom",
        "--no-password",
        "--file=/b/crm.dump",
        "--snapshot=00000003-1",
        "--dbname=host='db.example' port='5433' user='o\\'neil' dbname='crm' sslmode='require'",
    ]
    assert backup.pg_environment(url)["PGPASSWORD"] == "pa ss\\word"
