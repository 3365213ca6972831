"""Moving everything that references merged records to their master, found from the
database's own foreign keys, with a ledger that lets the merge be undone exactly.

`move_references(table, merged_ids, master_id, ledger)` walks every foreign key of the
metadata that points at `table` (contacts or accounts): tables added later are covered
without touching this code. For each referencing row:
- it is re-pointed to the master (a version column, where there is one, moves too, so open
  edit forms of that row are refused);
- unless the master already has the same row: the same values in a unique key (primary key,
  unique constraint or index) or in the model's `__merge_key__` (the same phone number
  twice). Then the master keeps its own, and this one stays with the merged record (a
  tombstone): nothing is deleted, and the ledger names it;
- a row of the master itself pointing at a merged record (its manager was merged into it)
  is set to NULL rather than to itself.
Tables that need more than that register a handler in `SPECIAL` (pairs of contacts, and
connections between contacts).

The ledger is plain JSON: each change names its table, the row's key and the values before
and after; `undo(ledger)` replays it backwards and refuses (raising) when a row is no longer
as the merge left it.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    Numeric,
    Table,
    UniqueConstraint,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from crm.errors import DomainError
from crm.extensions import db
from crm.models.base import utcnow
from crm.services.platform.audit import jsonable as to_json


class UndoRefused(DomainError):
    """A row the merge changed has changed again since: undoing would lose that change."""


@dataclass
class Ledger:
    """Everything a merge changed, in order, as JSON-able data."""

    # {"table", "key": {pk column: value}, "column", "old", "new"}: one column of one row.
    changes: list[dict] = field(default_factory=list)
    # {"table", "row": {column: value}}: duplicates left with the merged record (the master
    # has the same), and rows the merge inserted.
    left: list[dict] = field(default_factory=list)
    inserted: list[dict] = field(default_factory=list)
    # Rows the master's own rules deleted (a link to the account it now belongs to).
    deleted: list[dict] = field(default_factory=list)
    # "table:id" -> the whole row before the merge (records the merge rewrote: the master,
    # the merged ones, their accounts).
    snapshots: dict[str, dict] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "changes": self.changes,
            "left": self.left,
            "inserted": self.inserted,
            "deleted": self.deleted,
            "snapshots": self.snapshots,
        }

    @classmethod
    def from_json(cls, data: dict) -> Ledger:
        return cls(
            changes=list(data.get("changes", [])),
            left=list(data.get("left", [])),
            inserted=list(data.get("inserted", [])),
            deleted=list(data.get("deleted", [])),
            snapshots=dict(data.get("snapshots", {})),
        )

    def moved_counts(self) -> dict[str, int]:
        """How many rows of each table were re-pointed to the master."""
        counts: dict[str, int] = {}
        for item in self.changes:
            counts[item["table"]] = counts.get(item["table"], 0) + 1
        return counts


# ---- values to and from JSON --------------------------------------------------------------
def from_json(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, DateTime) and isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(column.type, Date) and isinstance(value, str):
        return date.fromisoformat(value)
    enum_class = getattr(column.type, "enum_class", None)
    if enum_class is not None and isinstance(value, str):
        return enum_class(value)
    if isinstance(column.type, Numeric) and not isinstance(column.type, Float):
        return decimal.Decimal(str(value))
    return value


def row_json(table: Table, row: Any) -> dict:
    return {c.name: to_json(row[c.name]) for c in table.columns}


def _decoded(table: Table, values: dict) -> dict:
    return {name: from_json(table.c[name], value) for name, value in values.items()}


def _key_clause(table: Table, key: dict):
    return and_(*(table.c[name] == from_json(table.c[name], value) for name, value in key.items()))


def _key_of(table: Table, row: Any, **overrides: Any) -> dict:
    return {c.name: to_json(overrides.get(c.name, row[c.name])) for c in table.primary_key}


# ---- the references -----------------------------------------------------------------------
def references_to(table: Table) -> list[tuple[Table, Column]]:
    """Every (table, column) whose foreign key points at `table`, from the metadata."""
    found = []
    for other in db.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is table:
                found.append((other, fk.parent))
    return sorted(found, key=lambda tc: (tc[0].name, tc[1].name))


def _unique_sets(table: Table, column: Column) -> list[tuple[Column, ...]]:
    """The unique keys of `table` that contain `column`."""
    sets = []
    pk = tuple(table.primary_key.columns)
    if any(c is column for c in pk):  # a key of its own (one login per contact) counts too
        sets.append(pk)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            cols = tuple(constraint.columns)
            if any(c is column for c in cols):
                sets.append(cols)
    for index in table.indexes:
        cols = tuple(index.columns)
        if index.unique and any(c is column for c in cols):
            sets.append(cols)
    return sets


def merge_key(row: Any) -> tuple | None:
    """The values of the model's `__merge_key__` for this row (None: the model has none)."""
    names = getattr(type(row), "__merge_key__", None)
    return tuple(getattr(row, name) or None for name in names) if names else None


