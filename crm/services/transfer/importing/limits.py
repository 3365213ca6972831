"""What an imported file may hold, and the errors of reading one.

`Limits` are the CRM_IMPORT_MAX_* settings (crm.config): columns, rows after the header (a
vCard file's cards), characters per cell, lines per vCard card. The readers
(crm.services.transfer.importing.sources, .vcard) check them while they read and raise
`LimitExceeded` with a message naming the limit, what the file has, and the setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.errors import DomainError


class SourceError(DomainError):
    """The uploaded file cannot be read; the message says why."""


class LimitExceeded(SourceError):
    """The file is beyond one of the import limits; the message says which, and how to
    raise it."""


@dataclass(frozen=True)
class Limits:
    """What a file may hold (the defaults are crm.config's CRM_IMPORT_MAX_* settings)."""

    columns: int = 500
    rows: int = 1_000_000  # after the header; a vCard file's cards
    cell: int = 32_767  # characters
    vcard_properties: int = 1_000  # lines in one card


DEFAULT_LIMITS = Limits()


def raise_it(setting: str) -> str:
    return f"ask an administrator to raise the limit (the setting {setting})"


def too_many_columns(limits: Limits, where: str = "This file") -> LimitExceeded:
    """`where`: "This file" (its header), "Row 7", "Row 7 of the sheet “People”"..."""
    what = "columns" if where.startswith("This") or where.startswith("A sheet") else "cells"
    return LimitExceeded(
        f"{where} has more than {limits.columns:,} {what} (the limit is {limits.columns:,} "
        f"columns). Remove the columns you do not need, or "
        f"{raise_it('CRM_IMPORT_MAX_COLUMNS')}."
    )


def too_many_rows(limits: Limits, what: str = "rows") -> LimitExceeded:
    return LimitExceeded(
        f"This file has more than {limits.rows:,} {what} (the limit is {limits.rows:,}). "
        f"Split it into smaller files, or {raise_it('CRM_IMPORT_MAX_ROWS')}."
    )


def too_long_cell(
    limits: Limits, where: str, column: str = "", what: str = "a cell"
) -> LimitExceeded:
    """`where`: "Row 7", "Card 3"; `column`: its name or number, when known."""
    within = f" in column {column}" if column else ""
    return LimitExceeded(
        f"{where} has {what} longer than {limits.cell:,} characters{within} (the limit is "
        f"{limits.cell:,} per cell). Shorten it, or {raise_it('CRM_IMPORT_MAX_CELL')}."
    )


def check_cells(cells: list[str], limits: Limits, number: int, headers: list[str]) -> None:
    """Refuse a row with a cell longer than the limit, naming the row and the column."""
    if cells and max(map(len, cells)) > limits.cell:
        index = next(i for i, c in enumerate(cells) if len(c) > limits.cell)
        name = headers[index] if index < len(headers) and headers[index] else ""
        column = f"“{name[:40]}”" if name else f"{index + 1}"
        raise too_long_cell(limits, f"Row {number}", column)
