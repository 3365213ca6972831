"""Checks on what the server sends back: no live markup from a payload, no script links,
no spreadsheet formulas, and the field errors of a refused form."""

from __future__ import annotations

import csv
import html as html_module
import io
import re
from html.parser import HTMLParser

from crm.services.platform.validation import clean_text

# Markup a payload would leave in a page if it were not escaped.
RAW_MARKUP = (
    "<script>alert(1)",
    "<img src=x onerror",
    '"><img',
    "' onmouseover='alert(1)",
)
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")
# Flask-Admin's own do-nothing links (menus, inline rows), not from any payload.
OWN_SCRIPT_LINKS = {"javascript:void(0)", "javascript:void(0);"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SECRET = "test-secret-key"  # SECRET_KEY of the test app: a template payload must not show it
# How many pages and exports were checked (printed under the test results).
CHECKED = {"pages": 0, "CSV exports": 0}


def _browser_url(value: str) -> str:
    """A URL as a browser reads its scheme: surrounding spaces and control characters
    dropped, tabs and newlines inside removed, case ignored."""
    value = "".join(ch for ch in value if ch not in "\t\n\r")
    return value.strip("".join(chr(i) for i in range(0x21))).lower()


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            value = value or ""
            if name in ("onerror", "onmouseover") or (name.startswith("on") and "alert" in value):
                self.problems.append(f"event handler from a payload: <{tag} {name}={value!r}>")
            url = _browser_url(value)
            if (
                name in URL_ATTRIBUTES
                and url.startswith(SCRIPT_SCHEMES)
                and url not in OWN_SCRIPT_LINKS
            ):
                self.problems.append(f"script link: <{tag} {name}={value!r}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.problems.append("an <img src=x> from a payload")
        if tag == "script":
            self._in_script = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "alert(1)" in data:
            self.problems.append(f"a payload inside a <script>: {data.strip()[:80]!r}")


def page_problems(html: str) -> list[str]:
    """What makes a page unsafe: raw payload markup, event handlers, script links, a
    rendered template expression."""
    CHECKED["pages"] += 1
    problems = [f"raw markup {raw!r}" for raw in RAW_MARKUP if raw in html]
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    problems += scanner.problems
    if SECRET in html:
        problems.append("the SECRET_KEY is shown (a template payload was rendered)")
    return problems


def assert_safe_page(response, where: str) -> str:
    """A 200 page without live payload markup; returns its text."""
    return assert_safe_page_status(response, 200, where)


def assert_safe_page_status(response, status: int, where: str) -> str:
    assert response.status_code == status, f"{where}: status {response.status_code}"
    text = response.get_data(as_text=True)
    problems = page_problems(text)
    assert not problems, f"{where}: " + "; ".join(problems)
    return text


def csv_problems(text: str) -> list[str]:
    """Cells a spreadsheet would run as a formula."""
    CHECKED["CSV exports"] += 1
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    problems = []
    for row in body:
        for column, cell in zip(header, row, strict=True):
            if cell.startswith(FORMULA_START):
                problems.append(f"column {column}: {cell[:60]!r}")
    if SECRET in text:
        problems.append("the SECRET_KEY is in the export")
    return problems


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def neutralised(value: str) -> str:
    """How the export shows a cell: formulas (and quoted ones) behind one more quote."""
    quoted = re.match(r"'+[=+\-@\t\r]", value)
    return "'" + value if value.startswith(FORMULA_START) or quoted else value


_CONTROL = re.compile(r'<(?:input|select|textarea)\b[^>]*?\bname="([^"]+)"')
_FEEDBACK = re.compile(r'<div class="invalid-feedback">(.*?)</div>', re.S)


def errors_by_field(html: str) -> dict[str, str]:
    """The messages shown under the form's fields, by field name (the control just before
    each message is its field)."""
    found: dict[str, str] = {}
    for match in _FEEDBACK.finditer(html):
        controls = list(_CONTROL.finditer(html, 0, match.start()))
        name = controls[-1].group(1) if controls else "?"
        text = html_module.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))
        found[name] = " ".join(text.split())
    return found


def flashed_errors(html: str) -> list[str]:
    """The error messages flashed at the top of a page."""
    found = re.findall(r'<div class="alert alert-danger[^"]*"[^>]*>(.*?)</div>', html, re.S)
    return [" ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", f)).split()) for f in found]


_UNWANTED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def control_characters(value: str) -> list[str]:
    """Control characters (but tab and newlines) in a stored value."""
    return [repr(ch) for ch in _UNWANTED.findall(value)]


def accepted_forms(payload: str, kind: str = "text") -> set[str]:
    """The values a payload may be stored as: verbatim (trimmed), without its control
    characters, spaces collapsed (names of tags and lists), lower-cased (emails),
    behind https:// (web addresses)."""
    forms = {payload.strip(), clean_text(payload) or "", " ".join(payload.split())}
    if kind == "email":
        forms |= {f.lower() for f in forms}
    if kind == "url":
        forms |= {"https://" + f for f in forms}
    return forms - {""}
