"""The entry point of `rq worker crm` processes (CRM_JOB_QUEUE=rq): each job gets a fresh app,
built from the worker machine's environment. Nothing in the app imports this module, because
it imports the app (crm.services.platform.jobs names it on the queue instead)."""

from __future__ import annotations

from crm import create_app
from crm.extensions import db
from crm.services.platform import jobs


def run(runner: str, job_id: int) -> None:
    """Run job `job_id` with the runner `jobs.submit` put on the queue ("module:function")."""
    app = create_app()
    try:
        jobs.run_in_app(app, jobs.runner_named(runner), job_id)
    finally:
        with app.app_context():
            db.engine.dispose()  # this app's connections end with its job
