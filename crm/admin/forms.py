"""What every admin form shares: the form base class (CSRF, cleaned text, record pickers
that must find their record), the hidden version field, the CSRF token rule, and sections."""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla.fields import QuerySelectField, QuerySelectMultipleField
from flask_admin.form import rules
from flask_admin.model.fields import AjaxSelectField, AjaxSelectMultipleField
from flask_wtf import FlaskForm
from wtforms import FieldList, FormField, HiddenField

from crm.errors import FieldError
from crm.services.platform.validation import clean_free_text


class CrmForm(FlaskForm):
    """FlaskForm (CSRFProtect checks its token) that keeps the edited object like
    Flask-Admin's own BaseForm does: its Unique validator compares against `form._obj`."""

    def __init__(self, formdata: Any = None, obj: Any = None, prefix: str = "", **kwargs: Any):
        self._obj = obj
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, **kwargs)

    def validate(self, extra_validators: Any = None) -> bool:
        """Text with control characters (NUL, escape, ...) is refused on its field before any
        other check: a uniqueness check would send it to the database, and PostgreSQL
        refuses NUL in text with an error rather than an answer."""
        refused = False
        for field in _fields(self):
            if _is_text(field):
                try:
                    clean_free_text(field.data)
                except FieldError as exc:
                    field.errors = [str(exc)]
                    refused = True
        if refused:
            return False
        valid = super().validate(extra_validators)
        for field in _fields(self):
            if isinstance(field, _RECORD_PICKERS) and not field.errors and _unresolved(field):
                field.errors = ["Not a valid choice"]  # Flask-Admin's own wording
                valid = False
        return valid


# Fields whose posted ids become records: an id that resolves to nothing (unknown, or not
# one the user may see) would otherwise be taken as "none chosen" and clear the field.
_RECORD_PICKERS = (
    QuerySelectField,
    QuerySelectMultipleField,
    AjaxSelectField,
    AjaxSelectMultipleField,
)


def _unresolved(field: Any) -> bool:
    posted = {v for v in (field.raw_data or []) if v not in ("", "__None")}
    if isinstance(field, AjaxSelectMultipleField):
        # select2 posts the chosen ids as one value, "1,4": two records, not one.
        posted = {n.strip() for v in posted for n in v.split(field.separator) if n.strip()}
    if isinstance(field, QuerySelectMultipleField | AjaxSelectMultipleField):
        return len(posted) != len(field.data or [])
    return bool(posted) and field.data is None


def _fields(form: Any) -> list[Any]:
    """Every field of the form, inline rows' included."""
    found = []
    for field in form:
        if isinstance(field, FieldList):
            for entry in field.entries:
                found += _fields(entry.form) if isinstance(entry, FormField) else [entry]
        elif isinstance(field, FormField):
            found += _fields(field.form)
        else:
            found.append(field)
    return found


def _is_text(field: Any) -> bool:
    """A field holding typed text."""
    return isinstance(field.data, str) and field.type not in ("CSRFTokenField", "HiddenField")


class VersionField(HiddenField):
    """The version of the record the form was opened on (optimistic locking): posted back,
    compared by `CrmModelView.save_and_commit`, never copied onto the record."""

    def populate_obj(self, obj: Any, name: str) -> None:
        pass


class CsrfTokenRule(rules.BaseRule):
    """Keeps the csrf_token, the record's `expected_version` (and other hidden fields) in
    forms laid out with rules.

    Form rules drop every field they do not name; this rule names the hidden ones and
    renders nothing: the template's `hidden_tag()` emits them.
    """

    def __init__(self, *hidden: str):
        super().__init__()
        self.hidden = ["csrf_token", "expected_version", *hidden]

    @property
    def visible_fields(self) -> list[str]:
        return self.hidden

    def __call__(self, form, form_opts=None, field_args=None) -> str:
        return ""


def section(title: str, *fields: str | rules.BaseRule, open_: bool = True) -> rules.Container:
    """A collapsible card holding some fields (templates/admin/crm_lib.html)."""
    return rules.Container(
        "crm_lib.section",
        rules.NestedRule([rules.Field(f) if isinstance(f, str) else f for f in fields]),
        title=title,
        key=title.lower().replace(" ", "-"),
        open=open_,
    )


def put_errors(form: Any, errors: dict[str, list[str]]) -> str | None:
    """A service's messages on the form's fields; those that belong to no field come back
    as one text for the page to show (None: every message found its field)."""
    elsewhere: list[str] = []
    for name, found in errors.items():
        field = getattr(form, name, None)
        if field is None:
            elsewhere.extend(found)
        else:
            field.errors = list(found)
    return " ".join(elsewhere) or None
