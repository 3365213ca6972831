"""No history entry shown in the app reads like a database dump. Generated over every model
the history records: an entry changing each of its columns (and its many-to-many lists) is
shown on the contact's History tab, in its activity feed and in Administration > History,
and none of them shows a column's name, an id, a raw enumeration value, an internal column
or a time with microseconds or "+00:00"."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Numeric, inspect, select

from crm.extensions import db
from crm.models import AuditEntry
from crm.models.base import utcnow
from crm.services.contacts.saving import create_contact
from tests.conftest import login


def _audited() -> list[type]:
    return sorted(
        (m.class_ for m in db.Model.registry.mappers if getattr(m.class_, "__audit__", False)),
        key=lambda c: c.__name__,
    )


AUDITED = _audited()
# Kept by the rules from other fields or by the machinery: never shown as a change.
INTERNAL = ("version", "search_text", "name_key", "has_phone", "city_key", "birthday_month",
            "e164", "stored_name", "sha256", "uid", "sequence", "geocode_source",
            "created_at", "updated_at", "is_hidden")  # fmt: skip
MISSING = 424242  # a row deleted since (history outlives rows)
OLD_TIME, NEW_TIME = "2026-11-23T14:30:12.345678+00:00", "2026-11-24T09:05:00.123456+00:00"
FORBIDDEN = [
    (re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b"), "a snake_case name"),
    (re.compile(r"_id\b"), "an _id"),
    (re.compile(r"\bid\b\s*:", re.I), "an 'id:'"),
    (re.compile(r"\bids?\b\s*\(", re.I), "a list of ids"),
    (re.compile(r"\d\d:\d\d:\d\d\.\d"), "microseconds"),
    (re.compile(r"\+00:00"), "a UTC offset"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d"), "an ISO timestamp"),
    (re.compile(r"[{}\[\]]"), "a Python dict or list"),
    (re.compile(r"#\d"), "a record number"),
]


def _entity_type(model: type) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()


def _some_id(model: type) -> int | None:
    return db.session.scalar(select(model.id).order_by(model.id).limit(1))


def _values(model: type) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """{column: [old, new]} for every column and list of `model`, and what each new value
    must read as (a referenced row's name, an enumeration's label)."""
    changes: dict[str, list[Any]] = {}
    expected: dict[str, str] = {}
    mapper = inspect(model)
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        key = attr.key
        if key == "id":
            continue
        enum_class = getattr(column.type, "enum_class", None)
        if column.foreign_keys:
            target = next(iter(column.foreign_keys)).column.table
            target_model = next(
                m.class_ for m in db.Model.registry.mappers if m.local_table is target
            )
            row_id = _some_id(target_model)
            changes[key] = [None, row_id or MISSING]
            if row_id and key not in (getattr(model, "__audit_parent__", None), *INTERNAL):
                expected[key] = str(db.session.get(target_model, row_id))
        elif enum_class is not None:
            members = list(enum_class)
            changes[key] = [members[0].value, members[-1].value]
            expected[key] = members[-1].label
        elif isinstance(column.type, DateTime):
            changes[key] = [OLD_TIME, NEW_TIME]
            if key not in INTERNAL:
                expected[key] = "2026-11-24 10:05"  # office time (Paris), to the minute
        elif isinstance(column.type, Date):
            changes[key] = ["2026-05-17", "2026-06-01"]
        elif isinstance(column.type, Boolean):
            changes[key] = [False, True]
        elif isinstance(column.type, Numeric):
            changes[key] = ["10.50", "12.00"]
        elif isinstance(column.type, Float):
            changes[key] = [1.5, 2.5]
        elif isinstance(column.type, Integer):
            changes[key] = [1, 2]
        else:
            changes[key] = ["text before", "text after"]
    for rel in mapper.relationships:
        if rel.secondary is None:
            continue
        row_id = _some_id(rel.mapper.class_)
        changes[rel.key] = [[], [row_id or MISSING]]
        if row_id:
            expected[rel.key] = str(db.session.get(rel.mapper.class_, row_id))
    return changes, expected


def _text(page: str, start: str, end: str) -> str:
    """The visible text of the part of `page` from the element `start` to `end`."""
    part = page[page.index(start) :]
    part = part[: part.index(end)]
    part = re.sub(r"<script.*?</script>", " ", part, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", part)))


def _clean_user(role: str, name: str, make_user):
    user = make_user(role)
    user.full_name = name
    db.session.commit()
    return user


@pytest.fixture
def scene(app, client, make_user):
    """A contact with something of every kind to point at, an administrator signed in, and
    the office in Paris."""
    from crm.models import AccessClass, Category, Criterion, Tag

    app.config["CRM_TIMEZONE"] = "Europe/Paris"
    manager = _clean_user("crm_manager", "Maria Lopez", make_user)
    admin = _clean_user("crm_admin", "Alex Admin", make_user)
    ana = create_contact(manager, {"first_name": "Ana", "last_name": "Smith"})
    create_contact(manager, {"first_name": "Bob", "last_name": "Jones"})
    db.session.add_all([AccessClass(name="Key accounts"), Tag(name="VIP", key="vip"),
                        Category(name="Press desk"), Criterion(name="Plays golf")])  # fmt: skip
    db.session.commit()
    login(client, admin.email)
    return ana


def _entries(model: type, contact) -> list[AuditEntry]:
    changes, _expected = _values(model)
    kind = _entity_type(model)
    made = [
        AuditEntry(at=utcnow(), user_id=None, user_email="someone@example.com", action="update",
                   entity_type=kind, entity_id=1, contact_id=contact.id,
                   summary=f"Update {kind} Something", changes=changes),
        AuditEntry(at=utcnow(), action="create", entity_type=kind, entity_id=1,
                   contact_id=contact.id, summary=f"Create {kind} Something",
                   changes={k: [None, v[1]] for k, v in changes.items()}),
        AuditEntry(at=utcnow(), action="delete", entity_type=kind, entity_id=1,
                   contact_id=contact.id, summary=f"Delete {kind} Something",
                   changes={k: [v[0], None] for k, v in changes.items()}),
    ]  # fmt: skip
    db.session.add_all(made)
    db.session.commit()
    return made


def _check(text: str, where: str, model: type) -> None:
    text = re.sub(r"\(crm_[a-z_]+\)", "", text)  # a role is named with its code
    for pattern, what in FORBIDDEN:
        found = pattern.search(text)
        assert found is None, f"{where} of a {model.__name__} shows {what}: {found.group()!r}"
    for key in INTERNAL:
        label = key.replace("_", " ").capitalize()
        assert f"{label}:".casefold() not in text.casefold(), f"{where} shows {label}"
    for key, column in inspect(model).columns.items():
        enum_class = getattr(column.type, "enum_class", None)
        for member in enum_class or ():
            if member.value != member.label:
                raw = re.compile(rf"(?:: |→ ){re.escape(member.value)}(?: |$)")
                assert not raw.search(text), f"{where} shows {member.value!r} ({key})"


@pytest.mark.parametrize("model", AUDITED, ids=lambda m: m.__name__)
def test_no_history_entry_shows_an_internal_label_or_a_raw_value(client, scene, model):
    ana = scene
    made = _entries(model, ana)
    _changes, expected = _values(model)
    card = client.get(f"/admin/contact/details/?id={ana.id}&tab=history").get_data(as_text=True)
    tab = _text(card, 'id="history-table"', "</table>")
    feed = _text(card, 'id="activity-feed"', "</ul>\n</div>")
    listing = client.get("/admin/history/").get_data(as_text=True)
    admin_list = _text(listing, "model-list", "</table>")
    for where, text in (("the History tab", tab), ("the activity feed", feed),
                        ("Administration > History", admin_list)):  # fmt: skip
        _check(text, where, model)
    for where, text in (("the History tab", tab), ("Administration > History", admin_list)):
        for key, words in expected.items():
            assert words in text, f"{where} does not show {words!r} for {model.__name__}.{key}"
    for entry in made:
        page = client.get(f"/admin/history/details/?id={entry.id}").get_data(as_text=True)
        _check(_text(page, "<table", "</table>"), "an entry's details page", model)


def test_history_names_the_contacts_fields_as_its_form_does(app, client, login_as):
    """One table of labels (crm.models.labels) for the form's fields and the history."""
    from crm.models import Contact
    from crm.models.labels import field_label

    login_as("crm_manager")
    page = client.get("/admin/contact/new/").get_data(as_text=True)
    found = re.findall(r"<label[^>]*for=\"([a-z_]+)\"[^>]*>([^<]+)<", page)
    labels = {name: html.unescape(text).strip() for name, text in found}
    mapper = inspect(Contact)
    compared = 0
    for name, label in labels.items():
        if name in mapper.relationships:
            rel = mapper.relationships[name]
            if rel.secondary is None and rel.direction.name != "MANYTOONE":
                continue  # phones, addresses: rows of their own, with their own labels
            key = name if rel.secondary is not None else next(iter(rel.local_columns)).key
        elif name in mapper.columns:
            key = name
        else:
            continue
        if name == "title":  # the form adds examples: "Title (Mr, Ms, Dr...)"
            continue
        compared += 1
        assert field_label("contacts", key) == label, name
    assert compared > 20
