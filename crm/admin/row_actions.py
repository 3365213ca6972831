"""The list rows' view, edit and delete buttons, rendered cheaply.

Flask-Admin renders each row's buttons through Jinja macros: two `url_for` calls and a
whole delete form (its id, return address and CSRF token fields rendered by WTForms) per
row, a quarter of a list page's time and a fifth of its bytes. The view and edit links are
the same for every row but the id: they are rendered once per page with a marker in place
of the id, then copied. The delete buttons all submit one form of the page (HTML's `form`
attribute), which carries the return address and the CSRF token once; each button posts
its row's id. The markup, titles and the confirmation are Flask-Admin's.

Flask-Admin builds the actions anew for each list page (`get_list_row_actions`), so what
an action renders once lives for one page.
"""

from __future__ import annotations

from typing import Any

from flask_admin.model.template import DeleteRowAction, EditRowAction, ViewRowAction
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_context
from markupsafe import Markup, escape

_ROW = "crmrowid0marker"  # stands for a row's id in a rendered link
DELETE_FORM_ID = "row-delete-form"


def _simple(row_id: Any) -> str | None:
    """A row id that can replace the marker as it is (a number), else None."""
    text = str(row_id)
    return text if text.isdigit() else None


class _OnceRendered:
    """A view or edit link rendered for the first row with a marker, then copied."""

    _html: Markup | None = None

    @pass_context
    def render_ctx(self, context: Any, row_id: Any, row: Any) -> Any:
        key = _simple(row_id)
        if key is None:  # a composite or text key: the usual macro
            return super().render_ctx(context, row_id, row)  # type: ignore[misc]
        if self._html is None:
            # The macro's Markup (escape() keeps it as it is).
            self._html = escape(super().render_ctx(context, _ROW, row))  # type: ignore[misc]
        return self._html.replace(_ROW, key)  # Markup: the id is escaped (it is digits)


class ViewOnce(_OnceRendered, ViewRowAction):
    pass


class EditOnce(_OnceRendered, EditRowAction):
    pass


class DeleteInSharedForm(DeleteRowAction):
    """Each row's delete button submits the page's one delete form with its row's id; the
    form (return address, CSRF token) comes with the first row's button."""

    _button: Markup | None = None

    @pass_context
    def render_ctx(self, context: Any, row_id: Any, row: Any) -> Any:
        key = _simple(row_id)
        if key is None:
            return super().render_ctx(context, row_id, row)
        if self._button is not None:
            return self._button.replace(_ROW, key)
        get_url = context.resolve("get_url")
        standard = escape(super().render_ctx(context, row_id, row))
        # Flask-Admin's button as its macro renders it (title and confirmation included),
        # given the shared form and the row's id.
        start = standard.index("<button ") + len("<button ")
        rest = standard[start : standard.index("</button>") + len("</button>")]
        self._button = (
            Markup(
                '<button type="submit" class="row-delete" form="{}" name="id" value="{}" '
            ).format(DELETE_FORM_ID, _ROW)
            + rest
        )
        form = Markup(
            '<form id="{id}" class="d-none" method="POST" action="{action}">'
            '<input type="hidden" name="url" value="{url}">'
            '<input type="hidden" name="csrf_token" value="{token}"></form>'
        ).format(
            id=DELETE_FORM_ID,
            action=get_url(".delete_view"),
            url=context.resolve("return_url") or "",
            token=generate_csrf(),
        )
        return form + self._button.replace(_ROW, key)


def rendered_once(actions: list[Any]) -> list[Any]:
    """`actions` with Flask-Admin's own view, edit and delete buttons replaced by the cheap
    ones (any other action, or a modal one, is kept as it is)."""
    cheap = {ViewRowAction: ViewOnce, EditRowAction: EditOnce, DeleteRowAction: DeleteInSharedForm}
    return [cheap[type(a)]() if type(a) in cheap else a for a in actions]
