"""The results as a markdown table, with the machine and software they were measured on."""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import subprocess
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.measure import Result, Statement

PROJECT = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration):
        ram = "unknown RAM"
    return f"{cpu}, {os.cpu_count()} cores, {ram}; {platform.system()} {platform.release()}"


def software() -> str:
    names = ("flask", "flask-admin", "sqlalchemy", "flask-sqlalchemy", "psycopg")
    parts = [f"Python {platform.python_version()}"]
    for name in names:
        try:
            parts.append(f"{name} {version(name)}")
        except Exception:  # noqa: BLE001, S112 - a missing optional package is just not listed
            continue
    return ", ".join(parts)


def revision() -> str:
    """The commit measured, and whether the tree had uncommitted changes (read-only git);
    BENCH_REVISION names it when the code is not a git checkout (a snapshot)."""
    if os.environ.get("BENCH_REVISION"):
        return os.environ["BENCH_REVISION"]
    try:
        head = subprocess.run(  # noqa: S603
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            ["git", "status", "--porcelain", "--", "crm", "migrations", "templates"],  # noqa: S607
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return f"commit {head}" + (" with uncommitted changes in crm/ or migrations/" if dirty else "")


def database_version(dialect: str, server_version: str | None) -> str:
    if dialect == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    return f"PostgreSQL {server_version}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(results: list[Result]) -> str:
    lines = [
        "| case | URL | median ms | p95 ms | result |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {_cell(r.name)} | `{_cell(r.url)}` | {r.median:,.1f} | {r.p95:,.1f} "
            f"| {_cell(r.outcome)} |"
        )
    return "\n".join(lines)


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×" if ratio >= 1 else f"{ratio:.2f}×"


def comparison(ours: list[Result], plain: Any) -> str:
    """Our cases beside the same requests to a plain Flask-Admin ModelView (bench/plain.py),
    matched by name; plain / ours is the ratio of the medians ("≥": the plain time is a
    floor, over its budget or stopped)."""
    by_name = {r.name: r for r in ours}
    lines = [
        "## Against a plain Flask-Admin ModelView",
        "",
        plain.description,
        "",
        "| case | ours median ms | ours p95 ms | plain median ms | plain p95 ms | plain / ours "
        "| SQL statements ours / plain | plain result |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    ratios: list[tuple[float, str, str]] = []
    for p in plain.results:
        floor = "≥ " if p.at_least else ""
        mine = by_name.get(p.name)
        cells = ["—", "—", "—", "—"]
        if mine is not None:
            ratio = p.median / mine.median
            ratios.append((ratio, floor, p.name))
            cells = [f"{mine.median:,.1f}", f"{mine.p95:,.1f}", floor + _times(ratio)]
            cells.append(f"{mine.statements} / {p.statements}")
        lines.append(
            f"| {_cell(p.name)} | {cells[0]} | {cells[1]} | {floor}{p.median:,.1f} "
            f"| {floor}{p.p95:,.1f} | {cells[2]} | {cells[3]} | {_cell(p.outcome)} |"
        )
    searches = [r for r in ratios if r[2].startswith("search")]
    for label, group in (("every case", ratios), ("the searches", searches)):
        if group:
            low, high = min(group), max(group)
            lines += [
                "",
                f"Plain / ours, {label}: from {low[1]}{_times(low[0])} ({_cell(low[2])}) "
                f"to {high[1]}{_times(high[0])} ({_cell(high[2])}).",
            ]
    return "\n".join(lines)


_COLUMN_LIST = re.compile(r"SELECT ((?:[\w.]+(?: AS \w+)?, ){6,}[\w.]+(?: AS \w+)?) FROM")


def _short_sql(sql: str) -> str:
    """One line; a long list of selected columns becomes "<N columns>"."""
    flat = re.sub(r"\s+", " ", sql).strip()
    return _COLUMN_LIST.sub(lambda m: f"SELECT <{m.group(1).count(',') + 1} columns> FROM", flat)


def slowest_section(results: list[Result], explain, how_many: int = 12) -> str:
    """The slowest request cases, each with its slowest SQL statements and their plans."""
    ranked = sorted((r for r in results if r.slowest), key=lambda r: -r.median)[:how_many]
    out = ["## Slowest requests: their slowest SQL statements and plans", ""]
    for rank, r in enumerate(ranked, 1):
        out += [
            f"### {rank}. {r.name}: median {r.median:,.0f} ms ({r.statements} statements)",
            "",
            f"`{r.url}`",
            "",
        ]
        for statement in r.slowest[:2]:
            out += _statement(statement, explain)
    return "\n".join(out)


def _statement(statement: Statement, explain) -> list[str]:
    lines = [
        f"- {statement.ms:,.1f} ms (until the first row), parameters `{statement.params}`:",
        "",
    ]
    lines += ["  ```sql", "  " + _short_sql(statement.sql), "  ```", ""]
    if _short_sql(statement.sql).upper().startswith(("SELECT", "WITH")):
        try:
            plan = explain(statement)
        except Exception as exc:  # noqa: BLE001 - a plan that cannot be shown is reported
            plan = f"(no plan: {exc})"
        lines += ["  ```", *("  " + line for line in plan.splitlines()), "  ```", ""]
    return lines


def _seeding(seeding: Any) -> str:
    took = (
        f"{seeding.contacts:,} contacts in {seeding.seconds:,.1f} s (migrations, bulk load, "
        "index and search index rebuild, ANALYZE)"
        if seeding.seconds is not None
        else f"{seeding.contacts:,} contacts (time not recorded)"
    )
    return f"an existing database, seeded earlier: {took}" if seeding.reused else took


def write(
    path: Path,
    *,
    dialect: str,
    server_version: str | None,
    contacts: int,
    seeding: Any,
    runs: int,
    results: list[Result],
    explain,
    plain: Any = None,
    small: Any = None,
) -> str:
    """Write the report to `path`; returns the markdown tables alone (for the console).
    `plain`: the bench/plain.py run of the same cases against a plain ModelView, if any;
    `small`: the small-database section (bench/small.py) measured before, if any."""
    tables = table(results) + ("\n\n" + comparison(results, plain) if plain else "")
    if small is not None:
        from bench.small import table as small_table

        tables += "\n\n" + small_table(small)
    title = "SQLite" if dialect == "sqlite" else "PostgreSQL"
    rows = ", ".join(f"{table} {n:,}" for table, n in sorted(seeding.rows.items()))
    text = "\n".join(
        [
            f"# Benchmark: {title}, {contacts:,} contacts ({date.today().isoformat()})",
            "",
            f"- machine: {machine()}",
            f"- database: {database_version(dialect, server_version)}",
            f"- software: {software()}; {revision()}",
            f"- seeding: {_seeding(seeding)}; rows: {rows}",
            f"- method: each request once to warm up, then {runs} timed runs through the app "
            "in process (Flask test client, signed in as a crm_manager); wall time including "
            "rendering. Bulk services: timed calls with their commit. Median and 95th "
            "percentile (interpolated) in ms.",
            "",
            tables,
            "",
            slowest_section(results, explain),
            "",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return tables


def write_small(path: Path, small: Any, server_version: str | None = None) -> str:
    """Write the small-database section's report (bench/small.py) to `path`; returns its
    table (for the console)."""
    from bench.small import table as small_table

    tables = small_table(small)
    title = "SQLite" if small.dialect == "sqlite" else "PostgreSQL"
    runs = len(small.results[0].times_ms) if small.results else 0
    text = "\n".join(
        [
            f"# Benchmark, small database: {title}, the demo's {small.contacts} contacts "
            f"({date.today().isoformat()})",
            "",
            f"- machine: {machine()}",
            f"- database: {database_version(small.dialect, server_version)}",
            f"- software: {software()}; {revision()}",
            f"- method: each page once to warm up, then {runs} timed runs through the app in "
            "process (Flask test client, signed in as the demo's administrator); wall time "
            "including rendering. Median and 95th percentile (interpolated) in ms.",
            "",
            tables,
            "",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return tables
