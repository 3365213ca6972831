"""Form fields shared by the admin views."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any

from wtforms import RadioField, SelectField
from wtforms.fields.choices import SelectChoice

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
