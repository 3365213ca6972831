"""`flask crm record-bounces FILE`: the bounces read, the addresses marked, what was skipped."""

from __future__ import annotations

from pathlib import Path

from crm.models import BouncingAddress
from tests.services.conftest import count

BOUNCES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"


def test_record_bounces_reports_what_it_read_and_marked(cli):
    result = cli("record-bounces", str(BOUNCES / "mixed.mbox"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Read 1 file(s), 3 message(s): 2 bounce(s), 2 address(es) marked as bouncing, "
        "0 campaign mail(s) marked as bounced.",
        "  bouncing: old.address@gmail.com",
        "  bouncing: nobody@closed.example.org",
        "Skipped 1:",
        "  mixed.mbox, message 2: not a delivery status notification (no bounce in it)",
    ]
    assert count(BouncingAddress) == 2


def test_record_bounces_reads_a_folder_and_skips_temporary_failures(cli):
    result = cli("record-bounces", str(BOUNCES))
    assert result.exit_code == 0, result.output
    assert "Read 4 file(s), 6 message(s): 4 bounce(s), 4 address(es) marked" in result.output
    assert "delayed-mailbox-full.eml: full@example.org: a temporary failure (4.2.2)" in (
        result.output
    )
    assert count(BouncingAddress) == 4


def test_record_bounces_refuses_what_it_cannot_read(cli, tmp_path):
    result = cli("record-bounces", str(tmp_path / "nowhere.mbox"))
    assert result.exit_code == 1
    assert "error:" in result.output and "nowhere.mbox does not exist" in result.output
    note = tmp_path / "note.eml"
    note.write_text("just some words\n")
    result = cli("record-bounces", str(note))
    assert result.exit_code == 1
    assert "is not an email (.eml) or an mbox file" in result.output
    assert count(BouncingAddress) == 0
