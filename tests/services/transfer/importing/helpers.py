"""Helpers for the tests of reading import files (no database): the fixture files live
under tests/fixtures/import."""

from __future__ import annotations

from pathlib import Path

from crm.services.transfer.importing.sources import Source, read_source

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "import"


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


class PeakMemory:
    """How much the process's resident memory grew at its peak inside a `with` block, in MB.

    The peak (VmHWM) is reset to the current size on entry (writing 5 to
    /proc/self/clear_refs), so what the test process did before (other tests, building the
    test file) does not count: only the growth is measured, not the absolute size. Where
    the reset is not allowed, the growth is measured above the earlier peak, which can only
    under-count: the tests then still check the refusal and its speed."""

    def __enter__(self) -> PeakMemory:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.start = _status_kb("VmRSS")
        except OSError:
            self.start = _status_kb("VmHWM")
        self.grew_mb = 0.0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.grew_mb = max(0, _status_kb("VmHWM") - self.start) / 1024


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def wide_csv(path: Path, columns: int) -> bytes:
    """A CSV file of `columns` columns ("c0,c1,...") and one row, written in pieces so that
    building it does not make the test process big; returns its bytes."""
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, columns, 10_000):
            end = min(start + 10_000, columns)
            out.write(("," if start else "") + ",".join(f"c{i}" for i in range(start, end)))
        out.write("\n" + "x," * (columns - 1) + "x\n")
    return path.read_bytes()
