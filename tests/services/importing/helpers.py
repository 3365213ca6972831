"""Helpers for the tests of reading import files (no database): the fixture files live
under tests/fixtures/import."""

from __future__ import annotations

from pathlib import Path

from crm.services.importing.sources import Source, read_source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def read_fixture(name: str, **options) -> Source:
    return read_source(fixture_bytes(name), name, **options)


def as_records(source: Source) -> list[dict[str, str]]:
    """Each row as {header: cell} for the cells that are not empty, with its row number."""
    return [
        {"#": str(number), **{h: c for h, c in zip(source.headers, cells, strict=True) if c}}
        for number, cells in source.rows()
    ]
