"""`python -m bench`: seed, measure and report on SQLite, then on PostgreSQL if installed."""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.report import PROJECT

PG_SCRIPT = PROJECT / "scripts" / "pg-test-cluster.sh"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "").replace(",", "").strip()
    return int(raw) if raw else default


def log(message: str) -> None:
    print(message, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--contacts",
        type=int,
        default=_env_int("BENCH_CONTACTS", 1_000_000),
        help="contacts to seed (BENCH_CONTACTS, default 1,000,000)",
    )
    parser.add_argument(
        "--postgres-contacts",
        type=int,
        default=_env_int("BENCH_POSTGRES_CONTACTS", 0) or None,
        help="contacts for the PostgreSQL run (BENCH_POSTGRES_CONTACTS, default: --contacts)",
    )
    parser.add_argument(
        "--postgres",
        choices=("auto", "yes", "no"),
        default={"0": "no", "1": "auto"}.get(os.environ.get("BENCH_POSTGRES", "1"), "auto"),
        help="also on a throwaway PostgreSQL cluster: auto (when installed; BENCH_POSTGRES=0 "
        "says no)",
    )
    parser.add_argument(
        "--sqlite",
        choices=("yes", "no"),
        default="no" if os.environ.get("BENCH_SQLITE") == "0" else "yes",
        help="the SQLite run (BENCH_SQLITE=0 skips it)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=_env_int("BENCH_RUNS", 7),
        help="timed runs per case after one warm-up (BENCH_RUNS, default 7)",
    )
    parser.add_argument(
        "--workdir",
        default=os.environ.get("BENCH_DIR") or None,
        help="folder for the throwaway databases (BENCH_DIR, default a new temporary folder)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        default=os.environ.get("BENCH_KEEP") == "1",
        help="keep the seeded SQLite database (BENCH_KEEP=1)",
    )
    parser.add_argument(
        "--reuse",
        default=os.environ.get("BENCH_REUSE") or None,
        help="measure this already seeded SQLite file instead of seeding (BENCH_REUSE)",
    )
    parser.add_argument(
        "--plain",
        choices=("yes", "no"),
        default="no" if os.environ.get("BENCH_PLAIN") == "0" else "yes",
        help="the same requests against a plain Flask-Admin ModelView (bench/plain.py; "
        "BENCH_PLAIN=0 skips it)",
    )
    parser.add_argument(
        "--plain-runs",
        type=int,
        default=_env_int("BENCH_PLAIN_RUNS", 3),
        help="timed runs per plain case after one warm-up (BENCH_PLAIN_RUNS, default 3)",
    )
    parser.add_argument(
        "--small",
        choices=("yes", "no", "only"),
        default={"0": "no", "only": "only"}.get(os.environ.get("BENCH_SMALL", "1"), "yes"),
        help="the small-database section: the demo's 300 contacts as `make run` loads them "
        "(BENCH_SMALL=0 skips it; only: nothing else, no seeding)",
    )
    parser.add_argument(
        "--small-only",
        dest="small",
        action="store_const",
        const="only",
        help="the small-database section alone (BENCH_SMALL=only): a quick run",
    )
    parser.add_argument(
        "--cases",
        default=os.environ.get("BENCH_CASES") or None,
        help="a regular expression: only the cases whose name it finds are timed, on the "
        "seeded database (BENCH_CASES, e.g. 'contact details|first page'); no load test then",
    )
    parser.add_argument(
        "--results",
        default=os.environ.get("BENCH_RESULTS", str(PROJECT / "bench-results")),
        help="where the reports go (default bench-results/)",
    )
    return parser.parse_args(argv)


def measure_and_report(
    database_url: str,
    instance: Path,
    contacts: int,
    seeding,
    args: argparse.Namespace,
    server_version: str | None = None,
    small=None,
) -> Path:
    from bench import report
    from bench.measure import Bench

    bench = Bench(database_url, instance, runs=args.runs, log=log, cases=args.cases)
    results = bench.run()
    plain = None
    if args.plain == "yes":
        from bench.plain import PlainBench

        plain = PlainBench(database_url, bench, runs=args.plain_runs, log=log)
        plain.run()
    name = "sqlite" if bench.dialect == "sqlite" else "postgresql"
    path = Path(args.results) / f"{date.today().isoformat()}-{name}-{contacts}.md"
    markdown = report.write(
        path,
        dialect=bench.dialect,
        server_version=server_version,
        contacts=contacts,
        seeding=seeding,
        runs=args.runs,
        results=results,
        explain=bench.explain,
        plain=plain,
        small=small,
    )
    log("")
    log(markdown)
    log(f"\nwritten to {path}")
    from bench import load

    # The app under gunicorn and locust; BENCH_LOAD=0 skips it, and so does BENCH_CASES.
    if load.enabled() and not args.cases:
        load.run_and_report(database_url, instance, path, log=log)
    return path


