"""The one history mechanism: SQLAlchemy events record every insert, update and delete of a
model marked `__audit__ = True`, with who, when and each field's old and new value.

Rows are collected by mapper events during a flush and written in one INSERT when the flush
ends, inside the same transaction: a rolled-back change leaves no history.
"""

from __future__ import annotations

import contextlib
import contextvars
import decimal
import enum
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, event, insert, inspect, literal, select
from sqlalchemy.orm import Mapper, Session, object_session

from crm.models.audit import AuditEntry, audit_bulk_contacts, audit_entry_contacts
from crm.models.base import utcnow

REDACTED = "(private)"
SAMPLE_SIZE = 20  # the contacts a bulk entry names in its own changes ("contact_sample")
# Columns whose changes are bookkeeping, not information.
IGNORED_FIELDS = frozenset(
    {"version", "updated_at", "created_at", "search_text", "name_key", "has_phone"}
)
_PENDING_KEY = "audit_pending"
_ACTOR_KEY = "audit_actor"

ActorInfo = tuple[int | None, str | None]
_actor_override: contextvars.ContextVar[ActorInfo | None] = contextvars.ContextVar(
    "audit_actor", default=None
)
_actor_provider: Callable[[], ActorInfo] = lambda: (None, None)  # noqa: E731
_suspended: contextvars.ContextVar[bool] = contextvars.ContextVar("audit_off", default=False)


def set_actor_provider(provider: Callable[[], ActorInfo]) -> None:
    """Register how to find the acting user (the web layer passes Flask-Login's user)."""
    global _actor_provider
    _actor_provider = provider


@contextlib.contextmanager
def acting_as(user: Any) -> Iterator[None]:
    """Attribute changes made inside the block to `user` (CLI commands, background jobs)."""
    token = _actor_override.set((getattr(user, "id", None), getattr(user, "email", None)))
    try:
        yield
    finally:
        _actor_override.reset(token)


@contextlib.contextmanager
def without_history() -> Iterator[None]:
    """Record nothing inside the block. For the benchmark alone, which measures what
    history costs a bulk action by running it both ways; never for a user's change."""
    token = _suspended.set(True)
    try:
        yield
    finally:
        _suspended.reset(token)


def recording() -> bool:
    """False inside `without_history()`."""
    return not _suspended.get()


def note_actor(session: Session, user: Any) -> None:
    """Attribute the changes of the session's current transaction to `user`.

    Services call this with the acting user they are given, so history names them even when
    the flush happens later, at the boundary's commit, outside any request (CLI, imports).
    Forgotten when the transaction ends.
    """
    # Reading an expired user reloads it: that must not flush the changes made so far, or
    # they would be recorded before the actor is known.
    with session.no_autoflush:
        user_id = getattr(user, "id", None)
        email = getattr(user, "email", None) if user_id is not None else None
    if user_id is not None:
        session.info[_ACTOR_KEY] = (user_id, email)


def current_actor(session: Session | None = None) -> ActorInfo:
    """Who is changing things: `acting_as`, else the user a service noted on the session,
    else the registered provider (the signed-in user of the request)."""
    override = _actor_override.get()
    if override is not None:
        return override
    if session is not None and _ACTOR_KEY in session.info:
        return session.info[_ACTOR_KEY]
    return _actor_provider()


def record_event(
    session: Session,
    actor: Any,
    action: str,
    entity_type: str,
    summary: str,
    changes: dict,
    entity_id: int | None = None,
    contact_id: int | None = None,
    account_id: int | None = None,
    contact_ids: Select | Iterable[int] | None = None,
    distinct_ids: bool = False,
) -> None:
    """One history entry for an event that is more than a row's change (a bulk action, a
    tag merge, a sign-in, a merge); `actor` is the acting user, or (id, email) when there is
    none signed in yet. `contact_id` / `account_id` put it in that record's history;
    `contact_ids` (ids, or a query of them) in the history of every contact it names;
    `distinct_ids`: the query never names a contact twice (no de-duplication needed)."""
    if _suspended.get():
        return
    if isinstance(actor, tuple):
        user_id, email = actor
    else:
        user_id, email = current_actor(session)
        if getattr(actor, "id", None) is not None:
            user_id, email = actor.id, getattr(actor, "email", email)
    entry = AuditEntry(
        at=utcnow(),
        user_id=user_id,
        user_email=email,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        contact_id=contact_id,
        account_id=account_id,
        summary=summary[:300],
        changes=changes,
    )
    session.add(entry)
    if contact_ids is not None:
        session.flush()
        table = audit_bulk_contacts if action == "bulk" else audit_entry_contacts
        link_contacts(session, entry.id, contact_ids, distinct=distinct_ids, table=table)


def link_contacts(
    session: Session,
    entry_id: int,
    contact_ids: Select | Iterable[int],
    distinct: bool = False,
    table: Any = audit_entry_contacts,
) -> None:
    """Put entry `entry_id` in the history of each of `contact_ids` (one INSERT ... SELECT
    for a query, so that 100,000 contacts never pass through Python); `table`: the bulk
    actions' own (crm.models.audit)."""
    if isinstance(contact_ids, Select):
        ids = contact_ids.subquery()
        chosen = select(ids.c[0], literal(entry_id))
        chosen = chosen if distinct else chosen.distinct()
        session.execute(insert(table).from_select(["contact_id", "entry_id"], chosen))
        return
    rows = [{"contact_id": i, "entry_id": entry_id} for i in sorted(set(contact_ids))]
    if rows:
        session.execute(insert(table), rows)


def jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _entity_type(target: Any) -> str:
    """The model's name in snake case: 'contact', 'address', 'social_link'."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(target).__name__).lower()


def _column_changes(target: Any, *, deleted: bool = False) -> dict[str, list[Any]]:
    """{field: [old, new]} for the changed columns (all of them for a delete)."""
    state = inspect(target)
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in IGNORED_FIELDS:
            continue
        hist = state.attrs[key].history
        if deleted:  # the row is gone: read what was loaded, never lazy-load
            old = state.dict.get(key)
            if old is not None:
                changes[key] = [jsonable(old), None]
            continue
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if jsonable(old) != jsonable(new):
            changes[key] = [jsonable(old), jsonable(new)]
    for rel in state.mapper.relationships:
        if rel.secondary is None or deleted:
            continue
        hist = state.attrs[rel.key].history
        if not hist.has_changes():
            continue
        before = sorted(o.id for o in (*hist.unchanged, *hist.deleted))
        after = sorted(o.id for o in (*hist.unchanged, *hist.added))
        if before != after:
            changes[rel.key] = [before, after]
    return changes


def _created_values(target: Any) -> dict[str, list[Any]]:
    state = inspect(target)
    values = {}
    for attr in state.mapper.column_attrs:
        if attr.key in IGNORED_FIELDS or attr.key == "id":
            continue
        value = getattr(target, attr.key)
        if value is not None and value != "":
            values[attr.key] = [None, jsonable(value)]
    return values


def _redact(target: Any, changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Hide what the row says is not for everyone's eyes (a private note's text)."""
    hidden = target.audit_redacted() if hasattr(target, "audit_redacted") else ()
    for name in hidden:
        if name in changes:
            changes[name] = [None if v is None else REDACTED for v in changes[name]]
    return changes


def _record(target: Any, action: str, changes: dict[str, list[Any]]) -> None:
    session = object_session(target)
    if session is None or _suspended.get():
        return
    changes = _redact(target, changes)
    user_id, user_email = current_actor(session)
    parent = getattr(target, "__audit_parent__", None)
    table = target.__tablename__
    contact_id = getattr(target, parent, None) if parent == "contact_id" else None
    if table == "contacts":
        contact_id = target.id
    account_id = target.id if table == "accounts" else getattr(target, "account_id", None)
    session.info.setdefault(_PENDING_KEY, []).append(
        {
            "at": utcnow(),
            "user_id": user_id,
            "user_email": user_email,
            "action": action,
            "entity_type": _entity_type(target),
            "entity_id": target.id,
            "contact_id": contact_id,
            "account_id": account_id if table in {"accounts", "contacts"} else None,
            "summary": f"{action.capitalize()} {_entity_type(target)} {str(target)[:200]}",
            "changes": changes,
            # The row's other contacts (a deal's, an appointment's participants).
            "_also": sorted(set(target.audit_contact_ids()) - {contact_id, None})
            if hasattr(target, "audit_contact_ids")
            else [],
        }
    )


def _after_insert(_mapper: Mapper, _conn: Any, target: Any) -> None:
    _record(target, "create", _created_values(target))


def _after_update(_mapper: Mapper, _conn: Any, target: Any) -> None:
    changes = _column_changes(target)
    if changes:
        _record(target, "update", changes)


def _after_delete(_mapper: Mapper, _conn: Any, target: Any) -> None:
    _record(target, "delete", _column_changes(target, deleted=True))


def _write_pending(session: Session, _flush_context: Any) -> None:
    rows = session.info.pop(_PENDING_KEY, None)
    if not rows:
        return
    connection = session.connection()
    table = AuditEntry.__table__
    plain = [row for row in rows if not row["_also"]]
    if plain:
        connection.execute(insert(table), [_without_also(row) for row in plain])
    for row in rows:  # few: rows that belong to several contacts
        if row["_also"]:
            entry_id = connection.execute(
                insert(table).returning(table.c.id), _without_also(row)
            ).scalar_one()
            connection.execute(
                insert(audit_entry_contacts),
                [{"contact_id": c, "entry_id": entry_id} for c in row["_also"]],
            )


def _without_also(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "_also"}


def _discard_pending(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING_KEY, None)


def _forget_actor(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended (commit or rollback)
        session.info.pop(_ACTOR_KEY, None)


def _keep_old_value(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    return value


def install(models: list[type], session_target: Any) -> None:
    """Attach the listeners once (create_app runs many times in tests)."""
    for model in models:
        if not getattr(model, "__audit__", False):
            continue
        for attr in inspect(model).column_attrs:
            # Load the stored value before a change replaces it, so that an edit of an
            # expired object (after a commit) still records [old, new] and not [None, new].
            column = getattr(model, attr.key)
            if attr.key not in IGNORED_FIELDS and not event.contains(
                column, "set", _keep_old_value
            ):
                event.listen(column, "set", _keep_old_value, active_history=True, retval=True)
        for name, fn in (
            ("after_insert", _after_insert),
            ("after_update", _after_update),
            ("after_delete", _after_delete),
        ):
            if not event.contains(model, name, fn):
                event.listen(model, name, fn)
    if not event.contains(session_target, "after_flush", _write_pending):
        event.listen(session_target, "after_flush", _write_pending)
        event.listen(session_target, "after_soft_rollback", _discard_pending)
    if not event.contains(session_target, "after_transaction_end", _forget_actor):
        event.listen(session_target, "after_transaction_end", _forget_actor)
