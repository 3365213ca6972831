"""The same requests against a plain Flask-Admin ModelView of the same tables: the baseline
"how most Flask-Admin apps are built", beside our own figures (BENCH_PLAIN=0 skips it).

The plain app is a separate, minimal Flask app on the same database URL (the same seeded
database): Flask, Flask-SQLAlchemy (our `crm.extensions.db` and models, nothing else of
`crm.create_app`: no access rules, no sign-in) and `flask_admin.Admin` with a plain
`ModelView` for contacts and one for accounts. Their settings are Flask-Admin's defaults
(page size 20, a full count on every page, the automatic LEFT JOIN of the many-to-one
columns shown, `ILIKE '%term%'` on every searchable column, scaffolded forms) but for what a
typical app configures to offer the same features: the same columns as our default list,
`column_searchable_list`, `column_filters` on the columns our filters use, and the details
page. Its requests go through the plain app's test client in process, timed like ours
(one warm-up, then BENCH_PLAIN_RUNS timed runs, default 3), with a time budget: a request
slower than BENCH_PLAIN_BUDGET seconds (default 20) on its warm-up is not repeated (the
table marks its single time "≥"), and one still running after BENCH_PLAIN_TIMEOUT seconds
(default 60) is stopped and recorded as that long ("≥"), so the whole section is bounded.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_admin.theme import Bootstrap4Theme
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from bench.measure import Bench, Result, StatementLog, contact_searches
from crm.admin.contacts import columns as contact_columns

# What the report says the plain app is (bench/report.py prints it above the table).
DESCRIPTION = (
    "A separate minimal Flask app on the same database: Flask-SQLAlchemy with our models and "
    "`flask_admin.Admin` with a plain `ModelView(Contact, db)` and `ModelView(Account, db)`, "
    "no sign-in and no access rules. Flask-Admin's defaults (page size 20, a full "
    "`count('*')` on every page, the automatic LEFT JOIN of the many-to-one columns shown, "
    "`ILIKE '%term%'` on every searchable column, sorting by one column, scaffolded forms) "
    "except what a typical app sets to offer the same features: the columns of our default "
    "list, `column_searchable_list` (first name, last name, email, `phones.number`, "
    "`account.name`), `column_filters` on the columns our filters use (customer and prospect "
    "status, contact type, `owner.email`, `tags.name`, `addresses.city`, "
    "`addresses.country`, email marketing, created, updated) and `can_view_details`. It "
    "lists every contact (ours hides the inactive and deleted ones), so its counts differ. "
    "Each plain request: one warm-up, then {runs} timed runs; a warm-up slower than "
    "{budget:g} s is the only run (marked ≥), a request still running after {timeout:g} s "
    "is stopped (≥ that long)."
)


class PlainContactView(ModelView):
    """Contacts as most Flask-Admin apps list them: the defaults plus the usual settings."""

    # Our default list's columns, the first name beside the last (ours shows one name cell).
    column_list = ("last_name", "first_name", *contact_columns.DEFAULT[1:])
    column_searchable_list = ("first_name", "last_name", "email", "phones.number", "account.name")
    column_filters = (
        "customer_status",
        "prospect_status",
        "kind",
        "owner.email",
        "tags.name",
        "addresses.city",
        "addresses.country",
        "email_marketing",
        "created_at",
        "updated_at",
    )
    can_view_details = True


class PlainAccountView(ModelView):
    """Accounts, likewise: the columns and search of our Accounts list, defaults otherwise."""

    column_list = ("name", "website", "owner", "updated_at")
    column_searchable_list = ("name",)
    column_filters = ("name", "created_at", "updated_at")
    can_view_details = True


def create_plain_app(database_url: str) -> Flask:
    """A minimal Flask + Flask-SQLAlchemy + Flask-Admin app over our models and database."""
    import crm.models  # noqa: F401 - every model on db.metadata (relationships resolve)
    from crm.extensions import db
    from crm.models import Account, Contact

    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        SECRET_KEY="plain-bench",  # noqa: S106 - a throwaway app that only answers GETs
        PROPAGATE_EXCEPTIONS=True,  # an error reaches the bench instead of a 500 page
    )
    db.init_app(app)
    admin = Admin(app, name="Plain", theme=Bootstrap4Theme())
    admin.add_view(PlainContactView(Contact, db))
    admin.add_view(PlainAccountView(Account, db))
    return app


class RequestStopped(BaseException):
    """Raised by the alarm in a plain request that ran out of time (a BaseException, so
    that neither Flask nor Flask-Admin turns it into an error page)."""


class Deadline:
    """A time limit for one request: SIGALRM stops Python work (a form of a million
    options), SQLite's progress handler and PostgreSQL's statement_timeout stop a query."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at: float | None = None
        self._previous: Any = signal.SIG_DFL
        # SIGALRM can be set from the main thread only; elsewhere the database limits stay.
        self.alarm = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> Deadline:
        self.at = time.perf_counter() + self.seconds
        if self.alarm:
            self._previous = signal.signal(signal.SIGALRM, self._ring)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)
        self.at = None

    def _ring(self, _signum: int, _frame: Any) -> None:
        raise RequestStopped

    def passed(self) -> bool:
        return self.at is not None and time.perf_counter() >= self.at

    def watch(self, engine: Any) -> None:
        """Make every new connection of `engine` give up at the deadline."""

        @event.listens_for(engine, "connect")
        def _limit(dbapi_connection, _record) -> None:
            if engine.dialect.name == "sqlite":
                dbapi_connection.set_progress_handler(lambda: int(self.passed()), 100_000)
            elif engine.dialect.name == "postgresql":
                cursor = dbapi_connection.cursor()
                cursor.execute(f"SET statement_timeout = {int(self.seconds * 1000)}")
                cursor.close()
                dbapi_connection.commit()


