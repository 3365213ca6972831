"""Consistent backups of the live database (`flask --app app crm backup FILE`), taken while the
app runs and writes.

- SQLite: SQLite's online backup API (`sqlite3.Connection.backup`) copies the live file in
  steps of `PAGES_PER_STEP` pages. The source connection holds one read transaction for the
  whole copy: in WAL mode (the app's) that is a snapshot which writers never wait for, and
  the copy is that snapshot, page for page (without it, every commit made by another
  connection would restart the copy, forever under a steady writer). The copy is switched to
  the rollback journal (`journal_mode=DELETE`): one self-contained file, no -wal or -shm.
  `PRAGMA integrity_check` must answer "ok" on it, else the backup fails.
- PostgreSQL: `pg_dump --format=custom` (the newest under /usr/lib/postgresql/*/bin, else the
  one on PATH), given the password in PGPASSWORD, never on its command line. It dumps the
  snapshot of a transaction held open here (`pg_export_snapshot`), so the counts reported
  are those of the dump; `pg_restore --list` must then read the file.

Either way the backup is written beside FILE under a hidden temporary name and renamed to
FILE only when complete and checked: a failed backup leaves nothing under FILE (and an
existing FILE, replaced with `force`, stays as it was). The file is readable by its owner
only: it holds every contact and the users' password hashes.

`with_files`: FILE is a gzip-compressed tar archive (.tar.gz or .tgz) of
- `manifest.json`: format, app version, Alembic revision, database kind, creation time (UTC),
  contact counts, uploads counted, the check passed;
- the database backup: `crm.sqlite3` (SQLite) or `crm.dump` (PostgreSQL, custom format);
- `uploads/`: the instance's uploads folder (contacts' files and pictures, see
  `crm.services.card.files`), read after the database snapshot: a file uploaded meanwhile is an
  unused extra, a file deleted meanwhile is missing (its row says it exists).
Its names are those of the instance folder, so for SQLite `tar -xzf FILE -C instance
crm.sqlite3 uploads` restores both (README, "Backup and restore").

The secret key (`instance/secret_key`) is never included: it would let anyone holding the
backup forge sessions. Export jobs' and imports' files under the instance are not included.
Nothing here commits or touches the ORM session.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError

from crm.errors import DomainError
from crm.extensions import db
from crm.services.card import files

# Pages copied per backup step (4 MiB at SQLite's default 4 KiB page).
PAGES_PER_STEP = 1024
# Where Debian and Ubuntu keep each PostgreSQL version's programs; the newest is preferred.
PG_BIN_FOLDERS = "/usr/lib/postgresql/*/bin"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
SQLITE_MEMBER = "crm.sqlite3"
PG_DUMP_MEMBER = "crm.dump"
MANIFEST_MEMBER = "manifest.json"
MANIFEST_FORMAT = "contacts-crm backup 1"

Progress = Callable[[int, int], None]  # (pages copied, pages in all), SQLite only


class BackupError(DomainError):
    """The backup was refused or failed; nothing was written under the target name."""


@dataclass(frozen=True)
class Snapshot:
    """What the backed-up database holds, read from the backup's own snapshot."""

    contacts: int | None  # every contact row; None before the schema exists
    deleted_contacts: int | None  # in the trash or merged away
    alembic_revision: str | None


@dataclass(frozen=True)
class BackupResult:
    """What a backup wrote, for the command to report."""

    path: Path
    size: int  # bytes of FILE
    seconds: float
    database: str  # "sqlite" or "postgresql"
    check: str  # the check the backup passed, as shown to the user
    snapshot: Snapshot
    uploads: int | None = None  # files bundled (with_files), else None
    manifest: dict[str, Any] = field(default_factory=dict)  # with_files only


