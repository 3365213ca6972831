"""Form fields shared by the admin views."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from markupsafe import Markup
from wtforms import Field, RadioField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.utils import unset_value
from wtforms.widgets import html_params

from crm.errors import FieldError
from crm.services.platform.validation import (
    MONTH_NAMES,
    YEAR_UNKNOWN,
    birthday_from_parts,
    clean_birthday,
)

BLANK = ("", "—")


def as_choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as SelectChoice objects (WTForms 3.3 deprecates tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


def blank_choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """An empty first entry, then labels like 'Germany (DE)'."""
    return as_choices([BLANK, *((code, f"{name} ({code})") for code, name in pairs)])


def _enum_coerce(enum_cls: type[enum.Enum]) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        if value in (None, "", "None"):
            return None
        return value if isinstance(value, enum_cls) else enum_cls(value)

    return coerce


class EnumSelectField(SelectField):
    """A select over a LabeledEnum that hands the model enum members, not names."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        enum_cls: type[enum.Enum],
        allow_blank: bool = False,
        **kwargs: Any,
    ):
        pairs = ([BLANK] if allow_blank else []) + enum_cls.choices()  # type: ignore[attr-defined]
        super().__init__(
            label, validators, choices=as_choices(pairs), coerce=_enum_coerce(enum_cls), **kwargs
        )


class EnumRadioField(RadioField):
    """Radio buttons over a LabeledEnum."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        enum_cls: type[enum.Enum],
        **kwargs: Any,
    ):
        super().__init__(
            label,
            validators,
            choices=as_choices(enum_cls.choices()),  # type: ignore[attr-defined]
            coerce=_enum_coerce(enum_cls),
            **kwargs,
        )


def _birthday_parts(value: date | None) -> tuple[str, str, str]:
    """(day, month, year) as the form shows them; no year is an empty Year box."""
    if value is None:
        return ("", "", "")
    return (str(value.day), str(value.month), "" if value.year == YEAR_UNKNOWN else str(value.year))


class BirthdayWidget:
    """A Day select, a Month select (by name) and a Year box on one row.

    The row carries the field's id and is a labelled group ("Birthday"); each input has its
    own label (Day, Month, Year (optional)) and id (`<id>-day`, `<id>-month`, `<id>-year`).
    Flask-Admin passes `class="form-control"` (plus `is-invalid` on an error): each control
    gets `form-control`; `is-invalid` goes on the row, so that Bootstrap shows the error below
    it (crm.css draws the row's controls red; Bootstrap's own icon would hide a short month).
    """

    def __call__(self, field: BirthdayField, **kwargs: Any) -> Markup:
        classes = str(kwargs.pop("class", "") or kwargs.pop("class_", "")).split()
        invalid = "is-invalid" in classes
        control = "form-control"
        shared = {k: v for k, v in kwargs.items() if k in ("disabled", "readonly", "required")}
        if invalid:
            shared["aria-invalid"] = "true"
        day, month, year = field.parts
        ids = {part: f"{field.id}-{part}" for part in field.PARTS}

        def params(part: str, **more: Any) -> Markup:
            return Markup(  # noqa: S704 - html_params escapes every value
                html_params(
                    id=ids[part],
                    name=f"{field.name}-{part}",
                    class_=control,
                    autocomplete=f"bday-{part}",
                    **more,
                    **shared,
                )
            )

        def select(part: str, options: Iterable[tuple[int, str]], chosen: str) -> Markup:
            items = [Markup('<option value="">{}</option>').format(BLANK[1])]
            items += [
                Markup('<option value="{}"{}>{}</option>').format(
                    value, Markup(" selected") if str(value) == chosen else "", label
                )
                for value, label in options
            ]
            return Markup("<select {}>{}</select>").format(params(part), Markup("").join(items))

        controls = (
            ("day", "Day", select("day", ((d, str(d)) for d in range(1, 32)), day)),
            ("month", "Month", select("month", enumerate(MONTH_NAMES, 1), month)),
            (
                "year",
                "Year (optional)",
                Markup("<input {}>").format(
                    params("year", type="text", inputmode="numeric", maxlength=4, value=year)
                ),
            ),
        )
        cells = Markup("").join(
            Markup(
                '<div class="crm-birthday-{}"><label class="crm-birthday-label" for="{}">{}'
                "</label>{}</div>"
            ).format(part, ids[part], label, html)
            for part, label, html in controls
        )
        return Markup('<div class="{}" role="group" id="{}" aria-label="{}">{}</div>').format(
            "crm-birthday is-invalid" if invalid else "crm-birthday",
            field.id,
            field.label.text,
            cells,
        )


class BirthdayField(Field):
    """A birthday chosen as a day, a month and an optional year; its data is a date (in
    YEAR_UNKNOWN when no year is given: the column's convention), or None.

    The form posts the three parts as `<name>-day`, `<name>-month` and `<name>-year`; a tool
    may post the whole date as `<name>` instead: `1980-05-17`, or `--05-17` without a year.
    What a person chose is shown again as chosen when the form comes back with an error.
    """

    widget = BirthdayWidget()
    PARTS = ("day", "month", "year")

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        super().process(formdata, data, extra_filters)  # the stored date, or `<name>` posted
        if formdata is None:
            return
        posted = [formdata.get(f"{self.name}-{part}") for part in self.PARTS]
        if all(value is None for value in posted):
            return
        self.parts = tuple(value or "" for value in posted)
        self.raw_data = list(self.parts)
        self.process_errors = []
        try:
            self.data = birthday_from_parts(*self.parts)
        except FieldError as exc:
            self.data = None
            self.process_errors.append(str(exc))

    def process_data(self, value: Any) -> None:
        self.data = value
        self.parts = _birthday_parts(value if isinstance(value, date) else None)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return  # not posted at all: the stored birthday stays
        text = str(valuelist[0] or "").strip()
        self.data = None
        self.parts = ("", "", "")
        if not text:
            return
        try:
            self.data = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            self.data = clean_birthday(text)  # --05-17; or its words for anything else
        self.parts = _birthday_parts(self.data)
