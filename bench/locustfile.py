"""Locust users for the load test (`python -m bench.load`, which writes the plan and reads the
results): each signs in as the bench's crm_manager, then browses, searches, opens contacts and
edits them through the real pages, like a person with a browser would (minus JavaScript).

Read by locust only (`locust -f bench/locustfile.py`), in its own gevent process: it imports
nothing of the app. Its input is the JSON plan at BENCH_LOAD_PLAN (ids, search terms, filters,
the "hot" contacts several users edit at once); its output the JSON at BENCH_LOAD_OUT: every
request's kind and time, every error, and the saves accepted and refused per contact.

An edit GETs the form, waits as if typing, and POSTs every field back (a browser's form data)
with one field changed. On a hot contact that field is the job title, a counter: "load N"
becomes "load N+1", so at the end the counter must equal the saves the server accepted; a
save that overwrote another accepted one would leave it short (a lost update). A refused save
(the page says someone else saved the contact meanwhile, `id="stale-edit"`) is a conflict,
which is expected; anything else unexpected is an error.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import gevent
from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

PLAN = json.loads(Path(os.environ["BENCH_LOAD_PLAN"]).read_text())
OUT = Path(os.environ["BENCH_LOAD_OUT"])

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_COUNTER = re.compile(r"^load (\d+)$")
_DANGER = re.compile(r'class="alert alert-danger[^"]*"[^>]*>(.*?)</div>', re.S)
_FORM_ERROR = re.compile(r'class="[^"]*invalid-feedback[^"]*"[^>]*>(.*?)</', re.S)
_TAGS = re.compile(r"<[^>]+>|\s+")

# What each page must contain to be the page asked for (not the sign-in page, not an error).
MARKERS = {
    "list": ("model-list", 'id="match-count"'),
    "details": ('id="contact-title"',),
    "edit": ('name="expected_version"',),
}

# The mix of a browsing user, and of a "hot" editor (a few users who mostly edit the same few
# contacts, so that their saves collide): kind -> weight.
BROWSER_MIX = {
    "list_first": 12,
    "list_page": 6,
    "list_sorted": 6,
    "list_filtered": 8,
    "search_name": 5,
    "search_phone": 3,
    "search_email": 3,
    "details": 10,
    "edit": 4,
    "edit_hot": 2,
}
HOT_EDITOR_MIX = {**BROWSER_MIX, "edit_hot": 40}


class Results:
    """Everything the parent needs, written once when locust quits."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.errors: list[dict] = []
        self.window = [None, None]  # first request sent, last answer received (epoch s)
        self.hot = {str(i): {"accepted": 0, "conflicts": 0} for i in PLAN["hot"]}
        self.saves = {"accepted": 0, "conflicts": 0}
        self.unknown_outcomes = 0  # saves whose outcome was never seen (the run fails)
        self.users = 0

    def sample(self, kind: str, started: float, ms: float) -> None:
        self.times.setdefault(kind, []).append(round(ms, 2))
        if self.window[0] is None or started < self.window[0]:
            self.window[0] = started
        ended = started + ms / 1000
        if self.window[1] is None or ended > self.window[1]:
            self.window[1] = ended

    def error(self, kind: str, method: str, url: str, status: int, problem: str) -> None:
        self.errors.append(
            {
                "kind": kind,
                "method": method,
                "url": url,
                "status": status,
                "problem": problem[:500],
                "at": time.time(),
            }
        )

    def write(self) -> None:
        OUT.write_text(
            json.dumps(
                {
                    "times": self.times,
                    "errors": self.errors,
                    "window": self.window,
                    "hot": self.hot,
                    "saves": self.saves,
                    "unknown_outcomes": self.unknown_outcomes,
                    "users": self.users,
                }
            )
        )


RESULTS = Results()
_user_numbers = itertools.count()


@events.quitting.add_listener
def _write_results(environment, **_kwargs) -> None:
    RESULTS.write()


