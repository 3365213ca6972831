"""`flask --app app crm import FILE`: the import from a terminal, with its report."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Contact, ImportJob, Phone

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"


def contacts() -> int:
    return db.session.scalar(select(func.count()).select_from(Contact))


def test_import_a_file_then_again_the_rows_are_duplicates(cli, make_user, tmp_path):
    make_user("crm_admin")
    file = tmp_path / "people.csv"
    file.write_text(
        "First Name,Last Name,E-mail Address\nAna,Smith,ana@example.com\nBo,Lee,nope\n",
        encoding="utf-8",
    )
    dry = cli("import", str(file), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "1 would be created" in dry.output and "row 3:" in dry.output
    assert contacts() == 0
    result = cli("import", str(file))
    assert result.exit_code == 0, result.output
    assert "1 were created" in result.output and "1 with errors" in result.output
    assert contacts() == 1
    again = cli("import", str(file), "--on-duplicate", "update")
    # Nothing new in the row: the contact is left as it is, and the row counts as skipped.
    assert "1 skipped" in again.output and "1 were updated" not in again.output
    file.write_text(
        "First Name,Last Name,E-mail Address,Job Title\nAna,Smith,ana@example.com,CEO\n",
        encoding="utf-8",
    )
    changed = cli("import", str(file), "--on-duplicate", "update")
    assert "1 were updated" in changed.output and "1 skipped" not in changed.output
    assert contacts() == 1


def test_a_vcard_file(cli, make_user):
    make_user("crm_admin")
    result = cli("import", str(FIXTURES / "vcard40.vcf"))
    assert result.exit_code == 0, result.output
    assert contacts() == 2


def test_the_country_of_numbers_without_a_country_code(cli, make_user):
    make_user("crm_admin")
    xlsx = str(FIXTURES / "contacts.xlsx")
    refused = cli("import", xlsx, "--phone-region", "Atlantis")
    assert refused.exit_code != 0 and contacts() == 0
    assert "phone_region: Unknown country 'Atlantis'" in refused.output
    result = cli("import", xlsx, "--phone-region", "Deutschland")
    assert result.exit_code == 0, result.output
    assert contacts() == 3
    assert db.session.scalar(select(Phone.e164).where(Phone.number.like("0151%"))) == (
        "+4915112345678"
    )


def test_bad_files_and_users_are_refused(cli, make_user, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "No active crm_admin" in cli("import", str(empty)).output
    make_user("crm_admin")
    result = cli("import", str(empty))
    assert result.exit_code == 2 and "The file is empty." in result.output
    assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 0
    assert cli("import", str(empty), "--as", "nobody@example.com").exit_code != 0


def test_a_file_beyond_the_limits_is_an_error_exit_and_imports_nothing(
    app, cli, make_user, tmp_path
):
    make_user("crm_admin")
    app.config["CRM_IMPORT_MAX_ROWS"] = 5
    file = tmp_path / "people.csv"
    rows = "".join(f"Ana{n},Smith,ana{n}@example.com\n" for n in range(6))
    file.write_text(f"First Name,Last Name,E-mail Address\n{rows}", encoding="utf-8")
    result = cli("import", str(file))
    assert result.exit_code == 2
    assert result.output.startswith(
        "error: This file has more than 5 rows (the limit is 5). Split it into smaller files, "
        "or ask an administrator to raise the limit (the setting CRM_IMPORT_MAX_ROWS)."
    )
    assert "Traceback" not in result.output
    assert contacts() == 0
    assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 0
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{n}" for n in range(501)) + "\n" + "x\n", encoding="utf-8")
    result = cli("import", str(wide))
    assert result.exit_code == 2
    assert "error: This file has more than 500 columns (the limit is 500 columns)" in result.output