def _merge_key(table: Table) -> tuple[Column, ...] | None:
    """The model's `__merge_key__` (columns that make two rows of one record the same)."""
    for mapper in db.Model.registry.mappers:
        if mapper.local_table is table:
            names = getattr(mapper.class_, "__merge_key__", None)
            return tuple(table.c[n] for n in names) if names else None
    return None


def _same_row_exists(
    conn: Connection, table: Table, column: Column, master_id: int, row: Any
) -> bool:
    """Whether the master already has this row (by a unique key, or the merge key where
    empty values count as equal)."""
    for cols in _unique_sets(table, column):
        others = [c for c in cols if c is not column]
        if any(row[c.name] is None for c in others):
            continue  # NULL never clashes in a unique key
        clause = and_(column == master_id, *(c == row[c.name] for c in others))
        if conn.execute(select(1).select_from(table).where(clause).limit(1)).first():
            return True
    key = _merge_key(table)
    if key:
        parts = [c.is_(None) if row[c.name] is None else c == row[c.name] for c in key]
        clause = and_(column == master_id, *parts)
        if conn.execute(select(1).select_from(table).where(clause).limit(1)).first():
            return True
    return False


Handler = Callable[[Connection, Table, list[int], int, Ledger], None]


def move_references(
    table: Table, merged_ids: list[int], master_id: int, ledger: Ledger
) -> dict[str, int]:
    """Re-point every row referencing one of `merged_ids` in `table` to `master_id`;
    returns how many rows of each referencing table were moved."""
    conn = db.session.connection()
    before = ledger.moved_counts()
    done: set[str] = set()
    for ref_table, column in references_to(table):
        handler = SPECIAL.get(ref_table.name)
        if handler is not None:
            if ref_table.name not in done:
                handler(conn, ref_table, merged_ids, master_id, ledger)
                done.add(ref_table.name)
            continue
        _move_column(conn, ref_table, column, merged_ids, master_id, ledger)
    after = ledger.moved_counts()
    return {t: n - before.get(t, 0) for t, n in after.items() if n != before.get(t, 0)}


def _move_column(
    conn: Connection,
    table: Table,
    column: Column,
    merged_ids: list[int],
    master_id: int,
    ledger: Ledger,
) -> None:
    pk = list(table.primary_key.columns)
    self_reference = column.foreign_keys and next(iter(column.foreign_keys)).column.table is table
    if len(pk) == 1 and not _unique_sets(table, column) and not _merge_key(table):
        _move_many(conn, table, column, merged_ids, master_id, ledger, bool(self_reference))
        return
    rows = conn.execute(select(table).where(column.in_(merged_ids)).order_by(*pk)).mappings()
    for row in rows.all():
        key = _key_of(table, row)
        if self_reference and len(pk) == 1 and row[pk[0].name] == master_id:
            new = None  # the master would point at itself
        elif _same_row_exists(conn, table, column, master_id, row):
            ledger.left.append({"table": table.name, "row": row_json(table, row)})
            continue
        else:
            new = master_id
        set_column(conn, table, key, column.name, row[column.name], new, ledger)


