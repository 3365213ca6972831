"""The contact list's filters: Flask-Admin filter objects over services.contact_filters."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from typing import Any

from flask import has_app_context
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from sqlalchemy import select

from crm.extensions import db
from crm.models import (
    Category,
    Contact,
    ContactKind,
    Criterion,
    CustomerStatus,
    MarketingList,
    ProspectStatus,
    Segment,
    User,
)
from crm.services.contacts import filters as where
from crm.services.lists import segments
from crm.services.platform import access
from crm.services.platform.validation import clean_text, country_choices

YES_NO = [("1", "Yes"), ("0", "No")]
NOBODY = "none"


class ClauseFilter(BaseSQLAFilter):
    """A filter whose WHERE clause is built by a function of the (cleaned) value."""

    def __init__(
        self,
        name: str,
        operation: str,
        build: Callable[[Any], Any],
        *,
        options: Any = None,
        clean: Callable[[str], Any] | None = None,
        on_demand: bool = False,
    ):
        super().__init__(Contact.id, name, options=options)
        # A long list of options (the countries) is not in every list page: the menu
        # loads it when the filter is chosen (ContactListing.filter_options_view).
        self.options_on_demand = on_demand
        self._operation = operation
        self._build = build
        # No control characters (PostgreSQL refuses NUL in a query's text).
        self._clean = clean or (lambda value: clean_text(value) or "")

    def clean(self, value: str) -> Any:
        return self._clean(value)

    def validate(self, value: str) -> bool:
        try:
            return self.clean(value) not in ("", None) or value == NOBODY
        except (ValueError, KeyError):
            return False

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        return query.filter(self._build(value))

    def operation(self) -> str:
        return self._operation


def _users() -> list[tuple[str, str]]:
    """(nobody), then the active users (pickers.active_users' choice) by name: their names
    alone (the menu of the Owner and the Responsible filter, read once for both)."""
    if not has_app_context():  # Flask-Admin asks once at start-up; the menu asks per request
        return []
    rows = db.session.execute(
        select(User.id, User.full_name, User.email)
        .where(User.active.is_(True))
        .order_by(User.full_name, User.email)
    )
    return [(NOBODY, "(nobody)"), *((str(pk), full_name or email) for pk, full_name, email in rows)]


def _named(model: type, *order: Any) -> Callable[[], list[tuple[str, str]]]:
    """Options (id, name) of a small table, read when the filter menu is shown."""

    def options() -> list[tuple[str, str]]:
        if not has_app_context():
            return []
        rows = db.session.execute(select(model.id, model.name).order_by(*(order or (model.name,))))
        return [(str(pk), name) for pk, name in rows]

    return options


def _lookup(model: type) -> Callable[[], list[tuple[str, str]]]:
    return _named(model, model.position, model.name)


def _classes() -> list[tuple[str, str]]:
    """The access classes this user sees (and "no class" when those are visible too)."""
    if not has_app_context():
        return []
    from flask_login import current_user

    shown = [(str(c.id), c.name) for c in access.visible_classes(current_user)]
    if access.may_see_class(current_user, None):
        shown.insert(0, (NOBODY, "(no class)"))
    return shown


_segments = _named(Segment)
_lookup_lists = _named(MarketingList)


def _in_segment(segment_id: int) -> Any:
    """Members of a static segment; for a dynamic one, the contacts its filter selects is
    the list's own job (its link opens the list with that filter)."""
    return segments.in_segment(segment_id)


def _row_id(value: str) -> int:
    """A row's id; anything else (30 digits included) is not a choice."""
    pk = access.record_id(value)
    if pk is None:
        raise ValueError(value)
    return pk


def _user_id(value: str) -> int | None:
    """An id, or None for the "(nobody)" / "(no class)" option."""
    return None if value == NOBODY else _row_id(value)


def _month(value: str) -> int:
    month = int(value)
    if not 1 <= month <= 12:
        raise ValueError(value)
    return month


def _enum(enum_cls: type) -> Callable[[str], Any]:
    return lambda value: enum_cls(value)


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in {c for c, _ in country_choices()}:
        raise ValueError(value)
    return code


def contact_filters() -> list[BaseSQLAFilter]:
    """New filter objects for one ContactView (views are built per app)."""
    return [
        ClauseFilter("Tag", "is", where.has_tag),
        ClauseFilter("Tag", "is not", where.lacks_tag),
        ClauseFilter("Category", "is", where.in_category, options=_lookup(Category), clean=_row_id),
        ClauseFilter(
            "Criterion", "is", where.has_criterion, options=_lookup(Criterion), clean=_row_id
        ),
        ClauseFilter("Owner", "is", where.owned_by, options=_users, clean=_user_id),
        ClauseFilter("Responsible", "is", where.responsible_is, options=_users, clean=_user_id),
        ClauseFilter(
            "Customer status",
            "is",
            lambda s: Contact.customer_status == s,
            options=CustomerStatus.choices(),
            clean=_enum(CustomerStatus),
        ),
        ClauseFilter(
            "Prospect status",
            "is",
            lambda s: Contact.prospect_status == s,
            options=ProspectStatus.choices(),
            clean=_enum(ProspectStatus),
        ),
        ClauseFilter(
            "Contact type",
            "is",
            lambda k: Contact.kind == k,
            options=ContactKind.choices(),
            clean=_enum(ContactKind),
        ),
        ClauseFilter("Account", "name starts with", where.in_account_named),
        ClauseFilter("City", "is", where.in_city),
        ClauseFilter(
            "Country",
            "is",
            where.in_country,
            options=country_choices,
            clean=_country,
            on_demand=True,
        ),
        ClauseFilter(
            "Birthday",
            "in month",
            where.birthday_in_month,
            options=[(str(m), calendar.month_name[m]) for m in range(1, 13)],
            clean=_month,
        ),
        ClauseFilter("Segment", "is", _in_segment, options=_segments, clean=_row_id),
        ClauseFilter(
            "Marketing list", "is", segments.in_marketing_list, options=_lookup_lists, clean=_row_id
        ),
        ClauseFilter("Access class", "is", where.in_access_class, options=_classes, clean=_user_id),
        ClauseFilter("Has email", "is", where.has_email, options=YES_NO, clean=_yes),
        ClauseFilter("Has phone", "is", where.has_phone, options=YES_NO, clean=_yes),
    ]


def _yes(value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(value)
    return value == "1"
