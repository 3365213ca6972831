"""Merge fields in a message's subject and body: `{{ first_name }}`, with a fallback
`{{ first_name | default("there") }}` (used when the field is empty too), rendered by Jinja's
sandbox so a template can read the fields it is given and nothing else.

A body is written in Markdown; its HTML part is made by markdown-it with raw HTML off, so a
contact's name is text, never markup. HTML given whole (the API's `body_html`) is sanitised with
nh3 when it is saved. Every message gets an unsubscribe footer, whatever the template says."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import nh3
from jinja2 import TemplateSyntaxError, Undefined, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt

from crm.models import Contact
from crm.services.platform import validation as v

# The merge fields, by name, with what they hold (the compose page lists them).
FIELDS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "title": "Title (Mr, Dr, ...)",
    "job_title": "Job title",
    "email": "Email address",
    "account": "Account (company) name",
    "owner": "The contact's owner",
    "unsubscribe_url": "The recipient's unsubscribe link",
}
# A fallback written the way the compose page suggests.
FALLBACK_EXAMPLE = '{{ first_name | default("there") }}'
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


class TemplateProblem(v.FieldError):
    """A template that cannot be rendered: the message says what and on which line."""


def _default(value: Any, fallback: Any = "") -> Any:
    """Jinja's `default`, also for an empty field (a contact without a job title)."""
    if isinstance(value, Undefined) or value is None or value == "":
        return fallback
    return value


def _markdown_escape(value: Any) -> Any:
    """A merge field's value inside Markdown: its special characters are text."""
    if value is None:
        return ""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))


def _environment(finalize=None, autoescape: bool = False) -> SandboxedEnvironment:
    from jinja2 import StrictUndefined

    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=autoescape, finalize=finalize,
        keep_trailing_newline=True,
    )  # fmt: skip
    env.filters["default"] = env.filters["d"] = _default
    return env


_TEXT = _environment()
_MARKDOWN = _environment(finalize=_markdown_escape)
_HTML = _environment(autoescape=True)
# Line breaks typed in the message stay line breaks (a signature under "Warm regards,").
_MD = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False,
                                "typographer": False})  # fmt: skip


def _line_of(source: str, name: str) -> int:
    for number, line in enumerate(source.splitlines(), start=1):
        if re.search(r"\b" + re.escape(name) + r"\b", line):
            return number
    return 1


def check(field: str, source: str, env: SandboxedEnvironment = _TEXT) -> None:
    """Raise TemplateProblem (for `field`) when `source` has a syntax error or names a merge
    field that does not exist; the message gives the line."""
    try:
        parsed = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"Line {exc.lineno}: {exc.message}.") from None
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(FIELDS))
    if unknown:
        name = unknown[0]
        known = ", ".join("{{ " + f + " }}" for f in FIELDS)
        raise TemplateProblem(
            f"Line {_line_of(source, name)}: there is no merge field {{{{ {name} }}}}. "
            f"Use one of {known}."
        )
    try:
        env.from_string(source).render(dict.fromkeys(FIELDS, ""))
    except (SecurityError, UndefinedError, TypeError, ValueError) as exc:
        lineno = getattr(exc, "lineno", None) or 1
        raise TemplateProblem(f"Line {lineno}: {str(exc).rstrip('.')}.") from None


def check_html(field: str, source: str) -> None:
    check(field, source, _HTML)


def sanitise_html(source: str) -> str:
    """HTML written elsewhere, with scripts, styles, event handlers and unsafe links removed."""
    return nh3.clean(source, link_rel="noopener noreferrer")


def fields_of(contact: Contact, unsubscribe_url: str = "") -> dict[str, str]:
    """The merge fields' values for `contact` (an account the contact stands for alone, a
    consumer's hidden account, has no name to show)."""
    account = contact.account if contact.account_id else None
    owner = contact.owner
    return {
        "first_name": contact.first_name or "",
        "last_name": contact.last_name or "",
        "full_name": contact.full_name,
        "title": contact.title or "",
        "job_title": contact.job_title or "",
        "email": contact.email or "",
        "account": account.name if account is not None and not account.is_hidden else "",
        "owner": (owner.full_name or owner.email) if owner is not None else "",
        "unsubscribe_url": unsubscribe_url,
    }


SAMPLE_FIELDS = {
    "first_name": "Ana",
    "last_name": "Smith",
    "full_name": "Ana Smith",
    "title": "Ms",
    "job_title": "Buyer",
    "email": "ana.smith@example.com",
    "account": "Example Ltd",
    "owner": "Tom Baker",
    "unsubscribe_url": "https://crm.example.com/unsubscribe/...",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


FOOTER_TEXT = "\n\n--\nTo stop receiving these emails, unsubscribe: {url}\n"
FOOTER_HTML = (
    '<hr style="border:0;border-top:1px solid #ddd;margin:24px 0 8px">'
    '<p style="font-size:12px;color:#666">To stop receiving these emails, '
    '<a href="{url}">unsubscribe</a>.</p>'
)


class MessageTemplate:
    """A subject and body compiled once, rendered per recipient (the sender's loop)."""

    def __init__(self, subject: str, body_text: str, body_html: str | None = None,
                 footer: bool = True) -> None:  # fmt: skip
        self._subject = _TEXT.from_string(subject)
        self._text = _TEXT.from_string(body_text)
        self._markdown = _MARKDOWN.from_string(body_text)
        self._html = _HTML.from_string(body_html) if body_html else None
        self._footer = footer

    def render(self, values: Mapping[str, str]) -> Rendered:
        subject = " ".join(self._subject.render(values).split())
        text = self._text.render(values).rstrip() + "\n"
        if self._html is not None:
            html_body = self._html.render(values)
        else:
            html_body = _MD.render(self._markdown.render(values))
        url = values.get("unsubscribe_url") or ""
        if self._footer and url:
            text += FOOTER_TEXT.format(url=url)
            html_body += FOOTER_HTML.format(url=html_lib.escape(url, quote=True))
        page = (
            '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;'
            f'font-size:15px;line-height:1.5;color:#222">{html_body}</body></html>'
        )
        return Rendered(subject=subject, text=text, html=page)


@lru_cache(maxsize=32)
def compiled(subject: str, body_text: str, body_html: str | None, footer: bool = True):
    """A MessageTemplate, cached by its texts (the same campaign sends many)."""
    return MessageTemplate(subject, body_text, body_html, footer)
