"""Load test: the app served by gunicorn (several worker processes) on 127.0.0.1, against an
already seeded database, with BENCH_LOAD_USERS locust users (default 20) for
BENCH_LOAD_SECONDS (default 120); `python -m bench` runs it after each database's table
(BENCH_LOAD=0 skips it) and appends its section to that report.

    python -m bench.load --database-url URL --instance DIR [--report FILE]

Each user signs in as the bench's crm_manager and mixes list pages, sorts, filters, searches,
contact cards and edits (bench/locustfile.py). A few of them mostly edit the same few "hot"
contacts at once: each accepted save there adds one to a counter in the job title, so each hot
contact's counter read from the database at the end must equal its accepted saves (no lost
update). Refused saves (the stale-edit page) are conflicts, expected. Any 5xx, timeout,
connection error or unexpected page is an error: the run then fails (exit status 1) naming
them, with the tracebacks of the server's log.

Why locust: it drives real HTTP sessions with cookies, CSRF tokens and form posts, and its
users are greenlets in one client process (wrk cannot follow a sign-in and a form). Why
gunicorn's sync workers: one request at a time per process, so each process holds one
database connection; the app is CPU-bound Python (threads would share one core per process
under the GIL), and with SQLite's single writer, fewer simultaneous writers stay well inside
the 5 s busy timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.report import PROJECT, machine

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
HOT_CONTACTS = 3
STOP_TIMEOUT = 30  # seconds locust waits for users to finish the action under way
REQUEST_TIMEOUT = 30  # seconds a request may take before the client calls it an error
_COUNTER = re.compile(r"^load (\d+)$")
# Lines of gunicorn's log (the app's log included) that start a problem worth reporting.
_SERVER_PROBLEMS = (
    "Exception on ",
    "Traceback (most recent call last)",
    "WORKER TIMEOUT",
    "[ERROR]",
    "[CRITICAL]",
)
# gunicorn's access log: the request line, status, size and the time in the worker (µs).
ACCESS_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(D)s'
_ACCESS_TIME = re.compile(r'" (\d{3}) \S+ (\d+)$')
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


class LoadFailure(SystemExit):
    """The load test saw errors, lost updates, or could not run."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "").replace(",", "").strip()
    return int(raw) if raw else default


def enabled() -> bool:
    """Whether `python -m bench` runs the load test (BENCH_LOAD=0 skips it)."""
    return os.environ.get("BENCH_LOAD", "1") != "0"