# ---- the entry point -----------------------------------------------------------------------
def create_backup(
    target: str | Path,
    *,
    force: bool = False,
    with_files: bool = False,
    pages_per_step: int = PAGES_PER_STEP,
    progress: Progress | None = None,
) -> BackupResult:
    """Back up the app's database (and with `with_files` its uploads) to `target`.

    Raises BackupError, writing nothing under `target`, when it is refused (see
    `check_target`) or fails."""
    started = time.monotonic()
    engine = db.engine
    kind = database_kind(engine.url)
    target = Path(target).expanduser()
    live = sqlite_path(engine.url) if kind == "sqlite" else None
    uploads = files.uploads_root()
    check_target(target, force=force, live_database=live, with_files=with_files, uploads=uploads)

    with _partial(target) as partial:
        if not with_files:
            snapshot, check = _backup_database(kind, engine, partial, pages_per_step, progress)
            bundled, manifest = None, {}
        else:
            inner = partial.with_name(partial.name + ".d")
            inner.mkdir(mode=0o700)
            try:
                member = SQLITE_MEMBER if kind == "sqlite" else PG_DUMP_MEMBER
                database_file = inner / member
                snapshot, check = _backup_database(
                    kind, engine, database_file, pages_per_step, progress
                )
                bundled, manifest = _write_archive(
                    partial, database_file, uploads, _manifest(kind, member, snapshot, check)
                )
            finally:
                shutil.rmtree(inner, ignore_errors=True)
        _sync(partial)
        partial.replace(target)
        _sync_folder(target.parent)
    return BackupResult(
        path=target,
        size=target.stat().st_size,
        seconds=time.monotonic() - started,
        database=kind,
        check=check,
        snapshot=snapshot,
        uploads=bundled,
        manifest=manifest,
    )


def database_kind(url: URL) -> str:
    """The database's kind, "sqlite" or "postgresql"; BackupError for any other."""
    backend = url.get_backend_name()
    if backend in ("sqlite", "postgresql"):
        return backend
    raise BackupError(f"Backups support SQLite and PostgreSQL databases, not {backend}.")


def sqlite_path(url: URL) -> Path:
    """The live SQLite database file, absolute with links resolved."""
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError("Only an SQLite database in a file can be backed up.")
    return Path(name).expanduser().resolve()


def check_target(
    target: Path,
    *,
    force: bool,
    live_database: Path | None,
    with_files: bool,
    uploads: Path,
) -> None:
    """Refuse a target that would lose data or mislead (BackupError, a message to show)."""
    archive = target.name.lower().endswith(ARCHIVE_SUFFIXES)
    if with_files and not archive:
        raise BackupError(
            f"With --with-files the backup is a .tar.gz archive: name it so "
            f"(e.g. {target.name}.tar.gz)."
        )
    if archive and not with_files:
        raise BackupError(
            f"{target} is named like an archive, but without --with-files the backup is a "
            "database file: give --with-files, or another name."
        )
    resolved = target.resolve()
    if live_database is not None:
        for suffix, what in (
            ("", "the live database"),
            ("-wal", "the live database's write-ahead log"),
            ("-shm", "the live database's shared-memory file"),
            ("-journal", "the live database's journal"),
        ):
            live = live_database.with_name(live_database.name + suffix)
            if resolved == live or (target.exists() and live.exists() and target.samefile(live)):
                raise BackupError(f"{target} is {what}: back up to another file.")
    if with_files and resolved.is_relative_to(uploads.resolve()):
        raise BackupError(f"{target} is inside the uploads folder it would bundle.")
    folder = target.parent
    if not folder.is_dir():
        raise BackupError(f"The folder {folder} does not exist: create it first.")
    if target.is_dir():
        raise BackupError(f"{target} is a folder: name a file.")
    if target.exists() and not force:
        raise BackupError(f"{target} exists: give --force to replace it.")


# ---- writing beside the target ------------------------------------------------------------
@contextlib.contextmanager
def _partial(target: Path) -> Iterator[Path]:
    """A new empty file beside `target` (owner-only), removed again unless renamed."""
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BackupError(f"Cannot write in {target.parent}: {exc.strerror}.") from None
    os.close(descriptor)
    try:
        yield partial
    except OSError as exc:
        raise BackupError(f"The backup failed: {exc}") from None
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            partial.with_name(partial.name + suffix).unlink(missing_ok=True)


