"""Jobs put on the Redis queue before the services were grouped by domain name
`crm.services.jobs.run_in_worker` with their kind ("import", "export"): this alias lets a worker
of the new version still run them. Nothing in the app imports it (it imports crm.worker)."""

from __future__ import annotations

from crm import worker
from crm.services.platform.jobs import runner_name
from crm.services.transfer.export_jobs import run_export
from crm.services.transfer.importing.run import run_job

RUNNERS = {"import": run_job, "export": run_export}


def run_in_worker(kind: str, job_id: int) -> None:
    """Run an import or export queued by an older version, as crm.worker runs new ones."""
    worker.run(runner_name(RUNNERS[kind]), job_id)


__all__ = ["run_in_worker"]
