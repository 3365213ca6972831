"""The entry point of `rq worker crm` processes (CRM_JOB_QUEUE=rq): each job gets a fresh app,
built from the worker machine's environment. Nothing in the app imports this module, because
it imports the app (crm.services.platform.jobs names it on the queue instead)."""

from __future__ import annotations

from crm import create_app
from crm.extensions import db
from crm.services.automation.run_due import run_due as run_scheduled_work
from crm.services.platform import jobs


def run(runner: str, job_id: int) -> None:
    """Run job `job_id` with the runner `jobs.submit` put on the queue ("module:function")."""
    app = create_app()
    try:
        jobs.run_in_app(app, jobs.runner_named(runner), job_id)
    finally:
        with app.app_context():
            db.engine.dispose()  # this app's connections end with its job


def run_due() -> list[str]:
    """The scheduled work due now (`crm run-due`), for RQ's cron scheduler
    (`rq cron deploy/rq_cron.py`, CRM_JOB_QUEUE=rq); its report's lines. A failed part fails
    the job, with the report, after the other parts have run."""
    app = create_app()
    try:
        with app.app_context():
            report = run_scheduled_work()
            if report.failed:
                raise RuntimeError("Scheduled work failed: " + "; ".join(report.lines()))
            return report.lines()
    finally:
        with app.app_context():
            db.engine.dispose()