@dataclass
class Settings:
    """How hard the load test pushes (the first three from the environment)."""

    users: int = field(default_factory=lambda: _env_int("BENCH_LOAD_USERS", 20))
    seconds: int = field(default_factory=lambda: _env_int("BENCH_LOAD_SECONDS", 120))
    workers: int = field(default_factory=lambda: _env_int("BENCH_LOAD_WORKERS", 4))
    hot_editors: int | None = None  # default: a quarter of the users, at least 2
    wait: tuple[float, float] = (0.0, 1.0)  # think time between two actions, seconds
    typing: tuple[float, float] = (0.2, 1.0)  # between opening an edit form and saving it

    @property
    def editors(self) -> int:
        wanted = self.hot_editors if self.hot_editors is not None else max(2, self.users // 4)
        return min(self.users, wanted)


@dataclass
class Kind:
    """The timings of one kind of request."""

    name: str
    times: list[float]
    errors: int = 0


@dataclass
class HotContact:
    """A contact several users edit at once: its job title counts the accepted saves."""

    id: int
    before: str | None
    after: str | None
    version_before: int
    version_after: int
    accepted: int
    conflicts: int

    @property
    def counted(self) -> int:
        return _counter(self.after) - _counter(self.before)

    @property
    def ok(self) -> bool:
        return self.counted == self.accepted


@dataclass
class LoadResult:
    dialect: str
    database: str
    contacts: int
    settings: Settings
    server: str
    kinds: list[Kind]
    seconds: float  # from the first request sent to the last answer
    errors: list[dict]
    accepted: int
    conflicts: int
    hot: list[HotContact]
    unknown_outcomes: int
    users: int
    server_log: list[str]  # tracebacks and worker failures from gunicorn's log
    client_notes: list[str]
    load_average: tuple[float, float]  # the machine's 1-minute load before and after the run
    in_workers: list[float]  # ms each request spent in a worker (gunicorn's access log)
    # Seconds during the run: the gunicorn workers on a CPU and waiting for one; locust's CPU.
    cpu: tuple[float, float, float]

    @property
    def requests(self) -> int:
        return sum(len(k.times) for k in self.kinds)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def problems(self) -> list[str]:
        """Why the run failed; empty when it passed."""
        out = []
        if self.errors:
            out.append(f"{len(self.errors)} failed request(s)")
        lost = [h for h in self.hot if not h.ok]
        for h in lost:
            out.append(
                f"lost update on contact {h.id}: its counter went {_counter(h.before)} -> "
                f"{_counter(h.after)} (+{h.counted}) for {h.accepted} accepted saves"
            )
        if self.unknown_outcomes:
            out.append(f"{self.unknown_outcomes} hot save(s) whose outcome was never seen")
        if self.users < self.settings.users:
            out.append(f"only {self.users} of {self.settings.users} users started")
        if self.server_log:
            out.append(f"{len(self.server_log)} error(s) in the server's log")
        if not self.requests:
            out.append("no request was made")
        return out


def _counter(value: str | None) -> int:
    found = _COUNTER.match((value or "").strip())
    return int(found.group(1)) if found else 0


def percentile(values: list[float], q: float) -> float:
    """Interpolated percentile (q in 0..1), as bench.measure does for its p95."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# ---- the plan: what the users ask for, read from the database --------------------------------
def make_plan(database_url: str, instance: Path, settings: Settings) -> dict[str, Any]:
    """Ids, search terms, filters and sorts from the seeded database (the filters are the
    list's whole filter menu, with the values bench.measure uses), and the hot contacts with
    their job title and version before the run."""
    from sqlalchemy import func, select

    from bench.measure import Bench
    from bench.seed import BENCH_EMAIL, BENCH_PASSWORD
    from crm.admin.contacts import columns as contact_columns
    from crm.models import Contact, Phone

    bench = Bench(database_url, instance, runs=1, log=lambda _m: None)
    facts = bench.facts()
    view = bench._contact_view()
    filters = bench._filter_values(view, facts)
    sorts = [
        index
        for index, column in enumerate(contact_columns.DEFAULT)
        if column in view._sortable_columns
    ]
    rng = random.Random(7)
    with bench.app.app_context():
        s = bench.db.session
        live = (Contact.deleted_at.is_(None), Contact.merged_into_id.is_(None))
        count = s.scalar(select(func.count()).select_from(Contact).where(*live))
        ids = s.scalars(select(Contact.id).where(*live).order_by(func.random()).limit(1200)).all()
        hot, contacts = list(ids[:HOT_CONTACTS]), list(ids[HOT_CONTACTS:])
        people = s.execute(
            select(Contact.first_name, Contact.last_name, Contact.email).where(
                Contact.id.in_(contacts[:200])
            )
        ).all()
        numbers = s.scalars(select(Phone.number).where(Phone.contact_id.in_(contacts[:200])))
        names = {"ith", "smi", "ana smi", "oyarzab"}
        for first, last, _ in people[:60]:
            word = (last if rng.random() < 0.7 else first or last or "").lower()
            if len(word) >= 3:
                size = rng.randint(3, min(5, len(word)))
                start = rng.randint(0, len(word) - size)
                names.add(word[start : start + size])
        phones = {"+49 30 1234", "030-1234"}
        for number in list(numbers)[:40]:
            typed = number[: rng.randint(6, 10)].strip()
            if sum(ch.isdigit() for ch in typed) >= 4:
                phones.add(typed)
        domains = sorted({e.rsplit("@", 1)[1].lower() for _, _, e in people if e and "@" in e})
        hot_rows = {
            row.id: (row.job_title, row.version)
            for row in s.execute(
                select(Contact.id, Contact.job_title, Contact.version).where(Contact.id.in_(hot))
            )
        }
        if bench.dialect == "sqlite":
            database = f"SQLite {sqlite3.sqlite_version} (WAL, busy timeout 5 s)"
        else:
            setting = {
                name: s.execute(select(func.current_setting(name))).scalar()
                for name in ("server_version", "fsync", "synchronous_commit")
            }
            database = (
                f"PostgreSQL {setting['server_version']} (fsync {setting['fsync']}, "
                f"synchronous_commit {setting['synchronous_commit']})"
            )
        s.remove()
        bench.db.engine.dispose()
    if len(hot) < HOT_CONTACTS or not contacts:
        raise LoadFailure("load: the database has too few contacts for the load test")
    return {
        "email": BENCH_EMAIL,
        "password": BENCH_PASSWORD,
        "contacts": contacts,
        "hot": hot,
        "hot_before": {str(i): hot_rows[i] for i in hot},
        "hot_editors": settings.editors,
        "pages": max(1, count // 20),
        "sorts": sorts or [0],
        "filters": filters,
        "names": sorted(names),
        "phones": sorted(phones),
        "domains": domains or ["example.com"],
        "wait": list(settings.wait),
        "typing": list(settings.typing),
        "timeout": REQUEST_TIMEOUT,
        "dialect": bench.dialect,
        "database": database,
        "count": count,
    }


def read_hot(database_url: str, ids: list[int]) -> dict[int, tuple[str | None, int]]:
    """The job title and version of the hot contacts now, straight from the database."""
    from sqlalchemy import bindparam, create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT id, job_title, version FROM contacts WHERE id IN :ids")
            query = query.bindparams(bindparam("ids", expanding=True))
            return {
                row.id: (row.job_title, row.version) for row in conn.execute(query, {"ids": ids})
            }
    finally:
        engine.dispose()


# ---- processes ----------------------------------------------------------------------------
def _stop(process: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM to the process group we started (gunicorn's master and its workers, or
    locust), SIGKILL after `grace` seconds."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=10)


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _excerpt(error_log: Path) -> str:
    """The first problem in gunicorn's log (a traceback, say) and its last lines."""
    problems = server_problems(error_log)
    first = "\n".join(problems[0].splitlines()[-60:]) + "\n...\n" if problems else ""
    return first + _tail(error_log, 15)


def start_server(
    database_url: str, instance: Path, workers: int, workdir: Path, log
) -> tuple[subprocess.Popen, str]:
    """gunicorn serving app:app with `workers` sync workers on a free port of 127.0.0.1
    (the kernel picks it: port 0); returns the process and the base URL once every worker
    has booted and /healthz answers 200. Raises LoadFailure with the server's log if not."""
    error_log = workdir / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CRM_INSTANCE_PATH": str(instance),
        "SECRET_KEY": secrets.token_hex(32),  # one for all workers: sessions work across them
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "gunicorn",
        "--workers", str(workers), "--worker-class", "sync",
        "--bind", "127.0.0.1:0",
        "--timeout", str(REQUEST_TIMEOUT), "--graceful-timeout", "10",
        "--error-logfile", str(error_log), "--capture-output", "--log-level", "info",
        "--access-logfile", str(workdir / "access.log"),
        "--access-logformat", ACCESS_FORMAT,
        "--chdir", str(PROJECT),
        "app:app",
    ]  # fmt: skip
    if _version_at_least("gunicorn", (25, 1)):  # its control socket: ours, not ~/.gunicorn's
        command[-1:-1] = ["--control-socket", str(workdir / "gunicorn.ctl")]
    log(f"load: starting gunicorn ({workers} sync workers) on 127.0.0.1")
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=PROJECT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=open(workdir / "gunicorn.out", "wb"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    url = None
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LoadFailure(
                    f"load: gunicorn exited with status {process.returncode} before serving; "
                    f"its log:\n{_excerpt(error_log)}\n{_tail(workdir / 'gunicorn.out', 20)}"
                )
            text_log = error_log.read_text(errors="replace") if error_log.exists() else ""
            found = _LISTENING.search(text_log)
            booted = text_log.count("Booting worker with pid")
            if found and booted >= workers:
                url = f"http://127.0.0.1:{found.group(1)}"
                status = _health(url)
                if status == 200:
                    return process, url
                if status is not None:  # it serves, but not the app: no point waiting
                    raise LoadFailure(
                        f"load: {url}/healthz answered {status}; the server's log:\n"
                        f"{_excerpt(error_log)}"
                    )
            time.sleep(0.25)
        raise LoadFailure(
            f"load: gunicorn did not serve {url or '(no port yet)'}/healthz within 90 s:\n"
            f"{_excerpt(error_log)}"
        )
    except BaseException:
        _stop(process, 10)
        raise


def _version_at_least(package: str, wanted: tuple[int, ...]) -> bool:
    parts = re.findall(r"\d+", version(package))[: len(wanted)]
    return tuple(int(p) for p in parts) >= wanted


def _stop_on_sigterm():
    """Make SIGTERM unwind this process (so the finally blocks stop gunicorn and locust, which
    run in their own sessions); returns the previous handler (None off the main thread)."""

    def terminated(signum, _frame):
        raise LoadFailure(f"load: stopped by signal {signum}")

    try:
        return signal.signal(signal.SIGTERM, terminated)
    except ValueError:  # not the main thread: signals cannot be handled here
        return None


def _workers_cpu(error_log: Path) -> tuple[float, float]:
    """Seconds the live gunicorn workers named in its log have spent so far on a CPU and
    waiting for one (runnable, but the cores were busy): /proc/PID/schedstat. Read before the
    server stops: a worker's numbers are gone once it exits."""
    text_log = error_log.read_text(errors="replace") if error_log.exists() else ""
    on_cpu = waiting = 0
    for pid in set(re.findall(r"Booting worker with pid: (\d+)", text_log)):
        try:
            ran, waited, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        on_cpu, waiting = on_cpu + int(ran), waiting + int(waited)
    return on_cpu / 1e9, waiting / 1e9


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _health(url: str) -> int | None:
    """/healthz's status, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def worker_times(access_log: Path) -> list[float]:
    """Milliseconds each request spent in a gunicorn worker (its access log's %(D)s)."""
    try:
        lines = access_log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found = (_ACCESS_TIME.search(line) for line in lines if "/healthz" not in line)
    return [int(m.group(2)) / 1000 for m in found if m]


def server_problems(error_log: Path) -> list[str]:
    """Tracebacks of the app ("Exception on ...") and failed or killed workers, from
    gunicorn's log (the app's log goes there through --capture-output)."""
    try:
        lines = error_log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        if current is not None and not line.startswith("["):  # a traceback's next line
            current.append(line)
        elif any(mark in line for mark in _SERVER_PROBLEMS):
            current = [line]
            found.append(current)
        else:
            current = None
    return ["\n".join(block) for block in found]


def run_locust(url: str, plan_path: Path, out_path: Path, settings: Settings, workdir: Path, log):
    """locust headless in a subprocess (gevent stays out of this process), bounded in time."""
    command = [
        sys.executable, "-m", "locust",
        "-f", str(LOCUSTFILE), "--headless", "--host", url,
        "--users", str(settings.users), "--spawn-rate", str(max(1, settings.users)),
        "--run-time", f"{settings.seconds}s", "--stop-timeout", str(STOP_TIMEOUT),
        "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_LOAD_PLAN": str(plan_path), "BENCH_LOAD_OUT": str(out_path)}
    log(f"load: {settings.users} locust users for {settings.seconds} s against {url}")
    locust_log = workdir / "locust.log"
    process = None
    try:
        with open(locust_log, "wb") as output:
            process = subprocess.Popen(  # noqa: S603
                command,
                cwd=PROJECT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                process.wait(timeout=settings.seconds + STOP_TIMEOUT + 120)
            except subprocess.TimeoutExpired:
                raise LoadFailure(
                    f"load: locust did not stop in time:\n{_tail(locust_log)}"
                ) from None
    finally:
        _stop(process, 15)
    if not out_path.exists():
        raise LoadFailure(
            f"load: locust wrote no results (exit status {process.returncode}):\n"
            f"{_tail(locust_log)}"
        )
    notes = []
    text_log = locust_log.read_text(errors="replace")
    if "CPU usage" in text_log:
        notes.append("locust warned that its CPU usage was high (client-bound numbers)")
    tracebacks = text_log.count("Traceback (most recent call last)")
    if tracebacks:
        notes.append(f"{tracebacks} traceback(s) in locust's log: {locust_log}")
    return json.loads(out_path.read_text()), notes


# ---- the whole run ------------------------------------------------------------------------
def run(
    database_url: str,
    instance: Path,
    settings: Settings | None = None,
    log=print,
    workdir: Path | None = None,
) -> LoadResult:
    """Serve the app with gunicorn, load it with locust, check the hot contacts."""
    settings = settings or Settings()
    own = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="crm-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"load: planning from the database ({workdir})")
    plan = make_plan(database_url, instance, settings)
    plan_path, out_path = workdir / "plan.json", workdir / "results.json"
    plan_path.write_text(json.dumps(plan))
    server = None
    load_before = os.getloadavg()[0]
    previous = _stop_on_sigterm()
    try:
        server, url = start_server(database_url, instance, settings.workers, workdir, log)
        server_cpu = _workers_cpu(workdir / "gunicorn.log")
        client_cpu = _children_cpu()
        data, notes = run_locust(url, plan_path, out_path, settings, workdir, log)
        client_cpu = _children_cpu() - client_cpu  # locust is the only child waited for
        ran, waited = _workers_cpu(workdir / "gunicorn.log")
        server_cpu = (ran - server_cpu[0], waited - server_cpu[1])
    finally:
        _stop(server, 20)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    after = read_hot(database_url, plan["hot"])
    errors_by_kind: dict[str, int] = {}
    for error in data["errors"]:
        errors_by_kind[error["kind"]] = errors_by_kind.get(error["kind"], 0) + 1
    kinds = [
        Kind(name, times, errors_by_kind.get(name, 0)) for name, times in data["times"].items()
    ]
    order = {name: i for i, name in enumerate(KIND_ORDER)}
    kinds.sort(key=lambda k: order.get(k.name, len(order)))
    hot = []
    for contact in plan["hot"]:
        title, version_before = plan["hot_before"][str(contact)]
        counts = data["hot"][str(contact)]
        title_after, version_after = after.get(contact, (None, version_before))
        hot.append(
            HotContact(
                contact,
                title,
                title_after,
                version_before,
                version_after,
                counts["accepted"],
                counts["conflicts"],
            )
        )
    window = data["window"]
    result = LoadResult(
        dialect=plan["dialect"],
        database=plan["database"],
        contacts=plan["count"],
        settings=settings,
        server=f"gunicorn {version('gunicorn')}, {settings.workers} sync workers, 127.0.0.1",
        kinds=kinds,
        seconds=(window[1] - window[0]) if window[0] is not None else 0.0,
        errors=data["errors"],
        accepted=data["saves"]["accepted"],
        conflicts=data["saves"]["conflicts"],
        hot=hot,
        unknown_outcomes=data["unknown_outcomes"],
        users=data["users"],
        server_log=server_problems(workdir / "gunicorn.log"),
        client_notes=notes,
        load_average=(load_before, os.getloadavg()[0]),
        cpu=(*server_cpu, client_cpu),
        in_workers=worker_times(workdir / "access.log"),
    )
    if own and not result.problems():
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    elif result.problems():
        result.client_notes.append(f"logs kept in {workdir}")
    return result


KIND_ORDER = (
    "sign-in page",
    "sign in",
    "list, first page",
    "list, another page",
    "list, sorted",
    "list, filtered",
    "search, name fragment",
    "search, phone fragment",
    "search, email domain",
    "contact details",
    "edit form",
    "save",
    "save (hot contact)",
    "list after a save",
)


# ---- the report ---------------------------------------------------------------------------
def _row(name: str, times: list[float], errors: int, seconds: float) -> str:
    rate = len(times) / seconds if seconds else 0.0
    return (
        f"| {name} | {len(times):,} | {rate:,.1f} | {percentile(times, 0.5):,.0f} "
        f"| {percentile(times, 0.95):,.0f} | {percentile(times, 0.99):,.0f} "
        f"| {max(times, default=0):,.0f} | {errors} |"
    )


def markdown(result: LoadResult) -> str:
    """The load test's section of the bench report (markdown)."""
    s = result.settings
    problems = result.problems()
    verdict = "**passed**" if not problems else "**FAILED**: " + "; ".join(problems)
    everything = [t for k in result.kinds for t in k.times]
    hot_lines = [
        f"  - contact {h.id}: job title {h.before or '(empty)'!r} -> {h.after or '(empty)'!r} "
        f"(+{h.counted}) for {h.accepted} accepted saves and {h.conflicts} conflicts; "
        f"version {h.version_before} -> {h.version_after}: "
        + ("no lost update" if h.ok else "**LOST UPDATE**")
        for h in result.hot
    ]
    lines = [
        f"## Load test: {s.users} users for {s.seconds} s, gunicorn with {s.workers} workers",
        "",
        f"- result: {verdict}",
        f"- server: {result.server}, serving `app:app`; database: {result.database}, "
        f"{result.contacts:,} contacts",
        f"- client: locust {version('locust')} headless on the same machine ({machine()}), "
        f"{result.users} users signed in as the bench's crm_manager, think time "
        f"{s.wait[0]:g}-{s.wait[1]:g} s between actions; {s.editors} of them mostly edit the "
        f"same {len(result.hot)} contacts (their job title counts the accepted saves), the "
        f"others browse, search, open contacts and now and then edit one; an edit waits "
        f"{s.typing[0]:g}-{s.typing[1]:g} s between opening the form and saving it; the "
        f"machine's load average was {result.load_average[0]:.1f} before the run and "
        f"{result.load_average[1]:.1f} at its end",
        f"- throughput: {result.rps:,.1f} requests a second ({result.requests:,} requests in "
        f"{result.seconds:,.1f} s, from the first request sent to the last answer)",
        f"- CPU: the gunicorn workers ran {result.cpu[0]:,.1f} s on a CPU "
        f"({result.cpu[0] * 1000 / max(1, result.requests):,.0f} ms a request"
        + (", the database server's own not counted" if result.dialect != "sqlite" else "")
        + f") and waited {result.cpu[1]:,.1f} s for one (runnable while the cores were busy: "
        f"/proc/PID/schedstat); locust used {result.cpu[2]:,.1f} s; in {result.seconds:,.0f} s "
        f"on {os.cpu_count()} cores",
        f"- time in a worker (gunicorn's access log, all requests): median "
        f"{percentile(result.in_workers, 0.5):,.0f} ms, p95 "
        f"{percentile(result.in_workers, 0.95):,.0f} ms, p99 "
        f"{percentile(result.in_workers, 0.99):,.0f} ms; the rest of the latency below is "
        "waiting for a free worker and the way through the network stack and the client",
        f"- errors: {len(result.errors)} (5xx, timeouts, connection errors, unexpected pages)",
        f"- saves: {result.accepted:,} accepted, {result.conflicts:,} conflicts (refused: the "
        f"page said someone else had saved the contact meanwhile)",
        "- hot contacts:",
        *hot_lines,
        "",
        "| request | count | per s | median ms | p95 ms | p99 ms | max ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(_row(k.name, k.times, k.errors, result.seconds) for k in result.kinds),
        _row("**all**", everything, len(result.errors), result.seconds),
        "",
        "Latency is measured by the client: from sending the request to the last byte of the "
        "answer, queueing for a free worker included. A save's redirect is followed (\"list "
        'after a save") to read its success message.',
    ]
    if result.errors:
        lines += ["", "### Errors", ""]
        seen: dict[tuple, list[dict]] = {}
        for error in result.errors:
            key = (error["kind"], error["status"], error["problem"][:120])
            seen.setdefault(key, []).append(error)
        for (kind, status, _), group in sorted(seen.items(), key=lambda kv: -len(kv[1]))[:30]:
            first = group[0]
            lines.append(
                f"- {len(group)} x {kind}: {first['method']} `{first['url']}` -> {status}: "
                f"{first['problem']}"
            )
    if result.server_log:
        lines += ["", "### The server's log", ""]
        for block in result.server_log[:10]:
            lines += ["```", block[-4000:], "```"]
        if len(result.server_log) > 10:
            lines.append(f"... and {len(result.server_log) - 10} more")
    if result.client_notes:
        lines += ["", *(f"- note: {n}" for n in result.client_notes)]
    return "\n".join(lines) + "\n"


def run_and_report(
    database_url: str,
    instance: Path,
    report: Path | None = None,
    log=print,
    settings: Settings | None = None,
) -> LoadResult:
    """Run the load test, print its section, append it to `report` (the bench's markdown
    file) when given; raises LoadFailure (exit status 1) naming the problems."""
    result = run(database_url, instance, settings, log=log)
    text = markdown(result)
    log("")
    log(text)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        with open(report, "a") as handle:
            handle.write("\n" + text)
        log(f"load test appended to {report}")
    problems = result.problems()
    if problems:
        details = [
            f"  {e['kind']}: {e['method']} {e['url']} -> {e['status']}: {e['problem']}"
            for e in result.errors[:20]
        ]
        raise LoadFailure("load test failed: " + "; ".join(problems) + "\n" + "\n".join(details))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="Load-test the app served by gunicorn, against an already seeded database.",
    )
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL of the database")
    parser.add_argument(
        "--instance", required=True, type=Path, help="the instance folder (CRM_INSTANCE_PATH)"
    )
    parser.add_argument("--users", type=int, default=None, help="BENCH_LOAD_USERS, default 20")
    parser.add_argument("--seconds", type=int, default=None, help="BENCH_LOAD_SECONDS, default 120")
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers (BENCH_LOAD_WORKERS, 4)"
    )
    parser.add_argument("--report", type=Path, default=None, help="append the section here")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = Settings()
    for name in ("users", "seconds", "workers"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    if settings.users < 1 or settings.seconds < 1 or settings.workers < 1:
        parser.error("users, seconds and workers must be at least 1")
    log = lambda message: print(message, flush=True)  # noqa: E731
    run_and_report(args.database_url, args.instance.resolve(), args.report, log, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
