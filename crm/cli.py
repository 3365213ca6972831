"""`flask --app app crm ...` commands: thin wrappers over the services."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.models import ROLE_NAMES, Contact, User
from crm.services.platform.api_tokens import SCOPES

crm_cli = AppGroup("crm", help="Contacts CRM administration commands.")


def _fail(exc: ValidationFailed) -> None:
    for field, messages in exc.errors.items():
        for message in messages:
            click.echo(f"error: {field}: {message}", err=True)
    db.session.rollback()
    sys.exit(2)


@crm_cli.command("create-user")
@click.argument("email")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(sorted(ROLE_NAMES)),
    help="Role to give (repeat for several).",
)
@click.option("--name", "full_name", default="", help="Full name shown in the app.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(
    email: str, roles: tuple[str, ...], full_name: str, password_stdin: bool
) -> None:
    """Create a user; the password is prompted for unless --password-stdin is given."""
    from crm.services.platform.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, password, list(roles), full_name=full_name)
    except ValidationFailed as exc:
        _fail(exc)
        return
    db.session.commit()
    click.echo(f"Created user {user.email} with roles: {', '.join(roles) or '(none)'}")


@crm_cli.command("seed")
@click.option(
    "--contacts",
    "count",
    type=click.IntRange(1, 5_000_000),
    default=300,
    show_default=True,
    help="How many demo contacts to add.",
)
@click.option("--seed", "seed", type=int, default=None, help="Random seed, for repeatable data.")
def seed_command(count: int, seed: int | None) -> None:
    """Add realistic demo contacts (B2B and B2C, several countries, phones, addresses)."""
    from crm.services.transfer.demo_data import seed_demo_data

    try:
        created = seed_demo_data(count, seed=seed)
    except DomainError as exc:
        db.session.rollback()
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Added {created} demo contacts.")


@crm_cli.command("bootstrap")
@click.option("--demo-contacts", type=int, default=300, show_default=True)
def bootstrap_command(demo_contacts: int) -> None:
    """First start: roles, the first admin when there is no user, demo data when empty."""
    from crm.services.platform.users import create_user, ensure_roles, generate_password

    ensure_roles()
    db.session.flush()
    if not db.session.scalar(select(func.count()).select_from(User)):
        given = os.environ.get("CRM_ADMIN_PASSWORD")
        password = given or generate_password()
        try:
            create_user("admin@example.com", password, ["crm_admin"], full_name="Administrator")
        except ValidationFailed as exc:
            _fail(exc)
            return
        db.session.commit()
        click.echo("")
        click.echo("  First administrator created")
        click.echo("    email:    admin@example.com")
        click.echo(f"    password: {'(from CRM_ADMIN_PASSWORD)' if given else password}")
        if not given:
            click.echo("    (shown once: write it down, or set CRM_ADMIN_PASSWORD next time)")
        click.echo("")
    db.session.commit()
    demo = os.environ.get("CRM_DEMO", "1").strip().lower() not in {"0", "false", "no", "off"}
    empty = not db.session.scalar(select(func.count()).select_from(Contact))
    if demo and empty and demo_contacts > 0:
        from crm.services.transfer.demo_data import load_demo

        try:
            loaded = load_demo(demo_contacts, seed=1)
        except DomainError as exc:
            db.session.rollback()
            click.echo(f"Demo data skipped: {exc.message}", err=True)
            return
        db.session.commit()
        click.echo(
            f"Loaded {loaded.contacts} demo contacts, with tags, segments, a marketing list, "
            "leads, deals, orders, payments, notes, interactions, tasks and appointments "
            "(CRM_DEMO=0 skips this)."
        )
        if loaded.new_users:
            click.echo("")
            click.echo("  Demo team (passwords shown once: write them down)")
            width = max(len(user.email) for user in loaded.new_users)
            for user in loaded.new_users:
                role = ROLE_NAMES[user.role].split(":")[0]
                click.echo(f"    {user.email:<{width}}  {user.password}  {role}")
            click.echo("")


@crm_cli.command("permissions")
def permissions_command() -> None:
    """Print the permission matrix (roles x rights) as a Markdown table."""
    from crm.auth.permissions import matrix_markdown

    click.echo(matrix_markdown(), nl=False)


def acting_user(email: str | None) -> User:
    """The user a command acts as: the active user `email`, else the first active crm_admin."""
    from crm.models import Role, user_roles

    if email:
        user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None or not user.active:
            raise click.UsageError(f"No active user {email!r}.")
        return user
    user = db.session.scalar(
        select(User)
        .join(user_roles, user_roles.c.user_id == User.id)
        .join(Role, Role.id == user_roles.c.role_id)
        .where(Role.name == "crm_admin", User.active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
    if user is None:
        raise click.UsageError("No active crm_admin: create one, or name the user with --as.")
    return user


@crm_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "xlsx", "vcf"]),
    default=None,
    help="File format (default: from FILE's extension: .csv, .xlsx, .vcf).",
)
@click.option(
    "--as", "as_email", default=None, help="The acting user (default: the first crm_admin)."
)
def export_command(file: str, file_format: str | None, as_email: str | None) -> None:
    """Export every contact the acting user may see to FILE: CSV or XLSX in the format
    imports read back, or vCard 4.0. Written as read (memory stays flat); recorded in the
    history."""
    from pathlib import Path

    from crm.services.transfer import exporting

    path = Path(file)
    if file_format is None:
        try:
            file_format = exporting.format_for_path(path)
        except ValueError as exc:
            message = f"{exc} Name a .csv, .xlsx or .vcf file, or give --format."
            raise click.UsageError(message) from None
    actor = acting_user(as_email)
    target = select(Contact.id)
    try:
        total = exporting.record_export(actor, target, file_format, "every contact (command)")
    except DomainError as exc:
        db.session.rollback()
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    # Written beside FILE, then renamed: an interrupted export leaves no half file.
    partial = path.with_name(f".{path.name}.part")
    written = 0
    label = f"Exporting to {exporting.FORMATS[file_format].name}"
    try:
        with partial.open("wb") as out, click.progressbar(length=total, label=label) as bar:

            def advance(contacts: int) -> None:
                nonlocal written
                written += contacts
                bar.update(contacts)

            exporting.write(actor, target, file_format, out, progress=advance)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    db.session.commit()  # the history entry
    size = path.stat().st_size
    shown = f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size / 1000:,.1f} KB"
    click.echo(f"Exported {written:,} contact(s) to {path} ({shown}).")


@crm_cli.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option(
    "--with-files",
    is_flag=True,
    help="Write a .tar.gz of the database backup, the uploads folder (contacts' files and "
    "pictures) and a manifest.json.",
)
def backup_command(file: Path, force: bool, with_files: bool) -> None:
    """Back up the live database to FILE while the app runs: SQLite through its online backup
    API (one self-contained file, integrity-checked), PostgreSQL with pg_dump's custom
    format. FILE appears only once complete. Restoring: README, "Backup and restore"."""
    from crm.services.card.files import human_size
    from crm.services.transfer import backup

    try:
        result = backup.create_backup(file, force=force, with_files=with_files)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    what = "SQLite database" if result.database == "sqlite" else "PostgreSQL database"
    if result.uploads is not None:
        what += f" and {result.uploads} uploaded file(s)"
    contacts = result.snapshot.contacts
    click.echo(
        f"Backed up the {what} to {result.path} ({human_size(result.size)}) "
        f"in {result.seconds:.1f} s: "
        + (f"{contacts:,} contact(s), " if contacts is not None else "")
        + f"{result.check}."
    )


@crm_cli.command("run-due")
@click.option(
    "--now",
    "moment",
    default=None,
    help="Run as if it were this moment (ISO 8601, e.g. 2026-02-28T09:00+13:00; without a "
    "zone, UTC). Default: now.",
)
def run_due_command(moment: str | None) -> None:
    """Run the scheduled work that is due: scheduled campaigns, birthday greetings, the
    morning task emails, appointment reminders and retention. Safe every minute and twice at
    once (nothing is sent or deleted twice). Exits 1 when a part failed."""
    from datetime import datetime

    from crm.services.automation.run_due import run_due

    now = None
    if moment:
        try:
            now = datetime.fromisoformat(moment.strip())
        except ValueError:
            raise click.BadParameter(
                "give a moment in ISO 8601, such as 2026-02-28T09:00 or 2026-02-28T09:00+13:00",
                param_hint="--now",
            ) from None
    report = run_due(now)
    click.echo(f"Scheduled work at {report.now:%Y-%m-%d %H:%M} UTC:")
    for line in report.lines():
        click.echo(f"  {line}")
    if report.failed:
        sys.exit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(crm_cli)


@crm_cli.command("recompute-statuses")
def recompute_statuses_command() -> None:
    """Apply the customer lifecycle's status rules (README, "Customer lifecycle") to every
    contact with a deal or an order: after an upgrade, or statuses changed in the database
    by hand. Each change is recorded in the contact's history."""
    from crm.services.contacts import lifecycle

    looked_at, changed = lifecycle.recompute_all()
    db.session.commit()
    click.echo(f"{looked_at} contact(s) with deals or orders looked at, {changed} changed.")


