"""The small-database section of `make bench`: the demo's size, where most people first meet
the app.

A throwaway database (SQLite; PostgreSQL too when the bench's PostgreSQL run is on) is
migrated and filled exactly as `make run` fills an empty one: `flask crm bootstrap` (the
roles, the first administrator, then `load_demo` with its 300 contacts, their lists, sales
and card activity, addresses located by the default geocoder). Signed in as that
administrator (the person who opens the demo), it times the pages a person opens first,
like the big cases (one warm-up, then the runs; median and 95th percentile), and weighs
each answer (its bytes: the HTML the server sends, without the scripts and styles the
browser caches). The plain Flask-Admin ModelView (bench/plain.py) answers the list's first
page on the same database, for the ratio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import Bench, BenchFailure, Result
from bench.seed import HASH_METHOD

DEMO_CONTACTS = 300  # what `flask crm bootstrap` loads (its --demo-contacts default)
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "small-bench-password-1"  # noqa: S105 - a throwaway database's administrator

# The goals at the demo's size (issue 20, "Speed"), by case name: ms median, KB.
GOALS: dict[str, tuple[float, float]] = {"list, first page": (30, 60)}


@dataclass
class SmallRun:
    """One database's small section: its results and the plain list beside them."""

    dialect: str
    contacts: int
    seconds: float
    results: list[Result] = field(default_factory=list)
    plain: Any = None  # the plain app's PlainResult of the list's first page, if measured


def small_config(database_url: str, instance: Path) -> dict[str, Any]:
    """The app's settings for the demo database: the defaults (`make run`'s), but a cheap
    password hash (the bench signs in) and a throwaway instance folder."""
    return {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "small-bench-secret-key",
        "CRM_PASSWORD_HASH_METHOD": HASH_METHOD,
        "FLASK_ADMIN_RAISE_ON_VIEW_EXCEPTION": True,
    }


def load(database_url: str, instance: Path, log=print) -> tuple[int, float]:
    """Migrate the empty database and run `flask crm bootstrap` on it, as `make run` does;
    returns (contacts, seconds)."""
    import time

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from crm import create_app
    from crm.extensions import db
    from crm.models import Contact

    started = time.perf_counter()
    app = create_app(small_config(database_url, instance))
    with app.app_context():
        upgrade()
    saved = {k: os.environ.get(k) for k in ("CRM_ADMIN_PASSWORD", "CRM_DEMO")}
    os.environ.update(CRM_ADMIN_PASSWORD=ADMIN_PASSWORD, CRM_DEMO="1")
    try:
        result = app.test_cli_runner().invoke(args=["crm", "bootstrap"])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if result.exit_code != 0 or "demo contacts" not in result.output:
        raise BenchFailure(f"bench: the demo did not load:\n{result.output}\n{result.exception}")
    with app.app_context():
        contacts = db.session.scalar(select(func.count()).select_from(Contact))
        db.session.remove()
        db.engine.dispose()
    seconds = time.perf_counter() - started
    log(f"demo loaded: {contacts} contacts in {seconds:.1f} s (migrations, flask crm bootstrap)")
    return contacts, seconds


def demo_contact(bench: Bench) -> int:
    """A demo contact with a located address (its card draws the map) and the most
    activity among those: the fullest card of the demo."""
    from sqlalchemy import func, select

    from crm.models import Address, Contact, Interaction, Note

    with bench.app.app_context():
        s = bench.db.session
        located = (
            select(Address.contact_id)
            .where(Address.latitude.is_not(None), Address.longitude.is_not(None))
            .scalar_subquery()
        )
        activity = (
            select(func.count()).where(Note.contact_id == Contact.id).scalar_subquery()
            + select(func.count()).where(Interaction.contact_id == Contact.id).scalar_subquery()
        )
        chosen = s.scalar(
            select(Contact.id)
            .where(Contact.deleted_at.is_(None), Contact.id.in_(located))
            .order_by(activity.desc(), Contact.id)
            .limit(1)
        )
        s.remove()
    if chosen is None:
        raise BenchFailure("bench: no demo contact has a located address (the map)")
    return chosen


def run(database_url: str, instance: Path, runs: int, plain: bool, log=print) -> SmallRun:
    """Load the demo into the empty database at `database_url` and time its pages."""
    contacts, seconds = load(database_url, instance, log=log)
    bench = Bench(
        database_url,
        instance,
        runs=runs,
        log=log,
        config=small_config(database_url, instance),
        email=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
    )
    small = SmallRun(bench.dialect, contacts, seconds)
    bench.login()
    contact = demo_contact(bench)
    log(f"{bench.dialect}, the demo's {contacts} contacts: {runs} runs per case")
    for name, url in (
        ("list, first page", "/admin/contact/"),
        ("contact card (address and map)", f"/admin/contact/details/?id={contact}"),
        ("contact edit form", f"/admin/contact/edit/?id={contact}"),
        ("dashboard", "/admin/"),
        ("accounts list", "/admin/account/"),
    ):
        bench.time_get(name, url)
    small.results = bench.results
    if plain:
        from bench.plain import PlainBench

        other = PlainBench(database_url, bench, runs=runs, log=log)
        small.plain = other.time_get("list, first page", "/admin/contact/")
        if small.plain is not None:
            small.plain.size = len(other.client.get("/admin/contact/").get_data())
    with bench.app.app_context():
        bench.db.session.remove()
        bench.db.engine.dispose()
    return small


def table(small: SmallRun) -> str:
    """The section as markdown: each case's median, p95 and weight beside the goals, and the
    plain ModelView's first page for the ratio."""
    title = "SQLite" if small.dialect == "sqlite" else "PostgreSQL"
    lines = [
        f"## Small database: the demo ({small.contacts} contacts, {title})",
        "",
        f"Loaded as `make run` loads it (`flask crm bootstrap`) in {small.seconds:.1f} s; "
        "signed in as its administrator. CPU ms: the median processor time the process spent "
        "per run (the app's work and the test client's), less disturbed than the wall time by "
        "other programs on a busy machine. KB: the response's bytes (the HTML; scripts and "
        "styles are cached files).",
        "",
        "| case | median ms | p95 ms | CPU ms | KB | goal | SQL statements | result |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in small.results:
        goal = GOALS.get(r.name)
        verdict = ""
        if goal:
            met = r.median <= goal[0] and r.size / 1024 <= goal[1]
            verdict = f"≤ {goal[0]:g} ms, ≤ {goal[1]:g} KB: {'met' if met else 'NOT met'}"
        lines.append(
            f"| {r.name} | {r.median:,.1f} | {r.p95:,.1f} | {_cpu(r)} | {r.size / 1024:,.1f} "
            f"| {verdict} | {r.statements} | {r.outcome} |"
        )
    p = small.plain
    if p is not None:
        ours = next((r for r in small.results if r.name == p.name), None)
        ratio = f"; ours / plain {ours.median / p.median:.1f}× the time" if ours else ""
        lines.append(
            f"| plain ModelView: {p.name} | {p.median:,.1f} | {p.p95:,.1f} | {_cpu(p)} "
            f"| {p.size / 1024:,.1f} | | {p.statements} | {p.outcome}{ratio} |"
        )
    return "\n".join(lines)


def _cpu(result: Result) -> str:
    return f"{result.cpu_ms:,.1f}" if result.cpu_ms is not None else ""
