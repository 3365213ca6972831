"""The admin's list filters: Flask-Admin's column filters, with enum filters that take what
their menus offer and integer filters that refuse numbers no database column holds; and
`WhereFilter`, a filter built from any WHERE clause (tasks, appointments).

Flask-Admin's enum filters offer the column's stored values ("new") but look the member up
by name (`Enum["NEW"]`): choosing a status in the menu, or any unknown value typed into the
address, raised KeyError (a server error). Here a value is looked up as stored, an unknown
one is refused as invalid (the filter is then ignored, as Flask-Admin does for a bad date),
and the menu shows the members' labels.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.model import filters


def _member(enum_class: Any, value: Any) -> enum.Enum:
    if isinstance(value, enum_class):
        return value
    try:
        return enum_class(value)
    except ValueError:
        raise ValueError(f"Not a choice: {value!r}") from None


class _ByValue:
    """An enum filter looking its value (or, for a list, each value) up as stored."""

    enum_class: Any

    def clean(self, value: Any) -> Any:
        if self.enum_class is None:
            return value
        if isinstance(self, sqla_filters.FilterInList):  # "a,b": the list filters split it
            values = sqla_filters.FilterInList.clean(self, value)
            return [_member(self.enum_class, v) for v in values]
        return _member(self.enum_class, value)


class EnumEqual(_ByValue, sqla_filters.EnumEqualFilter):
    pass


class EnumNotEqual(_ByValue, sqla_filters.EnumFilterNotEqual):
    pass


class EnumInList(_ByValue, sqla_filters.EnumFilterInList):
    pass


class EnumNotInList(_ByValue, sqla_filters.EnumFilterNotInList):
    pass


class _InRange:
    """An integer filter refusing values beyond 64 bits (SQLite raised OverflowError,
    PostgreSQL an out-of-range error: a server error either way)."""

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)  # type: ignore[misc]
        for number in cleaned if isinstance(cleaned, list) else [cleaned]:
            if isinstance(number, int) and not -(2**63) < number < 2**63:
                raise ValueError(f"Out of range: {value!r}")
        return cleaned


class IntEqual(_InRange, sqla_filters.IntEqualFilter):
    pass


class IntNotEqual(_InRange, sqla_filters.IntNotEqualFilter):
    pass


class IntGreater(_InRange, sqla_filters.IntGreaterFilter):
    pass


class IntSmaller(_InRange, sqla_filters.IntSmallerFilter):
    pass


class IntInList(_InRange, sqla_filters.IntInListFilter):
    pass


class IntNotInList(_InRange, sqla_filters.IntNotInListFilter):
    pass


class CrmFilterConverter(sqla_filters.FilterConverter):
    int_filters = (
        IntEqual,
        IntNotEqual,
        IntGreater,
        IntSmaller,
        sqla_filters.FilterEmpty,
        IntInList,
        IntNotInList,
    )
    enum = (EnumEqual, EnumNotEqual, sqla_filters.EnumFilterEmpty, EnumInList, EnumNotInList)

    @filters.convert("enum")
    def conv_enum(self, column: Any, name: str, options: Any = None, **kwargs: Any) -> list[Any]:
        enum_class = getattr(column.type, "enum_class", None)
        if not options and enum_class is not None:
            options = [(m.value, str(m)) for m in enum_class]
        return super().conv_enum(column, name, options, **kwargs)


class WhereFilter(sqla_filters.BaseSQLAFilter):
    """A list filter whose WHERE clause is built from its value, checked by `clean` (which
    raises ValueError for a value it refuses)."""

    def __init__(
        self,
        column: Any,
        name: str,
        operation: str,
        build: Callable[[Any], Any],
        *,
        clean: Callable[[str], Any],
        options: Any = None,
    ):
        super().__init__(column, name, options=options)
        self._operation, self._build, self._clean = operation, build, clean

    def validate(self, value: str) -> bool:
        try:
            self._clean(value)
        except (ValueError, KeyError, TypeError):
            return False
        return True

    def clean(self, value: str) -> Any:
        return self._clean(value)

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        return query.filter(self._build(value))

    def operation(self) -> str:
        return self._operation