def run_small(
    args: argparse.Namespace, database_url: str, instance: Path, server_version: str | None = None
):
    """The small-database section on an empty database: the demo, timed and weighed; its
    table is printed and written to bench-results/<date>-<database>-demo.md."""
    from bench import report, small

    if args.small == "no":
        return None
    run = small.run(database_url, instance, args.runs, args.plain == "yes", log=log)
    name = "sqlite" if run.dialect == "sqlite" else "postgresql"
    path = Path(args.results) / f"{date.today().isoformat()}-{name}-demo.md"
    markdown = report.write_small(path, run, server_version)
    log("")
    log(markdown)
    log(f"\nwritten to {path}")
    return run


def run_sqlite(args: argparse.Namespace, workdir: Path) -> None:
    from bench.seed import seed

    demo = None
    if args.small != "no" and not args.reuse:
        folder = workdir / "sqlite-demo"
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob("crm-demo.sqlite3*"):
            leftover.unlink()
        log(f"SQLite, small database: the demo into {folder / 'crm-demo.sqlite3'}")
        demo = run_small(args, f"sqlite:///{folder / 'crm-demo.sqlite3'}", folder)
    if args.small == "only":
        return

    if args.reuse:
        path = Path(args.reuse).resolve()
        log(f"SQLite: measuring the existing {path} (no seeding)")
        from bench.seed import SeedReport

        seeding = SeedReport.of_existing(path)
        measure_and_report(f"sqlite:///{path}", path.parent, seeding.contacts, seeding, args)
        return
    folder = workdir / "sqlite"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "crm-bench.sqlite3"
    for leftover in folder.glob("crm-bench.sqlite3*"):
        leftover.unlink()
    url = f"sqlite:///{path}"
    log(f"SQLite: seeding {args.contacts:,} contacts into {path}")
    seeding = seed(url, folder, args.contacts, log=log)
    measure_and_report(url, folder, args.contacts, seeding, args, small=demo)
    if args.keep:
        log(f"kept {path}")


def _free_port(start: int) -> int:
    for port in range(start, start + 50):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("bench: no free port for PostgreSQL")


def postgres_installed() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


# A small production server's settings (pgtune's for 24 GiB, 2 cores, a web app), durable
# writes included: the test clusters' fsync=off and synchronous_commit=off are overridden.
SERVER_SETTINGS = (
    "-c fsync=on -c synchronous_commit=on -c full_page_writes=on "
    "-c shared_buffers=2GB -c effective_cache_size=12GB -c work_mem=16MB "
    "-c maintenance_work_mem=512MB"
)


def run_postgres(args: argparse.Namespace) -> None:
    import psycopg

    from bench.seed import seed

    contacts = args.postgres_contacts or args.contacts
    cluster = Path(tempfile.mkdtemp(prefix="crm-bench-pg-"))
    port = _free_port(_env_int("BENCH_PG_PORT", 55439))
    log(f"PostgreSQL: throwaway cluster in {cluster} on port {port}")
    options = os.environ.get("BENCH_PG_OPTIONS", SERVER_SETTINGS)
    log(f"PostgreSQL settings: {options}")
    started = subprocess.run(  # noqa: S603
        ["bash", str(PG_SCRIPT), "start", str(cluster), str(port)],  # noqa: S607
        capture_output=True,
        text=True,
        env={**os.environ, "PG_OPTIONS": options},
    )
    try:
        if started.returncode != 0:
            raise SystemExit(f"bench: the PostgreSQL cluster did not start:\n{started.stderr}")
        server = started.stdout.strip().splitlines()[-1]
        plain = server.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("CREATE DATABASE crm_bench")
            conn.execute("CREATE DATABASE crm_demo")
            server_version = conn.execute("SHOW server_version").fetchone()[0]
        demo = None
        if args.small != "no":
            folder = cluster / "demo-instance"
            folder.mkdir()
            log(f"PostgreSQL {server_version}, small database: the demo")
            demo_url = server.rsplit("/", 1)[0] + "/crm_demo"
            demo = run_small(args, demo_url, folder, f"{server_version} ({options})")
        if args.small == "only":
            return
        url = server.rsplit("/", 1)[0] + "/crm_bench"
        instance = cluster / "instance"
        instance.mkdir()
        log(f"PostgreSQL {server_version}: seeding {contacts:,} contacts")
        seeding = seed(url, instance, contacts, log=log)
        measure_and_report(
            url, instance, contacts, seeding, args, f"{server_version} ({options})", small=demo
        )
    finally:
        subprocess.run(["bash", str(PG_SCRIPT), "stop", str(cluster)], check=False)  # noqa: S603,S607
        shutil.rmtree(cluster, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    own_workdir = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="crm-bench-")).resolve()
    if workdir.resolve() == (PROJECT / "instance").resolve():
        raise SystemExit("bench: never in instance/: choose another BENCH_DIR")
    try:
        if args.sqlite == "yes":
            run_sqlite(args, workdir)
        want_pg = args.postgres == "yes" or (args.postgres == "auto" and postgres_installed())
        if want_pg and not args.reuse:
            if not postgres_installed():
                raise SystemExit("bench: PostgreSQL is not installed (/usr/lib/postgresql/*)")
            run_postgres(args)
        elif args.postgres != "no" and not args.reuse:
            log("PostgreSQL is not installed: skipped (BENCH_POSTGRES=0 skips it silently)")
    finally:
        if own_workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    log(f"bench finished in {time.perf_counter() - started:,.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