@dataclass
class PlainResult(Result):
    """A plain case; `at_least`: its one time is a floor (over the budget, or stopped)."""

    at_least: bool = False


_COUNT = re.compile(r">\s*List\s*\((\d+)\)\s*<")


class PlainBench:
    """Times the cases of our list, details and edit pages against the plain app."""

    def __init__(
        self,
        database_url: str,
        ours: Bench,
        runs: int = 3,
        budget: float | None = None,
        timeout: float | None = None,
        log=print,
    ):
        from crm.extensions import db

        budget = budget or float(os.environ.get("BENCH_PLAIN_BUDGET") or 20)
        timeout = timeout or float(os.environ.get("BENCH_PLAIN_TIMEOUT") or 60)

        self.app = create_plain_app(database_url)
        self.ours = ours
        self.runs = runs
        self.budget_ms = budget * 1000
        self.deadline = Deadline(timeout)
        self.log = log
        self.db = db
        with self.app.app_context():
            self.engine = db.engine
        self.deadline.watch(self.engine)
        self.statements = StatementLog(self.engine)
        self.client = self.app.test_client()
        self.results: list[PlainResult] = []

    @property
    def description(self) -> str:
        return DESCRIPTION.format(
            runs=self.runs, budget=self.budget_ms / 1000, timeout=self.deadline.seconds
        )

    # ---- timing ------------------------------------------------------------------------
    def _get(self, url: str) -> tuple[Any, float]:
        """One request: (response, ms), or (None, the limit in ms) when it was stopped."""
        started, self._cpu_started = time.perf_counter(), time.process_time()
        try:
            with self.deadline:
                response = self.client.get(url)
        except (RequestStopped, DBAPIError):
            if time.perf_counter() - started < self.deadline.seconds:
                raise  # a real error, not the time limit
            self._recover()
            return None, self.deadline.seconds * 1000
        self.last_cpu_ms = (time.process_time() - self._cpu_started) * 1000
        return response, (time.perf_counter() - started) * 1000

    def _recover(self) -> None:
        """After a stopped request: a fresh session and pool (it may have been cut anywhere)."""
        with self.app.app_context():
            self.db.session.remove()
            self.engine.dispose()

    def time_get(self, name: str, url: str) -> PlainResult | None:
        if not self.ours.wanted(name):  # BENCH_CASES chose other cases
            return None
        self.statements.start()
        response, warmup_ms = self._get(url)
        seen = self.statements.stop()
        if response is None:
            result = PlainResult(
                name, url, [warmup_ms], f"stopped after {warmup_ms / 1000:g} s", [], len(seen)
            )
            result.at_least = True
        else:
            outcome = self._outcome(name, url, response)
            times: list[float] = []
            cpu: list[float] = []
            if warmup_ms > self.budget_ms:
                times = [warmup_ms]
                outcome += f"; over the {self.budget_ms / 1000:g} s budget: one run (the warm-up)"
            else:
                for _ in range(self.runs):
                    response, ms = self._get(url)
                    times.append(ms)
                    if response is None:
                        outcome += "; a timed run was stopped"
                        break
                    cpu.append(self.last_cpu_ms)
                    self._outcome(name, url, response)
            result = PlainResult(name, url, times, outcome, [], len(seen))
            if cpu:
                result.cpu_ms = statistics.median(cpu)
            result.at_least = warmup_ms > self.budget_ms or response is None
        self.results.append(result)
        mark = "≥" if result.at_least else " "
        self.log(
            f"  {name:<42} {mark}{result.median:9.1f} ms  p95 {result.p95:9.1f}  {result.outcome}"
        )
        return result

    def _outcome(self, name: str, url: str, response: Any) -> str:
        outcome = Bench._check(name, url, response)
        count = _COUNT.search(response.get_data(as_text=True))
        if count:
            outcome = outcome.replace("200, ", f"200, {int(count.group(1)):,} counted, ", 1)
        return outcome

    # ---- the cases ---------------------------------------------------------------------
    def run(self) -> list[PlainResult]:
        """Our cases that have a plain equivalent, named as ours are (the report matches
        them by name)."""
        f = self.ours.facts()
        owner_email = self._owner_email(f["owner"])
        self.log(
            f"plain Flask-Admin ModelView: {f['contacts']:,} contacts, {self.runs} runs per "
            f"case, budget {self.budget_ms / 1000:g} s, stopped after {self.deadline.seconds:g} s"
        )
        for name, url in self.cases(f, owner_email):
            self.time_get(name, url)
        return self.results

    def cases(self, f: dict[str, Any], owner_email: str) -> list[tuple[str, str]]:
        from crm.admin.contacts import columns as contact_columns
        from crm.models import Address, Contact, Tag, User

        view = self._view("contact")
        accounts = self._view("account")
        ours = {r.name: r for r in self.ours.results}
        deep = next((n for n in ours if re.fullmatch(r"list, page \d+ \(deep\)", n)), None)
        deep_page = _page(ours[deep].url) if deep else max(1, f["contacts"] // 20) * 4 // 5

        def sort(column: str) -> int:
            return list(view.column_list).index(column)

        c, a, t, u = Contact.__table__.c, Address.__table__.c, Tag.__table__.c, User.__table__.c
        flt = self._filter_arg
        cases = [
            ("list, first page", "/admin/contact/"),
            ("list, page 1000", "/admin/contact/?page=1000"),
            (f"list, page {deep_page} (deep)", f"/admin/contact/?page={deep_page}"),
        ]
        ours_view = self.ours._contact_view()
        for column in contact_columns.DEFAULT:
            if column not in ours_view._sortable_columns or column not in view._sortable_columns:
                continue
            label = contact_columns.COLUMNS[column]
            index = sort(column)
            cases += [
                (f"sort by {label}", f"/admin/contact/?sort={index}"),
                (f"sort by {label}, descending", f"/admin/contact/?sort={index}&desc=1"),
                (f"sort by {label}, page 1000", f"/admin/contact/?sort={index}&page=1000"),
            ]
        # Our filter (URL name, value) -> the plain column, operation and value (Flask-Admin's
        # enum filters take the member's name).
        filters = (
            ("customer_status_is", "customer", c.customer_status, "equals", "CUSTOMER"),
            ("prospect_status_is", "prospect", c.prospect_status, "equals", "PROSPECT"),
            ("contact_type_is", "b2b", c.kind, "equals", "B2B"),
            ("owner_is", str(f["owner"]), u.email, "equals", owner_email),
            ("tag_is", "VIP", t.name, "equals", "VIP"),
            ("city_is", "Berlin", a.city, "equals", "Berlin"),
            ("country_is", "DE", a.country, "equals", "DE"),
            (self._ours_arg(c.email_marketing, "equals"), "1", c.email_marketing, "equals", "1"),
            ("created_between", "2020-01-01 00:00:00 to 2021-01-01 00:00:00", c.created_at,
             "between", "2020-01-01 00:00:00 to 2021-01-01 00:00:00"),
            ("created_greater_than", "2026-01-01 00:00:00", c.created_at, "greater than",
             "2026-01-01 00:00:00"),
            ("updated_smaller_than", "2017-01-01 00:00:00", c.updated_at, "smaller than",
             "2017-01-01 00:00:00"),
        )  # fmt: skip
        for arg, value, column, operation, plain_value in filters:
            query = urlencode({f"flt0_{flt(view, column, operation)}": plain_value})
            cases.append((f"filter {arg}={value}", f"/admin/contact/?{query}"))
        combined = {
            f"flt0_{flt(view, a.city, 'equals')}": "Berlin",
            f"flt1_{flt(view, u.email, 'equals')}": owner_email,
            f"flt2_{flt(view, t.name, 'equals')}": "VIP",
        }
        cases.append(("filter city + owner + tag VIP", f"/admin/contact/?{urlencode(combined)}"))
        combined = {
            f"flt0_{flt(view, a.country, 'equals')}": "DE",
            f"flt1_{flt(view, c.customer_status, 'equals')}": "CUSTOMER",
            "sort": sort("email"),
        }
        cases.append(
            ("filter country DE + customer, by email", f"/admin/contact/?{urlencode(combined)}")
        )
        for name, term in contact_searches(f["company_prefix"]):
            cases.append((name, "/admin/contact/?" + urlencode({"search": term})))
        cases += [
            (
                "search 'ith', sorted by name",
                f"/admin/contact/?search=ith&sort={sort('last_name')}",
            ),
            ("search 'ith', page 100", "/admin/contact/?search=ith&page=100"),
            (
                "search 'ith' + tag VIP",
                "/admin/contact/?"
                + urlencode({"search": "ith", f"flt0_{flt(view, t.name, 'equals')}": "VIP"}),
            ),
            ("contact details", f"/admin/contact/details/?id={f['contact']}"),
            ("contact edit form", f"/admin/contact/edit/?id={f['contact']}"),
            ("accounts list", "/admin/account/"),
            ("accounts list, page 1000", "/admin/account/?page=1000"),
            (
                "accounts sorted by name, desc",
                f"/admin/account/?sort={list(accounts.column_list).index('name')}&desc=1",
            ),
            ("accounts search", "/admin/account/?" + urlencode({"search": f["company_prefix"]})),
        ]
        return cases

    def _view(self, endpoint: str) -> ModelView:
        admin = self.app.extensions["admin"][0]
        return next(v for v in admin._views if getattr(v, "endpoint", None) == endpoint)

    def _filter_arg(self, view: ModelView, column: Any, operation: str) -> str:
        """The URL name of the plain view's filter on `column` with this operation."""
        with self.app.test_request_context():
            for index, flt in enumerate(view._filters or []):
                if flt.column is column and str(flt.operation()) == operation:
                    return view.get_filter_arg(index, flt)
        raise RuntimeError(f"plain bench: no {operation!r} filter on {column}")

    def _ours_arg(self, column: Any, operation: str) -> str:
        """The URL name of our list's filter on a column (its label may differ)."""
        view = self.ours._contact_view()
        with self.ours.app.test_request_context():
            for index, flt in enumerate(view._filters or []):
                if getattr(flt, "column", None) is column and str(flt.operation()) == operation:
                    return view.get_filter_arg(index, flt)
        return f"{column.name}_{operation}"

    def _owner_email(self, owner_id: int) -> str:
        from crm.models import User

        with self.app.app_context():
            email = self.db.session.get(User, owner_id).email
            self.db.session.remove()
        return email


def _page(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["page"][0])
