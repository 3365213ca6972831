"""History entries in people's words: the one formatter behind the contact's History tab, its
activity feed and Administration > History.

An entry stores column names and raw values ({"phone_type_id": [1, 2]}); this says them as
the forms do: labels from crm.models.labels, referenced rows by their names, enumerations
by their labels, times in the office's time zone to the minute, bookkeeping columns left
out. Events that are more than a row's change (a merge, a bulk action, an import) become a
sentence with their counts and a link."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, select
from sqlalchemy.orm import Mapper

from crm.extensions import db
from crm.models import Account, AuditEntry, Contact, ImportJob, Role, User
from crm.models.labels import field_label
from crm.models.user import ROLE_NAMES
from crm.services.platform.local_time import local_text
from crm.services.platform.validation import birthday_shown, country_choices, language_choices

# Kept by the rules from other columns, or bookkeeping: never a change a person made.
HIDDEN = frozenset({"id", "version", "created_at", "updated_at", "search_text", "name_key",
                    "has_phone", "city_key", "birthday_month", "e164", "formatted",
                    "stored_name", "sha256", "uid", "sequence", "geocode_source", "latitude",
                    "longitude", "is_hidden", "contact_sample", "contact_ids", "tag_ids",
                    "merge_id", "merged_ids", "restored_ids", "lead_id", "guard", "method",
                    "dry_run", "count", "format"})  # fmt: skip
# Records as a sentence names them ("the social link ...").
RECORD_WORDS = {
    "social_link": "social link",
    "contact_file": "file",
    "access_class": "access class",
    "api_token": "API token",
    "import_job": "import",
    "marketing_list": "marketing list",
    "user": "login",
}
# Rows that belong to a contact: added to it and removed from it, not created and deleted.
_CHILDREN = {"phone", "address", "social_link", "note", "comment", "contact_file",
             "connection", "interaction", "order", "payment", "task"}  # fmt: skip
_ROW_VERBS = {"create": "created", "update": "updated", "delete": "deleted"}
_CHILD_VERBS = {"create": "added", "update": "changed", "delete": "removed"}
# Event entries whose own summary is already a sentence in words.
_EVENT_WORDS = {
    "login": "signed in",
    "login_failed": "failed to sign in",
    "login_refused": "was refused sign-in (too many failures)",
    "set_password": "set the password of their login",
    "password_reset": "asked for a new password",
    "reset_refused": "was refused a new password (too many requests)",
    "sessions_ended": "was signed out everywhere",
    "send_invitation": "mailed an invitation",
    "send_cancellation": "mailed a cancellation",
    "unsubscribe": "unsubscribed from marketing email (their link)",
    "export": "exported",
    "convert": "converted a lead into this contact",
    "merge_tags": "merged tags",
    "rename_tag": "renamed a tag",
    "delete_tag": "deleted a tag",
}
# Bulk actions by the change they record: (what was done, the value's model or None).
_BULK = {
    "tags_added": "tagged {value}",
    "tags_removed": "removed the tag {value}",
    "responsible_id": "made {value} responsible",
    "access_class_id": "put in the access class {value}",
    "category": "filed under {value}",
    "segment": "added to the segment {value}",
    "marketing_list": "added to the marketing list {value}",
    "deleted": "moved to the trash",
}
_TABLE_WORDS = {"contact_tags": "tags", "contact_categories": "categories",
                "contact_criteria": "criteria", "contact_accounts": "other accounts",
                "deal_contacts": "deals", "appointment_contacts": "appointments",
                "social_links": "social links", "contact_files": "files",
                "audit_entries": "history entries", "marketing_list_members": "marketing lists",
                "imported_rows": "imported rows", "segment_members": "segments",
                "contact_logins": "logins"}  # fmt: skip


@dataclass
class Change:
    field: str
    old: str
    new: str


@dataclass
class HistoryItem:
    """An entry as shown: when (office time), who (by name), what happened (a sentence that
    starts in lower case, to follow the name: "updated the contact Ana Smith"), a link
    (endpoint and its arguments) and each changed field in words."""

    entry: AuditEntry
    changes: list[Change]
    touched: int | None  # how many contacts a bulk entry names
    when: str = ""
    who: str = ""
    what: str = ""
    link: tuple[str, dict[str, Any]] | None = None
    fields: list[str] = field(default_factory=list)  # the changed fields' labels
    contact: str = ""  # the name of the contact it belongs to

    @property
    def headline(self) -> str:
        """What happened, as a sentence of its own."""
        return self.what[:1].upper() + self.what[1:]


@lru_cache(maxsize=1)
def _mappers() -> dict[str, Mapper]:
    """Every mapped model by the name history files it under ("social_link")."""
    return {_snake(m.class_.__name__): m for m in db.Model.registry.mappers}


@lru_cache(maxsize=1)
def _by_table() -> dict[str, type]:
    return {m.local_table.name: m.class_ for m in db.Model.registry.mappers}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    return dict(country_choices())


@lru_cache(maxsize=1)
def _languages() -> dict[str, str]:
    return dict(language_choices())


class _Names:
    """The names of the rows a page of entries points at, one query per model."""

    def __init__(self) -> None:
        self.wanted: dict[type, set[int]] = {}
        self.found: dict[type, dict[int, str]] = {}

    def want(self, model: type | None, ids: Any) -> None:
        if model is None:
            return
        for i in ids if isinstance(ids, list | tuple | set) else [ids]:
            if isinstance(i, int) and not isinstance(i, bool):
                self.wanted.setdefault(model, set()).add(i)

    def load(self) -> None:
        for model, ids in self.wanted.items():
            rows = db.session.scalars(select(model).where(model.id.in_(ids)))
            self.found[model] = {row.id: _name_of(row) for row in rows}

    def name(self, model: type, row_id: Any) -> str:
        if not isinstance(row_id, int):
            return ""
        return self.found.get(model, {}).get(row_id) or f"a deleted {_record_word(model)}"


def _name_of(row: Any) -> str:
    if isinstance(row, User):
        return row.full_name or row.email
    if isinstance(row, ImportJob):
        return row.filename
    if isinstance(row, Role):  # by name with its code: "Sales (crm_sales)"
        return f"{ROLE_NAMES.get(row.name, row.name).split(':')[0]} ({row.name})"
    return re.sub(r"\s*\(?#\d+\)?", "", str(row)).strip() or _record_word(type(row))


def _record_word(model: type) -> str:
    kind = _snake(model.__name__)
    return RECORD_WORDS.get(kind, kind.replace("_", " "))


def _target(mapper: Mapper | None, key: str) -> type | None:
    """The model a foreign key column or a list of `mapper` points at."""
    if mapper is None:
        return None
    if key in mapper.relationships:
        rel = mapper.relationships[key]
        return rel.mapper.class_ if rel.secondary is not None else None
    column = mapper.columns.get(key)
    if column is None or not column.foreign_keys:
        return None
    return _by_table().get(next(iter(column.foreign_keys)).column.table.name)


def described(entries: Iterable[AuditEntry], about: int | None = None) -> list[HistoryItem]:
    """Each entry in words; `about`: the contact whose history this is (its own entries say
    "this contact")."""
    entries = list(entries)
    names = _Names()
    for entry in entries:
        mapper = _mappers().get(entry.entity_type)
        names.want(User, entry.user_id)
        names.want(Contact, entry.contact_id)
        for key, value in (entry.changes or {}).items():
            sides = value[:2] if isinstance(value, list) and len(value) == 2 else [value]
            for side in sides:
                names.want(_target(mapper, key), side)
        if entry.action in {"merge", "unmerge"}:
            model = Contact if entry.entity_type == "contact" else Account
            names.want(model, [entry.entity_id, (entry.changes or {}).get("merged_into_id")])
        if entry.action in {"import", "undo_import"}:
            names.want(ImportJob, entry.entity_id)
        if entry.action == "bulk" and "responsible_id" in (entry.changes or {}):
            names.want(User, entry.changes["responsible_id"])
        if entry.action == "generate_login" or entry.action == "convert":
            names.want(Contact, entry.contact_id)
    names.load()
    return [_item(entry, names, about) for entry in entries]


def _item(entry: AuditEntry, names: _Names, about: int | None) -> HistoryItem:
    item = HistoryItem(entry, [], None)
    item.when = local_text(entry.at)
    if entry.contact_id:
        item.contact = names.found.get(Contact, {}).get(entry.contact_id, "")
    if entry.user_id and entry.user_id in names.found.get(User, {}):
        item.who = names.found[User][entry.user_id]
    else:
        item.who = entry.user_email or "the system"
    changes = entry.changes or {}
    if entry.action in _ROW_VERBS:
        item.what = _row_sentence(entry, names)
        item.changes = _column_changes(entry, names)
    elif entry.action == "bulk":
        item.touched = changes.get("contacts") if isinstance(changes.get("contacts"), int) else None
        item.what = _bulk_sentence(entry, names, about)
    elif entry.action in {"merge", "unmerge"}:
        _merge(item, names, about)
    elif entry.action in {"import", "undo_import"}:
        _import(item, names, about)
    elif entry.action == "generate_login":
        email = changes.get("email") or ""
        whom = "this contact" if about and entry.contact_id == about else None
        whom = whom or names.name(Contact, entry.contact_id) or "a contact"
        item.what = f"generated a login for {whom}" + (f" ({email})" if email else "")
    else:
        item.what = _event_sentence(entry)
        # A sign-in's address is in its sentence.
        item.changes = [] if entry.action.startswith("login") else _column_changes(entry, names)
        if entry.action == "export" and isinstance(changes.get("contact_ids"), list):
            item.touched = len(changes["contact_ids"])
    item.fields = [c.field for c in item.changes]
    return item


def _row_sentence(entry: AuditEntry, names: _Names) -> str:
    kind = entry.entity_type
    verbs = _CHILD_VERBS if kind in _CHILDREN else _ROW_VERBS
    verb = verbs[entry.action]
    changes = entry.changes or {}
    if kind == "contact" and entry.action == "update" and "deleted_at" in changes:
        return "moved to the trash" if changes["deleted_at"][1] else "restored from the trash"
    word = RECORD_WORDS.get(kind, kind.replace("_", " "))
    name = _summary_name(entry)
    if kind == "connection":  # its own name is the other contact's number
        mapper = _mappers().get(kind)
        other, type_ = changes.get("other_id"), changes.get("type_id")
        parts = [
            names.name(_target(mapper, "type_id"), _either(type_)) if type_ else "",
            names.name(Contact, _either(other)) if other else "",
        ]
        name = " with ".join(p for p in parts if p)
    elif kind == "interaction":
        name = name.split(": ", 1)[1] if ": " in name else ""
    return f"{verb} the {word}" + (f" {name}" if name else "")


def _either(value: Any) -> Any:
    """The new side of an [old, new] pair, else the old one (a deleted row's)."""
    if isinstance(value, list) and len(value) == 2:
        return value[1] if value[1] is not None else value[0]
    return value


def _summary_name(entry: AuditEntry) -> str:
    """The record's name as the listener wrote it ("Update phone Mobile: +44 ..." -> "Mobile:
    +44 ..."), without record numbers."""
    prefix = f"{entry.action.capitalize()} {entry.entity_type} "
    summary = entry.summary or ""
    name = summary[len(prefix) :] if summary.startswith(prefix) else ""
    return re.sub(r"\s*\(?#\d+\)?", "", name).strip()


def _column_changes(entry: AuditEntry, names: _Names) -> list[Change]:
    mapper = _mappers().get(entry.entity_type)
    table = mapper.local_table.name if mapper is not None else ""
    parent = getattr(mapper.class_, "__audit_parent__", None) if mapper is not None else None
    shown = []
    for key, value in (entry.changes or {}).items():
        if key in HIDDEN or key == parent:
            continue
        if key.endswith("_id") and _target(mapper, key) is None:
            continue  # an event's reference to a record it names in its sentence
        label = field_label(table, key)
        if isinstance(value, list) and len(value) == 2:
            old, new = (_value(mapper, key, side, names) for side in value)
            if old == new:
                continue
        else:
            old, new = "", _value(mapper, key, value, names)
        if entry.action == "delete":  # what the removed row said
            old, new = "", old
        if old or new:
            shown.append(Change(label, old, new))
    return shown


def _value(mapper: Mapper | None, key: str, value: Any, names: _Names) -> str:
    """One stored value as the form would show it."""
    if value is None or value == "" or value == []:
        return ""
    target = _target(mapper, key)
    if target is not None:
        ids = value if isinstance(value, list) else [value]
        return ", ".join(names.name(target, i) for i in ids)
    column = mapper.columns.get(key) if mapper is not None else None
    if key == "picture":
        return "a picture"
    if key == "birthday":
        return _day(value, birthday=True)
    if key == "country" and isinstance(value, str):
        return _countries().get(value.upper(), value)
    if key == "language" and isinstance(value, str):
        return _languages().get(value.split("-")[0], value)
    if column is not None:
        enum_class = getattr(column.type, "enum_class", None)
        if enum_class is not None:
            try:
                member = enum_class(value)
            except ValueError:
                return str(value)
            return getattr(member, "label", str(member))
        if isinstance(column.type, DateTime):
            return _moment(value)
        if isinstance(column.type, Date):
            return _day(value)
        if isinstance(column.type, Boolean):
            return "yes" if value else "no"
    return _plain(value)


def _plain(value: Any) -> str:
    """A value of an event's own (not a column's): lists and mappings in words."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value if v not in (None, ""))
    if isinstance(value, dict):
        return ", ".join(f"{k} ({_plain(v)})" for k, v in value.items())
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+([+-]\d\d:\d\d)?", value):
        return _moment(value)
    return str(value)


def _moment(value: Any) -> str:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return local_text(moment)


def _day(value: Any, birthday: bool = False) -> str:
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return birthday_shown(day) if birthday else f"{day.day} {day:%B %Y}"


def _others(count: int) -> str:
    return f"{count:,} other contact" + ("" if count == 1 else "s")


def _contacts(count: int, word: str = "contact") -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _bulk_sentence(entry: AuditEntry, names: _Names, about: int | None) -> str:
    changes = entry.changes or {}
    count = changes.get("contacts") if isinstance(changes.get("contacts"), int) else 0
    for key, pattern in _BULK.items():
        if key not in changes:
            continue
        value = changes[key]
        if key == "segment" and isinstance(value, list) and value[1] is None:
            pattern, value = "removed from the segment {value}", value[0]
        elif isinstance(value, list) and len(value) == 2 and not key.startswith("tags"):
            value = value[1]
        if key == "responsible_id":
            value = names.name(User, value)
        elif key == "access_class_id":
            value = names.name(_target(_mappers()["contact"], key), value)
        what = pattern.format(value=_plain(value))
        break
    else:
        what = _lower_first(entry.summary or "changed contacts").rstrip(".")
        what = re.sub(r":?\s*[\d,]+ contact\(s\) changed", "", what)
    if about:
        return f"{what} with {_others(count - 1)}" if count > 1 else what
    return f"{what}: {_contacts(count)}"


def _merge(item: HistoryItem, names: _Names, about: int | None) -> None:
    entry, changes = item.entry, item.entry.changes or {}
    model = Contact if entry.entity_type == "contact" else Account
    word = "contact" if model is Contact else "account"
    merge_id = changes.get("merge_id")
    item.link = ("merge.details", {"merge_id": merge_id}) if merge_id else None
    if entry.action == "unmerge":
        restored = changes.get("restored_ids") or []
        item.what = f"undid the merge of {_contacts(len(restored), word)}"
        return
    if "merged_into_id" in changes:
        into = changes["merged_into_id"]
        item.what = f"merged into {names.name(model, into)}"
        if model is Contact and isinstance(into, int):
            item.link = ("contact.details_view", {"id": into})
        return
    merged = changes.get("merged_ids") or []
    master = (
        "this one" if about and entry.entity_id == about else names.name(model, entry.entity_id)
    )
    item.what = f"merged {_contacts(len(merged), word)} into {master}"
    mapper = _mappers().get(entry.entity_type)
    table = mapper.local_table.name if mapper is not None else ""
    for key, value in (changes.get("fields") or {}).items():
        if isinstance(value, list) and len(value) == 2 and key not in HIDDEN:
            item.changes.append(Change(field_label(table, key), _plain(value[0] or ""),
                                       _plain(value[1] or "")))  # fmt: skip
    moved = changes.get("moved") or {}
    if isinstance(moved, dict) and moved:
        shown = ", ".join(f"{_TABLE_WORDS.get(t, t.replace('_', ' '))} ({n:,})"
                          for t, n in moved.items())  # fmt: skip
        item.changes.append(Change("Moved over", "", shown))


def _import(item: HistoryItem, names: _Names, about: int | None) -> None:
    entry, changes = item.entry, item.entry.changes or {}
    job = names.found.get(ImportJob, {}).get(entry.entity_id)
    filename = _filename(entry, job)
    if entry.entity_id:
        item.link = ("imports.job", {"job_id": entry.entity_id})
    counts = [(changes.get(k), w) for k, w in (("created", "created"), ("updated", "updated"),
              ("skipped", "skipped"), ("failed", "with errors"), ("deleted", "deleted"),
              ("restored", "restored"), ("kept", "changed since and kept"))]  # fmt: skip
    said = ", ".join(f"{n:,} {w}" for n, w in counts if isinstance(n, int))
    if entry.action == "undo_import":
        item.what = f"undid the import of {filename}" + (f": {said}" if said else "")
    elif changes.get("dry_run"):
        item.what = f"tried an import of {filename} (a dry run)"
    elif about:
        item.what = f"imported from {filename}"
        item.changes.append(Change("The whole import", "", said))
    else:
        item.what = f"imported {filename}" + (f": {said}" if said else "")


def _filename(entry: AuditEntry, job_name: str | None) -> str:
    if job_name:
        return job_name
    found = re.search(r"(?:Imported|Dry run of|Undid import) (.+?):", entry.summary or "")
    return found.group(1) if found else "a file"


def _event_sentence(entry: AuditEntry) -> str:
    """Other events: their summary, which already says what happened, after the name."""
    summary = re.sub(r"\s*\(?#\d+\)?", "", entry.summary or "").strip()
    if entry.action in {"login", "login_failed", "login_refused"}:
        found = re.search(r" from ([^)]+)\)", summary)
        return _EVENT_WORDS[entry.action] + (f" from {found.group(1)}" if found else "")
    if not summary:
        return _EVENT_WORDS.get(entry.action, entry.action.replace("_", " "))
    return _lower_first(summary)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