@crm_cli.command("record-bounces")
@click.argument("file", type=click.Path(path_type=Path))
def record_bounces_command(file: Path) -> None:
    """Read bounces (delivery status notifications) from FILE: an .eml file, a folder of them
    or an mbox file. Each address a permanent failure (5.x.x) names is marked as bouncing: no
    campaign goes to it until the contact's address changes. Delays and temporary failures
    are skipped. A file that cannot be read records nothing."""
    from crm.services.marketing import bounces

    try:
        report = bounces.record_bounces(file)
    except DomainError as exc:
        db.session.rollback()
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(
        f"Read {report.files} file(s), {report.messages} message(s): {report.bounces} "
        f"bounce(s), {len(report.addresses)} address(es) marked as bouncing, "
        f"{report.recipients} campaign mail(s) marked as bounced."
    )
    for address in report.addresses:
        click.echo(f"  bouncing: {address}")
    if report.skipped:
        click.echo(f"Skipped {len(report.skipped)}:")
        for where, why in report.skipped:
            click.echo(f"  {where}: {why}")


@crm_cli.command("create-token")
@click.argument("email")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(list(SCOPES)),
    help="What the token may do (repeat for several); the user's rights must allow it.",
)
@click.option("--name", default="Command line", show_default=True, help="What will use it.")
def create_token_command(email: str, scopes: tuple[str, ...], name: str) -> None:
    """Make an API token for the active user EMAIL and print it (once: it is stored only as a
    hash), for an integration set up by a script. The rules of the API tokens page apply: the
    user's roles must allow API tokens and each scope. Exit code 2 for a refused name or
    scope, 1 when the user may not have tokens."""
    from crm.services.platform.api_tokens import create_token

    user = acting_user(email)
    try:
        token, plain = create_token(user, name, list(scopes))
    except ValidationFailed as exc:
        _fail(exc)
        return
    except DomainError as exc:
        db.session.rollback()
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"API token {token.name!r} for {user.email} ({token.scopes}); shown once:", err=True)
    click.echo(plain)
