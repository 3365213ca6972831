"""Lighter list pages: the indentation Jinja leaves in a rendered page, dropped.

Flask-Admin's list template and its macros are deeply indented and leave blank lines for
every block tag; a contact list page of 20 rows was 40% spaces. A browser shows no
difference between "\\n      " and "\\n" in the flow of a page, so each run of white space
that starts a line shrinks to that line break. What a browser does show as typed is kept
as it is: <pre>, <textarea> (and <script>, whose text is a program)."""

from __future__ import annotations

import re

_KEPT = re.compile(r"(<(pre|textarea|script)\b.*?</\2\s*>)", re.S | re.I)
_INDENT = re.compile(r"\n[ \t\r\n]+")


def without_indentation(html: str) -> str:
    """`html` with every line's leading white space and every blank line removed, outside
    <pre>, <textarea> and <script> elements."""
    parts = _KEPT.split(html)
    # split() yields text, then for each kept element: the element and its tag name.
    out = []
    for index in range(0, len(parts), 3):
        out.append(_INDENT.sub("\n", parts[index]))
        if index + 1 < len(parts):
            out.append(parts[index + 1])
    return "".join(out)
