"""`flask crm ...` commands, run through Flask's CLI test runner on the test database."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import Contact, User
from crm.services.platform.users import authenticate
from tests.services.conftest import count

PASSWORD = "a-long-enough-secret"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    monkeypatch.delenv("CRM_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("CRM_DEMO", raising=False)


def user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


# ---- create-user ------------------------------------------------------------------------


def test_create_user_reads_the_password_from_stdin(cli):
    result = cli(
        "create-user",
        "Ana@Example.com",
        "--role",
        "crm_sales",
        "--role",
        "crm_marketeer",
        "--name",
        "Ana Smith",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created user ana@example.com with roles: crm_sales, crm_marketeer" in result.output
    assert PASSWORD not in result.output
    created = user("ana@example.com")
    assert created.full_name == "Ana Smith"
    assert created.role_names == {"crm_sales", "crm_marketeer"}
    assert authenticate("ana@example.com", PASSWORD) is not None


def test_create_user_prompts_for_the_password_twice(cli):
    result = cli("create-user", "ana@example.com", "--role", "crm_sales", input=f"{PASSWORD}\n" * 2)
    assert result.exit_code == 0, result.output
    assert authenticate("ana@example.com", PASSWORD) is not None


def test_create_user_with_an_unknown_role_fails(cli):
    result = cli(
        "create-user",
        "ana@example.com",
        "--role",
        "crm_god",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert "'crm_god' is not one of" in result.output
    assert count(User) == 0


def test_create_user_with_a_short_password_fails(cli):
    result = cli(
        "create-user", "ana@example.com", "--role", "crm_sales", "--password-stdin", input="short\n"
    )
    assert result.exit_code == 2
    assert "error: password: The password must have at least 10 characters." in result.stderr
    assert "Created user" not in result.output
    assert count(User) == 0


def test_create_user_with_a_bad_or_taken_email_fails(cli, make_user):
    make_user("crm_sales", email="ana@example.com")
    taken = cli(
        "create-user",
        "ANA@example.com",
        "--role",
        "crm_sales",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert taken.exit_code == 2
    assert "error: email: A user with the email ana@example.com already exists." in taken.stderr

    bad = cli("create-user", "not-an-email", "--password-stdin", input=PASSWORD + "\n")
    assert bad.exit_code == 2
    assert "error: email: Not a valid email address" in bad.stderr
    assert count(User) == 1


# ---- bootstrap --------------------------------------------------------------------------


def test_bootstrap_creates_the_first_admin_with_a_generated_password_once(cli):
    first = cli("bootstrap", "--demo-contacts", "0")
    assert first.exit_code == 0, first.output
    assert "First administrator created" in first.output
    match = re.search(r"password: (\S+)", first.output)
    assert match, first.output
    admin = authenticate("admin@example.com", match.group(1))
    assert admin is not None and admin.role_names == {"crm_admin"}

    again = cli("bootstrap", "--demo-contacts", "0")
    assert again.exit_code == 0, again.output
    assert "First administrator created" not in again.output
    assert count(User) == 1


def test_bootstrap_uses_crm_admin_password(cli, monkeypatch):
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", PASSWORD)
    result = cli("bootstrap", "--demo-contacts", "0")
    assert result.exit_code == 0, result.output
    assert "(from CRM_ADMIN_PASSWORD)" in result.output
    assert PASSWORD not in result.output
    assert authenticate("admin@example.com", PASSWORD) is not None


def test_bootstrap_refuses_a_short_crm_admin_password(cli, monkeypatch):
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", "short")
    result = cli("bootstrap", "--demo-contacts", "0")
    assert result.exit_code == 2
    assert "error: password: The password must have at least 10 characters." in result.stderr
    assert count(User) == 0


def test_bootstrap_does_not_add_an_admin_when_users_exist(cli, make_user):
    make_user("crm_admin", email="boss@example.com")
    result = cli("bootstrap", "--demo-contacts", "0")
    assert result.exit_code == 0, result.output
    assert user("admin@example.com") is None


def test_bootstrap_loads_demo_data_into_an_empty_database_only(cli):
    first = cli("bootstrap", "--demo-contacts", "4")
    assert first.exit_code == 0, first.output
    assert (
        "Loaded 4 demo contacts, with tags, segments, a marketing list, leads, deals, orders, "
        "payments, notes, interactions, tasks and appointments (CRM_DEMO=0 skips this)."
        in first.output
    )
    # The demo team's passwords are generated, shown once, and work.
    for email, role in [
        ("maria.keller@example.com", "crm_manager"),
        ("tom.baker@example.com", "crm_sales"),
        ("sara.lindqvist@example.com", "crm_sales"),
        ("lena.ortiz@example.com", "crm_marketeer"),
    ]:
        match = re.search(rf"{re.escape(email)}\s+(\S+)", first.output)
        assert match, first.output
        member = authenticate(email, match.group(1))
        assert member is not None and member.role_names == {role}
    # Four contacts, and the test entry a manager moved to the trash.
    assert count(Contact, Contact.deleted_at.is_(None)) == 4 and count(Contact) == 5
    from crm.models import Appointment, Deal, Interaction, Lead, Note, Order, Task

    assert (count(Lead), count(Deal)) == (25, 40) and count(Order) > 0
    assert (count(Note), count(Interaction), count(Appointment)) == (4, 4, 1)
    assert count(Task) >= 2 + 2 * 5  # and two for each of the five users

    again = cli("bootstrap", "--demo-contacts", "4")
    assert again.exit_code == 0, again.output
    assert "Loaded" not in again.output and "Demo team" not in again.output
    assert count(Contact) == 5 and count(User) == 5


def test_bootstrap_skips_demo_data_when_crm_demo_is_off(cli, monkeypatch, subtests):
    for off in ["0", "false", "no", "OFF"]:
        with subtests.test(CRM_DEMO=off):
            monkeypatch.setenv("CRM_DEMO", off)
            result = cli("bootstrap", "--demo-contacts", "4")
            assert result.exit_code == 0, result.output
            assert "Loaded" not in result.output
            assert count(Contact) == 0
            assert user("admin@example.com") is not None


def test_bootstrap_leaves_a_database_with_contacts_alone(cli, make_user, make_contact):
    make_user("crm_admin")
    make_contact()
    result = cli("bootstrap", "--demo-contacts", "4")
    assert result.exit_code == 0, result.output
    assert count(Contact) == 1


def test_bootstrap_without_an_admin_does_not_crash(cli, make_user):
    make_user("crm_sales")
    result = cli("bootstrap", "--demo-contacts", "2")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Create an administrator first" in result.output


# ---- seed -------------------------------------------------------------------------------


def test_seed_adds_repeatable_demo_contacts(cli, make_user):
    make_user("crm_admin")
    result = cli("seed", "--contacts", "5", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "Added 5 demo contacts." in result.output
    first = [c.full_name for c in db.session.scalars(select(Contact).order_by(Contact.id))]
    assert len(first) == 5

    cli("seed", "--contacts", "5", "--seed", "3")
    names = [c.full_name for c in db.session.scalars(select(Contact).order_by(Contact.id))]
    assert names == first + first


def test_seed_refuses_a_bad_count(cli, make_user, subtests):
    make_user("crm_admin")
    for value in ["0", "-3", "many"]:
        with subtests.test(contacts=value):
            result = cli("seed", "--contacts", value)
            assert result.exit_code == 2
            assert "Invalid value for '--contacts'" in result.output
            assert count(Contact) == 0


def test_seed_without_an_admin_explains_what_to_do(cli):
    result = cli("seed", "--contacts", "2")
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Create an administrator first" in result.output


# ---- export -----------------------------------------------------------------------------


def test_export_writes_every_visible_contact_in_the_format_of_the_extension(
    cli, make_user, make_contact, tmp_path
):
    import csv
    import io

    admin = make_user("crm_admin")
    make_contact(admin, first_name="Zoë", last_name="Ærø", email="zoe@example.com")
    make_contact(admin, first_name="Bo", last_name="=1+1")
    target = tmp_path / "contacts.csv"
    result = cli("export", str(target))
    assert result.exit_code == 0, result.output
    assert re.search(
        rf"Exported 2 contact\(s\) to {re.escape(str(target))} \(\d+\.\d KB\)\.", result.output
    )
    rows = list(csv.reader(io.StringIO(target.read_bytes().decode("utf-8-sig"))))
    assert [row[4] for row in rows] == ["Last name", "Ærø", "'=1+1"]
    assert not list(tmp_path.glob(".*.part"))  # written aside, then renamed
    from crm.models import AuditEntry

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert entry.user_id == admin.id and entry.changes["count"] == 2

    vcards = tmp_path / "phone.txt"
    result = cli("export", str(vcards), "--format", "vcf")
    assert result.exit_code == 0, result.output
    assert vcards.read_text(encoding="utf-8").count("BEGIN:VCARD") == 2

    workbook = tmp_path / "contacts.xlsx"
    assert cli("export", str(workbook)).exit_code == 0
    assert workbook.read_bytes()[:2] == b"PK"  # a zip: the workbook


def test_export_as_a_user_exports_what_they_see_and_refuses_without_the_right(
    cli, make_user, make_contact, tmp_path
):
    from crm.models import AccessClass

    admin = make_user("crm_admin")
    marketeer = make_user("crm_marketeer", email="mia@example.com")
    make_user("crm_sales", email="sam@example.com")
    hidden = AccessClass(name="Key accounts")
    db.session.add(hidden)
    db.session.commit()
    make_contact(admin, first_name="Kai", last_name="Keyman", access_class=hidden)
    make_contact(admin, first_name="Nora", last_name="Plain")
    target = tmp_path / "mine.vcf"
    result = cli("export", str(target), "--as", marketeer.email)
    assert result.exit_code == 0, result.output
    assert "Exported 1 contact(s)" in result.output
    assert "Plain" in target.read_text(encoding="utf-8")
    assert "Keyman" not in target.read_text(encoding="utf-8")

    refused = tmp_path / "refused.csv"
    result = cli("export", str(refused), "--as", "sam@example.com")
    assert result.exit_code == 2
    assert "error: You do not have permission to export contacts." in result.stderr
    assert not refused.exists()
    assert cli("export", str(refused), "--as", "nobody@example.com").exit_code == 2


def test_export_needs_a_known_format_and_an_admin(cli, make_user, tmp_path):
    result = cli("export", str(tmp_path / "contacts.csv"))
    assert result.exit_code == 2
    assert "No active crm_admin" in result.output
    make_user("crm_admin")
    result = cli("export", str(tmp_path / "contacts.pdf"))
    assert result.exit_code == 2
    assert "Cannot tell the format from '.pdf'" in result.output
    assert not list(tmp_path.glob("contacts.*"))
