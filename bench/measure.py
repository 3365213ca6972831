"""Time requests through the real app (in process, Flask's test client, signed in as a
crm_manager) and the bulk services on a seeded database."""

from __future__ import annotations

import re
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.seed import BENCH_EMAIL, BENCH_PASSWORD, bench_config

_MATCH_COUNT = re.compile(r'id="match-count">\s*(.*?)\s*<', re.S)
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class BenchFailure(SystemExit):
    """A request answered something else than a non-empty 200: the numbers would lie."""


@dataclass
class Statement:
    sql: str
    params: Any
    ms: float


@dataclass
class Result:
    name: str
    url: str
    times_ms: list[float]
    outcome: str
    slowest: list[Statement] = field(default_factory=list)
    statements: int = 0
    size: int = 0  # the response's bytes (the page's weight, without its scripts and styles)
    # The median CPU time of the process per run (the app's work and the test client's):
    # less disturbed than the wall time by other programs on a busy machine.
    cpu_ms: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        if len(ordered) == 1:
            return ordered[0]
        rank = 0.95 * (len(ordered) - 1)
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class StatementLog:
    """Records the SQL statements run while switched on, with their execution time (until
    the first row: SQLite steps the rest while rows are fetched)."""

    def __init__(self, engine: Any):
        from sqlalchemy import event

        self.on = False
        self.seen: list[Statement] = []
        self._started: dict[int, float] = {}

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, parameters, context, executemany):
            if self.on:
                self._started[id(cursor)] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, parameters, context, executemany):
            started = self._started.pop(id(cursor), None)
            if self.on and started is not None:
                ms = (time.perf_counter() - started) * 1000
                self.seen.append(Statement(statement, parameters, ms))

    def start(self) -> None:
        self.seen = []
        self.on = True

    def stop(self) -> list[Statement]:
        self.on = False
        return self.seen