class FormFields(HTMLParser):
    """The fields a browser would post from the page's Flask-Admin form (`admin-form`):
    (name, value) pairs in document order; disabled fields, unchecked boxes and buttons are
    not posted, a select without a selected option posts its first one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self._in_form = False
        self._select: dict | None = None
        self._option: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._in_form = "admin-form" in a.get("class", "").split()
            return
        if not self._in_form or "disabled" in a:
            if tag == "select" and self._in_form:
                self._select = {"name": None, "options": [], "multiple": False}
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
                return
            self.fields.append((name, a.get("value", "")))
        elif tag == "select":
            self._select = {"name": name, "options": [], "multiple": "multiple" in a}
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            self._select["options"].append(self._option)
        elif tag == "textarea" and name:
            self._textarea = {"name": name, "text": ""}

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["text"] += data
        elif self._option is not None:
            self._option["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "option":
            self._option = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea["text"]
            self.fields.append((self._textarea["name"], text[1:] if text[:1] == "\n" else text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            select, self._select = self._select, None
            if not select["name"]:
                return
            values = [
                o["value"] if o["value"] is not None else o["text"].strip()
                for o in select["options"]
                if o["selected"]
            ]
            if not values and not select["multiple"] and select["options"]:
                first = select["options"][0]
                values = [first["value"] if first["value"] is not None else first["text"].strip()]
            self.fields += [(select["name"], v) for v in values]


def form_fields(page: str) -> list[tuple[str, str]]:
    parser = FormFields()
    parser.feed(page)
    parser.close()
    return parser.fields


def _flash(page: str) -> str:
    found = _DANGER.search(page) or _FORM_ERROR.search(page)
    return _TAGS.sub(" ", found.group(1)).strip() if found else ""


class CrmUser(FastHttpUser):
    """A crm_manager with a browser: signs in once, then one action after another."""

    wait_time = between(PLAN["wait"][0], PLAN["wait"][1])
    network_timeout = float(PLAN["timeout"])
    connection_timeout = 10.0
    max_retries = 0  # a POST is never sent twice behind our back

    def on_start(self) -> None:
        self.number = next(_user_numbers)
        self.hot_editor = self.number < PLAN["hot_editors"]
        mix = HOT_EDITOR_MIX if self.hot_editor else BROWSER_MIX
        self.kinds, self.weights = list(mix), list(mix.values())
        RESULTS.users += 1
        self.sign_in()

    # ---- requests ----------------------------------------------------------------------
    def call(self, kind: str, method: str, url: str, data: list | None = None):
        """One request, timed and checked for transport errors and 5xx; returns the response,
        or None after recording an error."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if data else None
        body = urlencode(data) if data else None
        started = time.time()
        clock = time.perf_counter()
        try:
            with self.client.request(
                method,
                url,
                name=kind,
                data=body,
                headers=headers,
                allow_redirects=False,
                catch_response=True,
            ) as response:
                text = response.text or ""
                ms = (time.perf_counter() - clock) * 1000
                RESULTS.sample(kind, started, ms)
                status = response.status_code or 0
                if status == 0:  # FastHttp's error is also set for a 4xx: checked later
                    problem = f"no answer: {getattr(response, 'error', None)!r}"
                elif status >= 500:
                    problem = f"server error {status}"
                else:
                    response.success()
                    response.body = text
                    return response
                response.failure(problem)
        except Exception as exc:  # noqa: BLE001 - anything the client raises is an error
            RESULTS.sample(kind, started, (time.perf_counter() - clock) * 1000)
            problem = f"client exception: {exc!r}"
            status = 0
        RESULTS.error(kind, method, url, status, problem)
        return None

    def page(self, kind: str, url: str, marker: str) -> str | None:
        """GET a page that must answer 200 with `marker` and without an error message."""
        response = self.call(kind, "GET", url)
        if response is None:
            return None
        problem = self.unexpected(response, marker)
        if problem:
            RESULTS.error(kind, "GET", url, response.status_code, problem)
            return None
        return response.body

    def unexpected(self, response, marker: str) -> str:
        body = response.body
        if response.status_code != 200:
            where = response.headers.get("Location") or ""
            return f"answered {response.status_code}" + (f" -> {where}" if where else "")
        if not any(m in body for m in MARKERS[marker]):
            return f"not the {marker} page: {_flash(body) or body[:200]!r}"
        if "alert-danger" in body:
            return f"error message: {_flash(body)}"
        return ""

    def sign_in(self) -> None:
        response = self.call("sign-in page", "GET", "/login")
        token = _CSRF.search(response.body) if response is not None else None
        if token is None:
            if response is not None:
                RESULTS.error("sign-in page", "GET", "/login", response.status_code, "no form")
            raise StopUser()
        form = [
            ("email", PLAN["email"]),
            ("password", PLAN["password"]),
            ("csrf_token", token.group(1)),
        ]
        response = self.call("sign in", "POST", "/login", form)
        if response is None:
            raise StopUser()
        where = urlsplit(response.headers.get("Location") or "").path
        if response.status_code != 302 or where.startswith("/login"):
            problem = f"answered {response.status_code}: {_flash(response.body)}"
            RESULTS.error("sign in", "POST", "/login", response.status_code, problem)
            raise StopUser()

    # ---- what a user does --------------------------------------------------------------
    @task
    def act(self) -> None:
        getattr(self, random.choices(self.kinds, self.weights)[0])()

    def list_first(self) -> None:
        self.page("list, first page", "/admin/contact/", "list")

    def list_page(self) -> None:
        last = max(1, PLAN["pages"] - 1)  # mostly the next few pages, now and then a deep one
        page = random.randint(1, min(20, last) if random.random() < 0.8 else last)
        self.page("list, another page", f"/admin/contact/?page={page}", "list")

    def list_sorted(self) -> None:
        args = {"sort": random.choice(PLAN["sorts"])}
        if random.random() < 0.5:
            args["desc"] = "1"
        if random.random() < 0.3:
            args["page"] = random.randint(1, min(50, max(1, PLAN["pages"] - 1)))
        self.page("list, sorted", "/admin/contact/?" + urlencode(args), "list")

    def list_filtered(self) -> None:
        arg, value = random.choice(PLAN["filters"])
        args = {f"flt0_{arg}": value}
        if random.random() < 0.3:
            args["sort"] = random.choice(PLAN["sorts"])
        self.page("list, filtered", "/admin/contact/?" + urlencode(args), "list")

    def _search(self, kind: str, terms: str) -> None:
        term = random.choice(PLAN[terms])
        self.page(kind, "/admin/contact/?" + urlencode({"search": term}), "list")

    def search_name(self) -> None:
        self._search("search, name fragment", "names")

    def search_phone(self) -> None:
        self._search("search, phone fragment", "phones")

    def search_email(self) -> None:
        self._search("search, email domain", "domains")

    def details(self) -> None:
        contact = random.choice(PLAN["contacts"])
        self.page("contact details", f"/admin/contact/details/?id={contact}", "details")

    def edit(self) -> None:
        self._edit(random.choice(PLAN["contacts"]), hot=False)

    def edit_hot(self) -> None:
        self._edit(random.choice(PLAN["hot"]), hot=True)

    def _edit(self, contact: int, *, hot: bool) -> None:
        """Open the edit form, "type" for a moment, post it back with one field changed."""
        url = f"/admin/contact/edit/?{urlencode({'id': contact, 'url': '/admin/contact/'})}"
        form_page = self.page("edit form", url, "edit")
        if form_page is None:
            return
        fields = form_fields(form_page)
        names = {name for name, _ in fields}
        wanted = "job_title" if hot else "department"
        if wanted not in names or "expected_version" not in names:
            RESULTS.error("edit form", "GET", url, 200, f"the form has no {wanted} field")
            return
        if hot:
            current = dict(fields).get("job_title", "")
            found = _COUNTER.match(current.strip())
            value = f"load {int(found.group(1)) + 1 if found else 1}"
        else:
            value = f"Load test {random.randint(1, 10**6)}"
        fields = [(n, value if n == wanted else v) for n, v in fields]
        gevent.sleep(random.uniform(*PLAN["typing"]))  # other users go on meanwhile
        kind = "save (hot contact)" if hot else "save"
        if hot:
            RESULTS.unknown_outcomes += 1  # until the answer is read
        response = self.call(kind, "POST", url, fields)
        outcome = self._outcome(kind, url, response)
        if outcome in ("accepted", "conflict"):
            bucket = "accepted" if outcome == "accepted" else "conflicts"
            RESULTS.saves[bucket] += 1
            if hot:
                RESULTS.hot[str(contact)][bucket] += 1
                RESULTS.unknown_outcomes -= 1

    def _outcome(self, kind: str, url: str, response) -> str:
        """accepted (a redirect to a page saying so), conflict (the form again, with the
        stale-edit message) or error (recorded)."""
        if response is None:
            return "error"
        if response.status_code == 200 and 'id="stale-edit"' in response.body:
            return "conflict"
        if response.status_code != 302:
            problem = f"answered {response.status_code}: {_flash(response.body) or 'no message'}"
            RESULTS.error(kind, "POST", url, response.status_code, problem)
            return "error"
        target = response.headers.get("Location") or ""
        parts = urlsplit(target)
        follow = parts.path + (f"?{parts.query}" if parts.query else "")
        landing = self.call("list after a save", "GET", follow)
        if landing is None:
            return "error"
        if landing.status_code == 200 and "Record was successfully saved." in landing.body:
            return "accepted"
        problem = (
            f"the save redirected to {target}, which answered {landing.status_code} "
            f"without the success message: {_flash(landing.body) or landing.body[:200]!r}"
        )
        RESULTS.error(kind, "POST", url, response.status_code, problem)
        return "error"