def _move_many(
    conn: Connection,
    table: Table,
    column: Column,
    merged_ids: list[int],
    master_id: int,
    ledger: Ledger,
    self_reference: bool,
) -> None:
    """Rows that cannot clash (no unique key, no merge key: a company's contacts) move in
    one UPDATE per chunk rather than one per row; the master's own row, if it points at a
    merged record, is set to NULL instead."""
    pk = next(iter(table.primary_key.columns))
    rows = conn.execute(select(pk, column).where(column.in_(merged_ids)).order_by(pk)).all()
    own = [r for r in rows if self_reference and r[0] == master_id]
    for row in own:
        set_column(conn, table, {pk.name: row[0]}, column.name, row[1], None, ledger)
    moving = [r for r in rows if r not in own]
    for start in range(0, len(moving), CHUNK):
        chunk = moving[start : start + CHUNK]
        set_column_many(conn, table, column.name, chunk, master_id, ledger)


CHUNK = 500  # rows per UPDATE ... WHERE id IN (...)


def _bump(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    if "version" in table.c:
        values["version"] = table.c.version + 1
    if "updated_at" in table.c:
        values["updated_at"] = utcnow()
    return values


def set_column_many(
    conn: Connection, table: Table, name: str, rows: list[Any], new: Any, ledger: Ledger
) -> None:
    """Set one column of many rows (of a table keyed by one column) to `new`; `rows` are
    (key, old value) pairs. Recorded in the ledger row by row."""
    pk = next(iter(table.primary_key.columns))
    conn.execute(
        update(table).where(pk.in_([r[0] for r in rows])).values(_bump(table, {name: new}))
    )
    for key, old in rows:
        ledger.changes.append(
            {
                "table": table.name,
                "key": {pk.name: to_json(key)},
                "column": name,
                "old": to_json(old),
                "new": to_json(new),
            }
        )


def set_column(
    conn: Connection, table: Table, key: dict, name: str, old: Any, new: Any, ledger: Ledger
) -> None:
    """Change one column of one row, recorded in the ledger (a version column moves too)."""
    conn.execute(update(table).where(_key_clause(table, key)).values(_bump(table, {name: new})))
    after_key = {k: (to_json(new) if k == name else v) for k, v in key.items()}
    ledger.changes.append(
        {
            "table": table.name,
            "key": after_key,
            "column": name,
            "old": to_json(old),
            "new": to_json(new),
        }
    )


def snapshot(table: Table, ids: Iterable[int], ledger: Ledger) -> None:
    """Keep the whole rows as they are now (before the merge rewrites them)."""
    wanted = [i for i in ids if f"{table.name}:{i}" not in ledger.snapshots]
    if wanted:
        _snapshot_where(table, table.c.id.in_(wanted), ledger)


def snapshot_children(table: Table, record_id: int, ledger: Ledger) -> None:
    """Keep the rows of every table with its own id that belong to this record (a
    contact's phones, addresses, links), which its rules may rewrite when it is saved."""
    for ref_table, column in references_to(table):
        if ref_table is not table and [c.name for c in ref_table.primary_key] == ["id"]:
            _snapshot_where(ref_table, column == record_id, ledger)


def _snapshot_where(table: Table, where: Any, ledger: Ledger) -> None:
    conn = db.session.connection()
    for row in conn.execute(select(table).where(where)).mappings():
        ledger.snapshots.setdefault(f"{table.name}:{row['id']}", row_json(table, row))


# ---- pairs of contacts ----------------------------------------------------------------------
def _move_pairs(
    conn: Connection, table: Table, merged_ids: list[int], master_id: int, ledger: Ledger
) -> None:
    """not_duplicates holds ordered pairs (low < high): the master gets the pairs its merged
    contacts had with others (re-ordered); the old pairs stay with the merged contacts."""
    merged = set(merged_ids)
    low, high = table.c.low_id, table.c.high_id
    rows = conn.execute(
        select(table).where(low.in_(merged_ids) | high.in_(merged_ids)).order_by(low, high)
    ).mappings()
    for row in rows.all():
        a = master_id if row["low_id"] in merged else row["low_id"]
        b = master_id if row["high_id"] in merged else row["high_id"]
        if a == b:
            continue
        pair = (min(a, b), max(a, b))
        exists = conn.execute(
            select(1).select_from(table).where(low == pair[0], high == pair[1])
        ).first()
        if exists:
            continue
        new_row = dict(row, low_id=pair[0], high_id=pair[1])
        conn.execute(insert(table).values(new_row))
        ledger.inserted.append({"table": table.name, "row": row_json(table, new_row)})


def _move_connections(
    conn: Connection, table: Table, merged_ids: list[int], master_id: int, ledger: Ledger
) -> None:
    """A merged contact's connections move to the master, at either end; a connection
    between the merged contacts and the master stays with the tombstone (nobody is their own
    colleague), and so does one the master already has (same other end, same type)."""
    within = [*merged_ids, master_id]
    ends = (table.c.contact_id, table.c.other_id)
    for column, other in (ends, ends[::-1]):
        rows = conn.execute(
            select(table).where(column.in_(merged_ids)).order_by(table.c.id)
        ).mappings()
        for row in rows.all():
            if column is table.c.other_id and row["contact_id"] in merged_ids:
                continue  # between two merged contacts: judged (and left) by the first pass
            same = (
                select(1)
                .select_from(table)
                .where(
                    column == master_id, other == row[other.name], table.c.type_id == row["type_id"]
                )
            )
            if row[other.name] in within or conn.execute(same).first():
                ledger.left.append({"table": table.name, "row": row_json(table, row)})
                continue
            set_column(conn, table, {"id": row["id"]}, column.name, row[column.name], master_id,
                       ledger)  # fmt: skip


SPECIAL: dict[str, Handler] = {"not_duplicates": _move_pairs, "connections": _move_connections}


# ---- undo ------------------------------------------------------------------------------------
def _batches(changes: list[dict]) -> list[list[dict]]:
    """Consecutive changes of one column from one value to another, of rows keyed by one
    column, in chunks: each chunk is undone by one UPDATE."""
    batches: list[list[dict]] = []
    for item in changes:
        last = batches[-1] if batches else None
        same = (
            last is not None
            and len(last) < CHUNK
            and len(item["key"]) == 1
            and item["column"] not in item["key"]
            and all(last[0][k] == item[k] for k in ("table", "column", "old", "new"))
            and last[0]["key"].keys() == item["key"].keys()
        )
        if same:
            last.append(item)
        else:
            batches.append([item])
    return batches


def undo(ledger: Ledger) -> None:
    """Replay the ledger backwards: inserted rows go, column changes are reversed (each row
    must still hold what the merge wrote), deleted rows come back, and the snapshots are
    restored."""
    conn = db.session.connection()
    tables = db.metadata.tables
    for item in reversed(ledger.inserted):
        table = tables[item["table"]]
        key = {c.name: item["row"][c.name] for c in table.primary_key}
        conn.execute(delete(table).where(_key_clause(table, key)))
    for batch in _batches(list(reversed(ledger.changes))):
        first = batch[0]
        table = tables[first["table"]]
        column = table.c[first["column"]]
        new = from_json(column, first["new"])
        if len(batch) == 1:
            clause = _key_clause(table, first["key"])
        else:  # one key column, the same change: one UPDATE ... WHERE key IN (...)
            (name,) = first["key"]
            clause = table.c[name].in_([from_json(table.c[name], i["key"][name]) for i in batch])
        clause = and_(clause, column.is_(None) if new is None else column == new)
        values: dict[str, Any] = {column.name: from_json(column, first["old"])}
        if "version" in table.c:
            values["version"] = table.c.version + 1
        if conn.execute(update(table).where(clause).values(values)).rowcount != len(batch):
            raise UndoRefused(
                f"A row of {first['table']} that the merge moved has changed or gone since: "
                "the merge cannot be undone without losing that change."
            )
    for item in reversed(ledger.deleted):
        table = tables[item["table"]]
        conn.execute(insert(table).values(_decoded(table, item["row"])))
    for name, row in ledger.snapshots.items():
        table = tables[name.split(":", 1)[0]]
        values = _decoded(table, {k: v for k, v in row.items() if k not in {"id", "version"}})
        if "version" in table.c:
            values["version"] = table.c.version + 1
        result = conn.execute(update(table).where(table.c.id == row["id"]).values(values))
        if result.rowcount != 1:
            raise UndoRefused(f"{name} no longer exists: the merge cannot be undone.")