class Bench:
    def __init__(
        self,
        database_url: str,
        instance: Path,
        runs: int = 7,
        log=print,
        *,
        config: dict[str, Any] | None = None,
        email: str = BENCH_EMAIL,
        password: str = BENCH_PASSWORD,
        cases: str | None = None,
    ):
        from crm import create_app
        from crm.extensions import db

        self.app = create_app(config or bench_config(database_url, instance))
        self.runs = runs
        self.log = log
        self.email, self.password = email, password
        # A regular expression: only the cases whose name it finds are timed (BENCH_CASES).
        self.only = re.compile(cases, re.I) if cases else None
        self.db = db
        with self.app.app_context():
            self.statements = StatementLog(db.engine)
            self.dialect = db.engine.dialect.name
        self.client = self.app.test_client()
        self.results: list[Result] = []

    # ---- set-up -------------------------------------------------------------------------
    def login(self) -> None:
        page = self.client.get("/login")
        token = _CSRF.search(page.get_data(as_text=True))
        if page.status_code != 200 or token is None:
            raise BenchFailure(f"bench: /login answered {page.status_code} without a form")
        response = self.client.post(
            "/login",
            data={"email": self.email, "password": self.password, "csrf_token": token.group(1)},
        )
        if response.status_code != 302:
            raise BenchFailure(f"bench: signing in as {self.email} failed ({response.status_code})")

    def facts(self) -> dict[str, Any]:
        """Ids and values the cases need, read from the seeded database."""
        from sqlalchemy import func, select

        from crm.models import Account, Category, Contact, Criterion, Tag, User

        with self.app.app_context():
            s = self.db.session
            users = {u.email: u.id for u in s.scalars(select(User))}
            n = s.scalar(select(func.max(Contact.id)))
            biggest = s.execute(
                select(Contact.account_id, func.count())
                .where(Contact.kind == "b2b")
                .group_by(Contact.account_id)
                .order_by(func.count().desc())
                .limit(1)
            ).one()
            b2b_contact = s.scalar(
                select(func.min(Contact.id)).where(
                    Contact.id >= n // 2, Contact.kind == "b2b", Contact.deleted_at.is_(None)
                )
            )
            company = s.get(Account, biggest[0])
            facts = {
                "contacts": n,
                "bench_user": users[BENCH_EMAIL],
                "owner": min(i for e, i in users.items() if e != BENCH_EMAIL),
                "responsible": sorted(i for e, i in users.items() if e != BENCH_EMAIL)[3],
                "category": s.scalar(select(Category.id).where(Category.name == "Customer")),
                "criterion": s.scalar(
                    select(Criterion.id).where(Criterion.name == "Decision maker")
                ),
                "contact": b2b_contact,
                "company": company.id,
                "company_contacts": biggest[1],
                "company_prefix": company.name.split()[0],
                "tags": [t.name for t in s.scalars(select(Tag))],
            }
            s.remove()
        return facts

    # ---- timing ------------------------------------------------------------------------
    def wanted(self, name: str) -> bool:
        """Whether the case `name` is timed (all of them, unless BENCH_CASES chose some)."""
        return self.only is None or bool(self.only.search(name))

    def time_get(self, name: str, url: str, runs: int | None = None) -> Result | None:
        if not self.wanted(name):
            return None
        runs = runs or self.runs
        self.statements.start()
        first = time.perf_counter()
        response = self.client.get(url)
        warmup_ms = (time.perf_counter() - first) * 1000
        seen = self.statements.stop()
        outcome = self._check(name, url, response)
        if warmup_ms > 20_000:  # a very slow case: fewer runs, the table says how many
            runs = min(runs, 2)
        elif warmup_ms > 5_000:
            runs = min(runs, 3)
        times, cpu = [], []
        for _ in range(runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            response = self.client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            self._check(name, url, response)
        if runs < self.runs:
            outcome += f"; {runs} runs"
        result = Result(name, url, times, outcome, sorted(seen, key=lambda s: -s.ms)[:3], len(seen))
        result.size = len(response.get_data())
        result.cpu_ms = statistics.median(cpu)
        self.results.append(result)
        self.log(f"  {name:<42} {result.median:9.1f} ms  p95 {result.p95:9.1f}  {outcome}")
        return result

    @staticmethod  # bench/plain.py checks the plain app's answers with it too
    def _check(name: str, url: str, response: Any) -> str:
        body = response.get_data(as_text=True)
        if response.status_code != 200 or not body.strip():
            raise BenchFailure(
                f"bench: {name} ({url}) answered {response.status_code} "
                f"with {len(body)} characters:\n{body[:2000]}"
            )
        # An error shown on the page (an empty, hidden alert waiting for a dialog's message
        # is not one).
        for flash in re.finditer(r"alert-danger[^>]*>(.*?)</div>", body, re.S):
            message = re.sub(r"<[^>]+>|\s+", " ", flash.group(1)).strip()
            if message:
                raise BenchFailure(f"bench: {name} ({url}) shows an error: {message[:500]}")
        parts = ["200"]
        rows = body.count('name="rowid"')
        if not rows and "model-list" in body:  # a list without ticks (no bulk actions)
            table = body.split("<tbody>", 1)[-1].split("</tbody>", 1)[0]
            rows = table.count("<tr") - table.count('colspan="999"')
        if rows or "model-list" in body:
            parts.append(f"{rows} rows")
        listed = re.search(r'id="list-count">([^<]*)<', body)
        if listed:
            parts.append(listed.group(1))
        count = _MATCH_COUNT.search(body)
        if count:
            parts.append(re.sub(r"\s+", " ", count.group(1)))
        if response.is_json:
            parts.append(f"{len(response.get_json() or [])} items")
        parts.append(f"{len(body) // 1024} KB")
        return ", ".join(parts)

    def time_call(
        self, name: str, what: str, call: Callable[[], str], runs: int, reset: Callable | None
    ) -> Result | None:
        if not self.wanted(name):
            return None
        times, outcome = [], ""
        for _ in range(runs):
            if reset is not None:
                reset()
            started = time.perf_counter()
            outcome = call()
            times.append((time.perf_counter() - started) * 1000)
        result = Result(name, what, times, outcome)
        self.results.append(result)
        self.log(f"  {name:<42} {result.median:9.1f} ms  p95 {result.p95:9.1f}  {outcome}")
        return result

    # ---- the cases ---------------------------------------------------------------------
    def run(self) -> list[Result]:
        from crm.admin.contacts import columns as contact_columns

        self.login()
        f = self.facts()
        view = self._contact_view()
        pages = max(1, f["contacts"] // 20)
        get = self.time_get
        self.log(f"{self.dialect}: {f['contacts']:,} contacts, {self.runs} runs per case")

        get("list, first page", "/admin/contact/")
        get("list, page 1000", "/admin/contact/?page=1000")
        get(f"list, page {pages * 4 // 5} (deep)", f"/admin/contact/?page={pages * 4 // 5}")
        get("list, 100 rows", "/admin/contact/?page_size=100")
        get("list, all (incl. inactive)", "/admin/contact/?show=all")
        get("list, inactive", "/admin/contact/?show=inactive")
        get("list, selected contacts", "/admin/contact/?show=selected")

        for index, column in enumerate(contact_columns.DEFAULT):  # the default columns
            label = contact_columns.COLUMNS[column]
            if column in view._sortable_columns:
                get(f"sort by {label}", f"/admin/contact/?sort={index}")
                get(f"sort by {label}, descending", f"/admin/contact/?sort={index}&desc=1")
                get(f"sort by {label}, page 1000", f"/admin/contact/?sort={index}&page=1000")

        for arg, value in self._filter_values(view, f):
            get(f"filter {arg}={value}", "/admin/contact/?" + urlencode({f"flt0_{arg}": value}))
        get(
            "filter city + owner + tag VIP",
            "/admin/contact/?"
            + urlencode(
                {"flt0_city_is": "Berlin", "flt1_owner_is": f["owner"], "flt2_tag_is": "VIP"}
            ),
        )
        get(
            "filter country DE + customer, by email",
            "/admin/contact/?"
            + urlencode(
                {"flt0_country_is": "DE", "flt1_customer_status_is": "customer", "sort": 2}
            ),
        )

        for name, term in contact_searches(f["company_prefix"]):
            get(name, "/admin/contact/?" + urlencode({"search": term}))
        get("search 'ith', sorted by name", "/admin/contact/?search=ith&sort=0")
        get("search 'ith', page 100", "/admin/contact/?search=ith&page=100")
        get("search 'ith' + tag VIP", "/admin/contact/?search=ith&flt0_tag_is=VIP")

        get("contact details", f"/admin/contact/details/?id={f['contact']}")
        get("contact edit form", f"/admin/contact/edit/?id={f['contact']}")
        get(
            "manager autocomplete 'smi'",
            "/admin/contact/ajax/lookup/?name=manager&query=smi",
        )
        get(
            "account autocomplete",
            "/admin/contact/ajax/lookup/?"
            + urlencode({"name": "account", "query": f["company_prefix"][:4]}),
        )
        get("accounts list", "/admin/account/")
        get("accounts list, page 1000", "/admin/account/?page=1000")
        get("accounts sorted by name, desc", "/admin/account/?sort=0&desc=1")
        get("accounts search", "/admin/account/?" + urlencode({"search": f["company_prefix"]}))
        get(
            f"account details ({f['company_contacts']:,} contacts)",
            f"/admin/account/details/?id={f['company']}",
        )
        self._sales_lists()
        get("dashboard", "/admin/")
        get("tag cloud", "/admin/tags/")
        get("responsibles", "/admin/responsibles/")
        get("trash list", "/admin/trash/")

        self._bulk(f)
        return self.results

    def _sales_lists(self) -> None:
        """Leads, deals and orders: their lists at scale (seeded beside the contacts)."""
        get = self.time_get
        for endpoint, label, search, sort, flt in (
            ("lead", "leads", "mül", 0, ("Status", "new")),
            ("deal", "deals", "licence", 1, ("Stage", "open")),
            ("order", "orders", "SO-0000123", 1, ("Status", "paid")),
        ):
            base = f"/admin/{endpoint}/"
            get(f"{label} list", base)
            get(f"{label} list, page 1000", base + "?page=1000")
            get(f"{label} sorted, descending", base + f"?sort={sort}&desc=1")
            get(f"{label} search '{search}'", base + "?" + urlencode({"search": search}))
            arg = self._filter_arg(endpoint, *flt)
            get(f"{label} filter {flt[0].lower()}={flt[1]}", base + "?" + urlencode({arg: flt[1]}))
        # A word in most store orders: past the index's DENSE_MATCHES, the list reads in order.
        get("orders search 'shop' (most orders)", "/admin/order/?search=shop")

    def _filter_arg(self, endpoint: str, name: str, value: str) -> str:
        """The URL argument of a view's "`name` equals" filter (flt0_...)."""
        admin = self.app.extensions["admin"][0]
        view = next(v for v in admin._views if getattr(v, "endpoint", None) == endpoint)
        for index, flt in enumerate(view._filters or []):
            if str(flt.name) == name and str(flt.operation()) == "equals":
                return f"flt0_{view.get_filter_arg(index, flt)}"
        raise BenchFailure(f"{endpoint}: no filter '{name} equals' for {value!r}")

    def _contact_view(self) -> Any:
        from crm.admin.contacts.view import ContactView

        admin = self.app.extensions["admin"][0]
        return next(v for v in admin._views if isinstance(v, ContactView))

    def _filter_values(self, view: Any, f: dict[str, Any]) -> list[tuple[str, str]]:
        """One realistic value for every filter of the contact list's menu, by its URL name;
        a filter the bench has no value for, or a value the filter refuses, stops the bench."""
        values = {
            "tag_is": "VIP",
            "tag_is_not": "Newsletter",
            "category_is": str(f["category"]),
            "criterion_is": str(f["criterion"]),
            "owner_is": str(f["owner"]),
            "responsible_is": str(f["responsible"]),
            "customer_status_is": "customer",
            "prospect_status_is": "prospect",
            "contact_type_is": "b2b",
            "account_name_starts_with": f["company_prefix"],
            "city_is": "Berlin",
            "country_is": "DE",
            "birthday_in_month": "5",
            "has_email_is": "1",
            "segment_is": str(f.get("segment", 1)),
            "marketing_list_is": str(f.get("marketing_list", 1)),
            "has_phone_is": "0",
            "access_class_is": "none",  # contacts without a class (there may be no class)
            "created_equals": "2020-06-01 00:00:00",
            "created_not_equal": "2020-06-01 00:00:00",
            "created_greater_than": "2026-01-01 00:00:00",
            "created_smaller_than": "2017-01-01 00:00:00",
            "created_between": "2020-01-01 00:00:00 to 2021-01-01 00:00:00",
            "created_not_between": "2017-01-01 00:00:00 to 2026-01-01 00:00:00",
            "created_empty": "0",
            "updated_equals": "2020-06-01 00:00:00",
            "updated_not_equal": "2020-06-01 00:00:00",
            "updated_greater_than": "2026-10-01 00:00:00",
            "updated_smaller_than": "2017-01-01 00:00:00",
            "updated_between": "2020-01-01 00:00:00 to 2021-01-01 00:00:00",
            "updated_not_between": "2017-01-01 00:00:00 to 2026-01-01 00:00:00",
            "updated_empty": "0",
        }
        chosen, missing = [], []
        with self.app.test_request_context():
            for index, flt in enumerate(view._filters):
                arg = view.get_filter_arg(index, flt)
                if arg in values:
                    value = values[arg]
                elif arg.endswith(("_equals", "_not_equal")):  # the Yes/No column filters
                    value = "1"
                else:
                    missing.append(arg)
                    continue
                if not flt.validate(value):
                    raise BenchFailure(f"bench: filter {arg} refuses the value {value!r}")
                chosen.append((arg, value))
        if missing:
            raise BenchFailure(f"bench: no value for the new filter(s) {missing}: add them")
        return chosen

    def _bulk(self, f: dict[str, Any]) -> None:
        from sqlalchemy import select

        from crm.models import Contact, User
        from crm.services.contacts import bulk
        from crm.services.platform import audit

        target = select(Contact.id).where(Contact.id <= 100_000)
        label = f"{min(100_000, f['contacts']):,} contacts"
        runs = max(1, min(self.runs, 3))
        db = self.db

        with self.app.app_context():
            actor = db.session.get(User, f["bench_user"])

            def add() -> str:
                result = bulk.add_tags(actor, target, ["Bench"])
                db.session.commit()
                return result.message

            def remove() -> str:
                result = bulk.remove_tags(actor, target, ["Bench"])
                db.session.commit()
                return result.message

            def untag() -> None:
                if self._has_tag("Bench"):
                    remove()

            def tag() -> None:
                add()

            self.time_call(
                "bulk add tag (services.bulk.add_tags)",
                f"{label}: id <= 100000, + commit",
                add,
                runs,
                untag,
            )
            self.time_call(
                "bulk remove tag (services.bulk.remove_tags)",
                f"{label}: id <= 100000, + commit",
                remove,
                runs,
                tag,
            )

            def add_unrecorded() -> str:
                with audit.without_history():
                    return add()

            # What history costs a bulk action (issue 8: at most twice the time without it).
            self.time_call(
                "bulk add tag, history not recorded",
                f"{label}: the same, without its history entry and links",
                add_unrecorded,
                runs,
                untag,
            )

            self._exports(actor, target, label, f["contacts"], runs)

            def duplicates() -> str:
                from crm.services.contacts.duplicates import find_duplicates

                groups = find_duplicates(actor, limit=1_000_000, among=target)
                db.session.rollback()
                return f"{len(groups):,} groups of possible duplicates"

            self.time_call(
                "duplicate groups (services.duplicates.find_duplicates)",
                f"among {label}",
                duplicates,
                max(1, min(runs, 2)),
                None,
            )
            self._merges(actor, runs)
            self._import(actor)
            from bench import campaigns

            campaigns.run(self, actor, runs)
            db.session.remove()

    def _exports(self, actor: Any, target: Any, label: str, contacts: int, runs: int) -> None:
        """Exports (services.exporting) streamed into a sink that counts the bytes: CSV, XLSX
        and vCard of `target`, and CSV of every contact. Each reports its contacts per
        second and its memory: the most the process's RSS grew (sampled after every chunk)
        and tracemalloc's peak (a second, untimed pass: tracing slows Python down)."""
        from sqlalchemy import select

        from crm.models import Contact
        from crm.services.transfer import exporting

        db = self.db
        everyone = select(Contact.id)
        cases = (
            ("export CSV (services.exporting)", "csv", target, label, runs),
            ("export XLSX (services.exporting)", "xlsx", target, label, 1),
            ("export vCard (services.exporting)", "vcf", target, label, 1),
            ("export CSV, every contact", "csv", everyone, f"all {contacts:,} contacts", 1),
        )
        for name, file_format, what, described, times in cases:
            watch = _ExportWatch()

            def export(file_format: str = file_format, what: Any = what, watch=watch) -> str:
                watch.start()
                exporting.write(actor, what, file_format, watch, progress=watch.chunk)
                seconds = time.perf_counter() - watch.started
                db.session.rollback()
                return (
                    f"{watch.rows:,} contacts, {watch.rows / seconds:,.0f} a second, "
                    f"{watch.size / 1e6:,.1f} MB"
                )

            result = self.time_call(
                name, f"{described}, written to a counting sink", export, times, None
            )
            if result is None:  # not among the chosen cases (BENCH_CASES)
                continue
            grew = watch.rss_grew
            tracemalloc.start()
            try:
                export()
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            result.outcome += (
                f"; RSS grew at most {grew / 1e6:,.0f} MB, "
                f"peak Python allocations {peak / 1e6:,.0f} MB (tracemalloc)"
            )
            self.log(f"    {result.outcome}")

    def _import(self, actor: Any) -> None:
        """An import of BENCH_IMPORT_ROWS (100,000) CSV rows through the import job, with
        duplicate checking on: 90% new people (60% of them in existing companies), 10% the
        emails of existing contacts (skipped as duplicates). Then its undo, which leaves the
        database as it was (but for the history entries, which are never deleted)."""
        import csv
        import io
        import os
        import random

        from sqlalchemy import select

        from crm.models import Account, Contact, DuplicateHandling, ImportJob
        from crm.services.transfer.importing.jobs import create_job, start
        from crm.services.transfer.importing.run import BATCH, run_job
        from crm.services.transfer.importing.targets import Mapping
        from crm.services.transfer.importing.undo import undo_import

        if not self.wanted("import CSV (services.importing, skip duplicates)"):
            return  # not among the chosen cases (BENCH_CASES): no file to build
        db = self.db
        wanted = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
        rng = random.Random(11)
        companies = db.session.scalars(
            select(Account.name).where(Account.is_hidden.is_(False)).limit(300)
        ).all()
        known = db.session.scalars(
            select(Contact.email).where(Contact.email.is_not(None)).limit(wanted // 10)
        ).all()
        db.session.rollback()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["First Name", "Last Name", "E-mail Address", "Mobile Phone", "Company",
                         "Job Title", "Business City", "Business Country/Region"])  # fmt: skip
        for i in range(wanted):
            first = rng.choice(_FIRST)
            last = f"{rng.choice(_LAST)}-{''.join(rng.choice(_SYLLABLES) for _ in range(3))}"
            email = known[i // 10] if i % 10 == 0 and i // 10 < len(known) else (
                f"{first.lower()}.{i}@import.example.net"
            )  # fmt: skip
            company = rng.choice(companies) if companies and rng.random() < 0.6 else ""
            writer.writerow([
                first, last, email,
                f"+1 212 {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
                company, "Buyer" if company else "", rng.choice(_CITIES), "Germany",
            ])  # fmt: skip
        data = out.getvalue().encode("utf-8")
        job_id: list[int] = []

        def run_import() -> str:
            job = create_job(actor, data, "bench-import.csv")
            started = start(
                actor, job, Mapping.from_json(job.mapping), DuplicateHandling.SKIP, dry_run=False
            )
            db.session.commit()
            began = time.perf_counter()
            run_job(started.id)
            seconds = time.perf_counter() - began
            db.session.expire_all()
            done = db.session.get(ImportJob, started.id)
            job_id.append(done.id)
            return (
                f"{wanted:,} rows, {wanted / seconds:,.0f} rows a second: {done.created:,} "
                f"created, {done.skipped:,} duplicates skipped, {done.failed:,} failed"
            )

        def undo() -> str:
            job = db.session.get(ImportJob, job_id[-1])
            report = undo_import(actor, job)
            db.session.commit()
            (Path(self.app.instance_path) / "imports" / job.stored_name).unlink(missing_ok=True)
            return f"{report.deleted:,} contacts deleted, {report.kept:,} kept"

        self.time_call(
            "import CSV (services.importing, skip duplicates)",
            f"{wanted:,} rows, duplicate checks on, batches of {BATCH:,}",
            run_import,
            1,
            None,
        )
        self.time_call(
            "undo that import (services.importing.undo_import)",
            "the contacts it created", undo, 1, None,
        )  # fmt: skip

    def _merges(self, actor: Any, runs: int) -> None:
        """Merging three contacts, and the two companies holding the most contacts, each
        rolled back after the timed flush (the database stays as seeded)."""
        from sqlalchemy import func, select

        from crm.models import Account, Contact
        from crm.services.merge.accounts import merge_accounts
        from crm.services.merge.contacts import merge_contacts

        db = self.db
        people = db.session.scalars(
            select(Contact.id).where(Contact.deleted_at.is_(None)).order_by(Contact.id).limit(3)
        ).all()
        companies = db.session.execute(
            select(Contact.account_id, func.count())
            .join(Account, Account.id == Contact.account_id)
            .where(Account.is_hidden.is_(False))
            .group_by(Contact.account_id)
            .order_by(func.count().desc())
            .limit(2)
        ).all()
        db.session.rollback()

        def merged(merge, ids) -> str:
            record = merge(actor, ids)
            db.session.flush()
            moved = len(record.changes["changes"])
            db.session.rollback()
            return f"{moved:,} references moved (rolled back)"

        self.time_call(
            "merge contacts (services.merge.merge_contacts)",
            "3 contacts, + flush",
            lambda: merged(merge_contacts, people),
            max(1, min(runs, 3)),
            None,
        )
        if len(companies) == 2:
            sizes = " + ".join(f"{n:,}" for _, n in companies)
            self.time_call(
                "merge accounts (services.merge.merge_accounts)",
                f"the 2 largest companies ({sizes} contacts), + flush",
                lambda: merged(merge_accounts, [a for a, _ in companies]),
                max(1, min(runs, 2)),
                None,
            )

    def _has_tag(self, name: str) -> bool:
        from sqlalchemy import exists, select

        from crm.models import Tag, contact_tags

        return bool(
            self.db.session.scalar(
                select(exists().where(contact_tags.c.tag_id == Tag.id, Tag.key == name.lower()))
            )
        )

    # ---- plans -------------------------------------------------------------------------
    def explain(self, statement: Statement) -> str:
        """The database's plan for a recorded statement."""
        with self.app.app_context():
            conn = self.db.session.connection()
            raw = conn.connection.dbapi_connection
            cursor = raw.cursor()
            if self.dialect == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.params)
                rows = cursor.fetchall()
                depth: dict[int, int] = {0: 0}
                lines = []
                for node, parent, _, detail in rows:
                    depth[node] = depth.get(parent, 0) + 1
                    lines.append("  " * (depth[node] - 1) + detail)
                plan = "\n".join(lines)
            else:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + statement.sql, statement.params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.close()
            self.db.session.rollback()
            self.db.session.remove()
        return plan


def contact_searches(company_prefix: str) -> tuple[tuple[str, str], ...]:
    """The contact list's timed searches (case name, term); bench/plain.py sends them too."""
    return (
        ("search common fragment", "ith"),
        ("search two words", "ana smi"),
        ("search rare surname", "oyarzab"),
        ("search exact surname", "smith"),
        ("search phone +49 30 1234", "+49 30 1234"),
        ("search phone 030-1234", "030-1234"),
        ("search email domain", "gmx.de"),
        ("search company name", company_prefix.lower()),
        ("search 2 letters", "li"),
    )


_FIRST = (
    "Anna",
    "Ben",
    "Carla",
    "Dieter",
    "Eva",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katrin",
    "Lena",
    "Marco",
    "Nora",
    "Olaf",
    "Petra",
    "Rui",
    "Sofia",
    "Timo",
    "Ute",
)
_LAST = (
    "Schmidt",
    "Meyer",
    "Garcia",
    "Rossi",
    "Dubois",
    "Novak",
    "Jensen",
    "Kowalski",
    "Silva",
    "Tanaka",
    "Olsen",
    "Berg",
    "Weber",
    "Wagner",
    "Becker",
    "Hoffmann",
)
_SYLLABLES = ("ka", "ber", "lo", "mi", "sen", "tu", "ra", "no", "vel", "di", "son", "ha", "ri",
              "ma", "en", "ko", "la", "us", "fer", "ti")  # fmt: skip
_CITIES = ("Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart")  # fmt: skip


def _rss() -> int:
    """The process's resident memory now, in bytes (Linux); its high-water mark elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _ExportWatch:
    """A write-only sink for an export: counts its bytes, its contacts, and the most the
    process's resident memory grew since the export started (sampled after each chunk)."""

    def start(self) -> None:
        self.size = self.rows = self.rss_grew = 0
        self.rss_start = _rss()
        self.started = time.perf_counter()

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def chunk(self, contacts: int) -> None:
        self.rows += contacts
        self.rss_grew = max(self.rss_grew, _rss() - self.rss_start)
