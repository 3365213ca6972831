"""Form fields shared by the admin views."""

from __future__ import annotations

import enum
from typing import Any

from wtforms import RadioField, SelectField


class EnumSelectField(SelectField):
    """A select over a LabeledEnum that hands the model enum members, not names."""

    def __init__(self, label: str | None = None, validators: Any = None, *,
                 enum_cls: type[enum.Enum], allow_blank: bool = False, **kwargs: Any):
        choices = ([("", "—")] if allow_blank else []) + enum_cls.choices()  # type: ignore[attr-defined]
        self.enum_cls = enum_cls

        def coerce(value: Any) -> Any:
            if value in (None, "", "None"):
                return None
            return value if isinstance(value, enum_cls) else enum_cls(value)

        super().__init__(label, validators, choices=choices, coerce=coerce, **kwargs)

    def pre_validate(self, form: Any) -> None:
        if self.data is None and self.choices and self.choices[0][0] == "":
            return
        super().pre_validate(form)

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist:
            try:
                self.data = self.coerce(valuelist[0])
            except ValueError:
                raise ValueError(self.gettext("Invalid Choice: could not coerce.")) from None


class EnumRadioField(RadioField):
    """Radio buttons over a LabeledEnum."""

    def __init__(self, label: str | None = None, validators: Any = None, *,
                 enum_cls: type[enum.Enum], **kwargs: Any):
        def coerce(value: Any) -> Any:
            if value in (None, "", "None"):
                return None
            return value if isinstance(value, enum_cls) else enum_cls(value)

        super().__init__(label, validators, choices=enum_cls.choices(), coerce=coerce,  # type: ignore[attr-defined]
                         **kwargs)


def blank_choices(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]],
                  label_with_code: bool = True) -> list[tuple[str, str]]:
    """Choices with an empty first entry; labels like 'Germany (DE)'."""
    shown = [(code, f"{name} ({code})" if label_with_code else name) for code, name in pairs]
    return [("", "—"), *shown]
