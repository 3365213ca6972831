"""`flask --app app crm import FILE`: the import of the Import page, from a terminal, with a
progress bar and the same report (counts, then every row in error with its number)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app

from crm.cli import acting_user, crm_cli
from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.models import DuplicateHandling, ImportJob, JobStatus

# The choices ARCHITECTURE.md names ("update" fills empty fields only), and our two kinds of
# update by their own names.
ON_DUPLICATE = {
    "skip": DuplicateHandling.SKIP,
    "update": DuplicateHandling.FILL,
    "fill": DuplicateHandling.FILL,
    "overwrite": DuplicateHandling.OVERWRITE,
    "create": DuplicateHandling.CREATE,
}
FORMATS = {"auto": None, "csv": ".csv", "xlsx": ".xlsx", "vcf": ".vcf"}


@crm_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(list(FORMATS)), default="auto")
@click.option(
    "--on-duplicate",
    type=click.Choice(list(ON_DUPLICATE)),
    default="skip",
    show_default=True,
    help="A row matching an existing contact: skip it, update (fill empty fields), "
    "overwrite, or create a new contact anyway.",
)
@click.option("--dry-run", is_flag=True, help="Go through every row and save nothing.")
@click.option("--sheet", default=None, help="The sheet of an XLSX file (default: the first).")
@click.option(
    "--phone-region",
    default=None,
    help="The country (code or name) of numbers written without a country code, when the "
    "row's address names none (default: CRM_DEFAULT_PHONE_REGION).",
)
@click.option("--as", "as_email", default=None, help="The acting user (default: an admin).")
def import_command(
    file: Path,
    file_format: str,
    on_duplicate: str,
    dry_run: bool,
    sheet: str | None,
    phone_region: str | None,
    as_email: str | None,
) -> None:
    """Import contacts from FILE (CSV, XLSX or vCard), with the mapping the Import page
    would propose (a saved one, a known column set, or one guessed from the headers)."""
    from crm.services.platform import jobs
    from crm.services.transfer.importing.jobs import create_job, start
    from crm.services.transfer.importing.run import run_job
    from crm.services.transfer.importing.targets import Mapping

    actor = acting_user(as_email)
    name = file.name
    if FORMATS[file_format] and not name.lower().endswith(FORMATS[file_format]):
        name = f"{name}{FORMATS[file_format]}"
    data = file.read_bytes()
    limit = current_app.config["CRM_IMPORT_MAX_BYTES"]
    if len(data) > limit:
        click.echo(f"error: {file} is {len(data):,} bytes; the limit is {limit:,}.", err=True)
        sys.exit(2)
    try:
        job = create_job(actor, data, name, sheet=sheet)
        mapping = Mapping.from_json(job.mapping)
        run = start(
            actor,
            job,
            mapping,
            ON_DUPLICATE[on_duplicate],
            dry_run=dry_run,
            phone_region=phone_region,
        )
        db.session.flush()
    except ValidationFailed as exc:
        db.session.rollback()
        for field, messages in exc.errors.items():
            click.echo(f"error: {field}: {'; '.join(messages)}", err=True)
        sys.exit(2)
    except DomainError as exc:
        db.session.rollback()
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    click.echo(
        f"{file.name}: {job.file_format}"
        + (f", recognised as {job.column_set}" if job.column_set else "")
        + (" (dry run: nothing is saved)" if dry_run else "")
    )
    job_id = run.id
    not_started = jobs.commit_and_submit(run_job, run)
    if not_started:
        raise click.ClickException(not_started)
    with click.progressbar(length=100, label="Importing", show_percent=True) as bar:
        shown = 0
        while True:
            db.session.expire_all()
            current = db.session.get(ImportJob, job_id)
            bar.update(current.progress - shown)
            shown = current.progress
            if current.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                break
            time.sleep(0.3)
    jobs.wait()
    db.session.expire_all()
    current = db.session.get(ImportJob, job_id)
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{current.done_rows} row(s): {current.created} {verb} created, {current.updated} "
        f"{verb} updated, {current.skipped} skipped as duplicates, {current.failed} with errors."
    )
    for error in current.errors:
        column = f" {error['field']}:" if error.get("field") else ""
        click.echo(f"  row {error['row']}:{column} {error['message']}")
    if current.failed > len(current.errors):
        click.echo(f"  (the first {len(current.errors)} rows with errors are listed)")
    if current.status == JobStatus.FAILED:
        click.echo(f"error: {current.message}", err=True)
        sys.exit(1)