def _sync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (where folders can be opened: not on Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _backup_database(
    kind: str, engine: Engine, dest: Path, pages_per_step: int, progress: Progress | None
) -> tuple[Snapshot, str]:
    if kind == "sqlite":
        return backup_sqlite(
            sqlite_path(engine.url), dest, pages_per_step=pages_per_step, progress=progress
        )
    return backup_postgresql(engine, dest)


# ---- SQLite ---------------------------------------------------------------------------------
def backup_sqlite(
    source: Path,
    dest: Path,
    *,
    pages_per_step: int = PAGES_PER_STEP,
    progress: Progress | None = None,
) -> tuple[Snapshot, str]:
    """Copy the live SQLite database `source` into `dest` (an empty or new file): one
    consistent snapshot, self-contained, checked. Returns (what it holds, the check)."""
    if not source.is_file():
        raise BackupError(f"The database file {source} does not exist.")
    busy_ms = int(current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", 5000))
    try:
        src = sqlite3.connect(
            f"{source.as_uri()}?mode=rw", uri=True, isolation_level=None, timeout=busy_ms / 1000
        )
    except sqlite3.Error as exc:
        raise BackupError(f"Cannot open the database {source}: {exc}") from None
    try:
        in_wal = src.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        if in_wal:
            # One read transaction for the whole copy: a WAL snapshot, which writers do not
            # wait for, and which the backup then copies without restarting.
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        dst = sqlite3.connect(dest, isolation_level=None)
        try:

            def report(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            src.backup(dst, pages=max(1, pages_per_step), progress=report)
            # The copy carries the source's WAL flag: make it one plain file.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"The SQLite backup failed: {exc}") from None
    finally:
        src.close()
    return _check_sqlite_copy(dest)


def _check_sqlite_copy(path: Path) -> tuple[Snapshot, str]:
    """integrity_check the copy (BackupError unless "ok") and read what it holds."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        problems = integrity_problems(connection)
        if problems:
            shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
            raise BackupError(f"The backup failed its integrity_check: {shown}")
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema")}
        snapshot = _read_snapshot(lambda sql: connection.execute(sql).fetchall(), tables)
    finally:
        connection.close()
    for suffix in ("-wal", "-journal"):
        if path.with_name(path.name + suffix).exists():
            raise BackupError(f"The backup is not self-contained (a {suffix} file remains).")
    return snapshot, "integrity_check ok"


def integrity_problems(connection: sqlite3.Connection) -> list[str]:
    """`PRAGMA integrity_check`'s findings: empty when it answers "ok"."""
    rows = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def _read_snapshot(query: Callable[[str], list[Any]], tables: set[str]) -> Snapshot:
    contacts = deleted = revision = None
    if "contacts" in tables:
        contacts, deleted = query("SELECT count(*), count(deleted_at) FROM contacts")[0]
    if "alembic_version" in tables:
        revision = ",".join(
            sorted(row[0] for row in query("SELECT version_num FROM alembic_version"))
        )
    return Snapshot(contacts=contacts, deleted_contacts=deleted, alembic_revision=revision or None)


# ---- PostgreSQL -----------------------------------------------------------------------------
def find_pg_tool(name: str) -> str | None:
    """The newest `name` (pg_dump, pg_restore) under PG_BIN_FOLDERS, else the one on PATH."""

    def version(folder: str) -> tuple[int, ...]:
        number = Path(folder).parent.name
        return (
            tuple(int(part) for part in number.split("."))
            if re.fullmatch(r"[\d.]+", number)
            else ()
        )

    for folder in sorted(glob.glob(PG_BIN_FOLDERS), key=version, reverse=True):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def libpq_conninfo(url: URL) -> str:
    """The URL as a libpq keyword/value string, without the password (for --dbname)."""
    parts: dict[str, str] = {}
    if url.host:
        parts["host"] = url.host
    if url.port:
        parts["port"] = str(url.port)
    if url.username:
        parts["user"] = url.username
    if url.database:
        parts["dbname"] = url.database
    for key, value in url.query.items():  # sslmode, options, ...: libpq's own keywords
        parts[key] = value[-1] if isinstance(value, tuple) else value
    parts.pop("password", None)

    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{key}={quoted(value)}" for key, value in parts.items())


def pg_environment(url: URL) -> dict[str, str]:
    """The environment for pg_dump and pg_restore: ours, plus the URL's password."""
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    environment.setdefault("PGAPPNAME", "crm backup")
    return environment


def pg_dump_command(pg_dump: str, url: URL, dest: Path, snapshot: str | None = None) -> list[str]:
    """pg_dump's arguments (never the password: that goes in PGPASSWORD)."""
    command = [pg_dump, "--format=custom", "--no-password", f"--file={dest}"]
    if snapshot:
        command.append(f"--snapshot={snapshot}")
    return [*command, f"--dbname={libpq_conninfo(url)}"]


def run_pg_dump(url: URL, dest: Path, snapshot: str | None = None) -> None:
    """Dump the database `url` to `dest` in pg_dump's custom format; BackupError when
    pg_dump is missing or fails (with what it wrote to stderr)."""
    pg_dump = find_pg_tool("pg_dump")
    if pg_dump is None:
        raise BackupError(
            "pg_dump was not found (on PATH or under /usr/lib/postgresql/*/bin): install "
            "PostgreSQL's client programs (Debian: apt-get install postgresql-client)."
        )
    try:
        done = subprocess.run(  # noqa: S603 - our arguments, no shell
            pg_dump_command(pg_dump, url, dest, snapshot),
            env=pg_environment(url),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise BackupError(f"pg_dump ({pg_dump}) could not run: {exc}") from None
    if done.returncode != 0:
        details = done.stderr.strip() or f"exit status {done.returncode}"
        raise BackupError(f"pg_dump failed: {details}")


def pg_restore_list(path: Path) -> int | None:
    """How many entries `pg_restore --list` reads from `path`; None without pg_restore.
    BackupError when it cannot read the file."""
    pg_restore = find_pg_tool("pg_restore")
    if pg_restore is None:
        return None
    done = subprocess.run(  # noqa: S603 - our arguments, no shell
        [pg_restore, "--list", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        details = done.stderr.strip() or f"exit status {done.returncode}"
        raise BackupError(f"pg_restore cannot read the dump: {details}")
    return sum(1 for line in done.stdout.splitlines() if line and not line.startswith(";"))


def backup_postgresql(engine: Engine, dest: Path) -> tuple[Snapshot, str]:
    """pg_dump the app's PostgreSQL database into `dest`, from a snapshot whose contacts are
    counted in the same transaction. Returns (what it holds, the check)."""
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot_id = connection.scalar(text("SELECT pg_export_snapshot()"))
                tables = set(
                    connection.scalars(
                        text(
                            "SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = current_schema()"
                        )
                    )
                )
                snapshot = _read_snapshot(lambda sql: list(connection.execute(text(sql))), tables)
                # pg_dump imports the snapshot: this transaction stays open until it is done.
                run_pg_dump(engine.url, dest, snapshot=snapshot_id)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip()
        raise BackupError(f"Cannot read the database: {reason}") from None
    entries = pg_restore_list(dest)
    check = (
        f"pg_restore --list read it ({entries} entries)"
        if entries is not None
        else "not checked (pg_restore not found)"
    )
    return snapshot, check


# ---- with the uploads ---------------------------------------------------------------------
def _app_version() -> str:
    try:
        return metadata.version("contacts-crm")
    except metadata.PackageNotFoundError:
        return "unknown"


def _manifest(kind: str, member: str, snapshot: Snapshot, check: str) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "app_version": _app_version(),
        "alembic_revision": snapshot.alembic_revision,
        "database": kind,
        "database_file": member,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "contacts": {"total": snapshot.contacts, "deleted": snapshot.deleted_contacts},
        "check": check,
    }


def _write_archive(
    archive: Path, database_file: Path, uploads: Path, manifest: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Write the .tar.gz: the database, the uploads, then the manifest (which counts the
    uploads really archived). Returns (uploads archived, the manifest)."""
    files = total = 0
    with archive.open("wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
        database_file.chmod(0o600)  # as the plain backup: it holds password hashes
        tar.add(database_file, arcname=database_file.name, recursive=False)
        for path in _upload_tree(uploads):
            try:
                info = tar.gettarinfo(path, arcname=_member_name(uploads, path))
                if info.isfile():
                    with path.open("rb") as handle:
                        tar.addfile(info, handle)
                    files, total = files + 1, total + info.size
                else:
                    tar.addfile(info)
            except FileNotFoundError:  # deleted since the walk: its row is gone too
                continue
        manifest = {**manifest, "uploads": {"files": files, "bytes": total}}
        body = (json.dumps(manifest, indent=2) + "\n").encode()
        info = tarfile.TarInfo(MANIFEST_MEMBER)
        info.size, info.mtime, info.mode = len(body), int(time.time()), 0o600
        tar.addfile(info, io.BytesIO(body))
    return files, manifest


def _member_name(uploads: Path, path: Path) -> str:
    relative = path.relative_to(uploads).as_posix()
    folder = files.UPLOADS_FOLDER
    return folder if relative == "." else f"{folder}/{relative}"


def _upload_tree(uploads: Path) -> Iterator[Path]:
    """The uploads folder, its folders and its regular files (no links), in name order."""
    if not uploads.is_dir():
        return
    for root, folders, names in os.walk(uploads):
        folders.sort()
        yield Path(root)
        for name in sorted(names):
            path = Path(root) / name
            if not path.is_symlink():
                yield path
