"""How an admin page commits its work or explains why not: `commit_or_explain`, one context
manager for every admin view.

    with commit_or_explain(form, what="contact") as outcome:
        service.change(current_user, record, ...)
    if not outcome:
        return self.render(...)  # the form again, its errors on its fields

The work runs in the block; leaving it normally commits, a domain error rolls everything
back and is explained instead of raised:
- ValidationFailed: with a form, each message goes to its field (`attach`, inline rows
  included when the view passes its own) and one flash says nothing was saved; without a
  form, each message is flashed;
- StaleEditError (a stale form, or a write conflict with a simultaneous save): on the form's
  `expected_version` when it has one, and flashed;
- any other DomainError: flashed.
`prefix` starts every flashed message ("Not converted: "); `quiet=True` flashes nothing and
leaves the explanation to the caller (`outcome.errors`, `outcome.message`). To leave the
block without committing, call `outcome.discard()` (a `return` inside it would commit).

`RefusesWriteConflicts` is the safety net behind it: a write conflict that escapes a page's
own handling is rolled back and answered with a message and a way back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin.helpers import get_redirect_target, is_safe_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from crm.errors import DomainError, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.services.platform.write_conflicts import refusal, refused_on_conflict

NOTHING_SAVED = "Nothing was saved: please correct the fields marked below."


class Outcome:
    """What became of the block: true when committed; else the refusal (`error`), its
    field errors (`errors`, empty unless ValidationFailed) and one line saying it
    (`message`)."""

    def __init__(self) -> None:
        self.saved = False
        self.discarded = False
        self.error: DomainError | None = None
        self.errors: dict[str, list[str]] = {}

    def __bool__(self) -> bool:
        return self.saved

    @property
    def stale(self) -> bool:
        return isinstance(self.error, StaleEditError)

    @property
    def message(self) -> str:
        if self.errors:
            return " ".join(m for messages in self.errors.values() for m in messages)
        return self.error.message if self.error is not None else ""

    def discard(self) -> None:
        """Roll the block's work back instead of committing it (the outcome stays false)."""
        self.discarded = True


def attach_errors(
    form: Any, errors: dict[str, list[str]], find: Callable[[str], Any] | None = None
) -> None:
    """Put a service's field errors on the form's fields (flash those with no field);
    `find(key)` finds a key's field where it is not simply the form's attribute (an inline
    row's field)."""
    for key, messages in errors.items():
        field = find(key) if find is not None else getattr(form, key, None)
        if field is None:
            for message in messages:
                flash(message, "error")
            continue
        field.errors = [*list(field.errors or []), *messages]


@contextmanager
def commit_or_explain(
    form: Any = None,
    *,
    what: str = "record",
    prefix: str = "",
    quiet: bool = False,
    conflict_message: str | None = None,
    attach: Callable[[Any, dict[str, list[str]]], None] = attach_errors,
) -> Iterator[Outcome]:
    outcome = Outcome()
    try:
        with refused_on_conflict(what, message=conflict_message):
            yield outcome
            if outcome.discarded:
                db.session.rollback()
                return
            db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        outcome.error = exc
        if isinstance(exc, ValidationFailed):
            outcome.errors = exc.errors
        _explain(outcome, form, prefix, quiet, attach)
        return
    outcome.saved = True


def _explain(outcome: Outcome, form: Any, prefix: str, quiet: bool, attach: Callable) -> None:
    exc = outcome.error
    if isinstance(exc, ValidationFailed):
        if form is not None:
            attach(form, exc.errors)
            if not quiet:
                flash(prefix + NOTHING_SAVED, "error")
        elif not quiet:
            for messages in exc.errors.values():
                for message in messages:
                    flash(prefix + message, "error")
        return
    if isinstance(exc, StaleEditError) and form is not None and hasattr(form, "expected_version"):
        form.expected_version.errors = [exc.message]
    if not quiet:
        flash(prefix + exc.message, "error")


# What the admin's safety net says when a write conflict escapes a page's own handling.
CHANGED_MEANWHILE = (
    "Someone else changed these records at the same moment. Nothing was saved: look at "
    "them again, then repeat what you did."
)


class RefusesWriteConflicts:
    """Every admin page: a concurrent write conflict (crm.services.platform.write_conflicts) that
    escapes the page's own handling (a button's POST, an action) is rolled back and
    answered with a message and a way back, never a 500. Forms refuse earlier and better,
    with the form kept (`CrmModelView.save_and_commit`)."""

    def _run_view(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._run_view(fn, *args, **kwargs)  # type: ignore[misc]
        except (StaleDataError, DBAPIError) as exc:
            if refusal(exc) is None:
                raise
            db.session.rollback()
            flash(CHANGED_MEANWHILE, "error")
            return redirect(_way_back())


def _way_back() -> str:
    """Where a refused request returns: its `url`, else the page it came from, else (for a
    POST) itself; a GET that failed goes home rather than round again."""
    referrer = request.referrer
    if referrer and is_safe_url(referrer) and request.method != "GET":
        return get_redirect_target() or referrer
    if request.method != "GET":
        return get_redirect_target() or request.url
    return url_for("admin.index")
