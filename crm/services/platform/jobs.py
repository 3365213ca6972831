"""Background jobs (imports, large exports): run outside the request that starts them.

`CRM_JOB_QUEUE` chooses how:
- "thread" (the default): a worker thread of this process runs jobs one at a time, with no
  extra server. A job cut off by a restart is marked failed by `fail_interrupted` (called
  at start-up and when the job list is opened) and can be resumed.
- "rq": jobs are put on a Redis queue (`CRM_REDIS_URL`) for `rq worker crm` processes, for
  deployments on several machines (install `rq`; the worker imports this app).
- "inline": the job runs in the calling request or command (the CLI, tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from flask import Flask, current_app

from crm.errors import DomainError
from crm.extensions import db

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_pending: list[Future] = []
QUEUES = ("thread", "rq", "inline")


def _runners() -> dict[str, Callable[[int], None]]:
    from crm.services.transfer.export_jobs import run_export
    from crm.services.transfer.importing.imports import run_job

    return {"import": run_job, "export": run_export}


def submit(kind: str, job_id: int) -> None:
    """Run job `job_id` of `kind` ("import" or "export") as configured."""
    app = current_app._get_current_object()
    queue = app.config.get("CRM_JOB_QUEUE", "thread")
    if queue == "inline":
        _runners()[kind](job_id)
    elif queue == "rq":
        try:
            _enqueue_rq(app, kind, job_id)
        except Exception as exc:
            if _queue_down(exc):
                _not_queued(kind, job_id, exc)
            raise
    else:
        global _executor
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-job")
            _pending.append(_executor.submit(_run, app, kind, job_id))


class JobQueueDown(DomainError):
    """The job queue could not take the job (the job is marked failed with the reason)."""


def _queue_down(exc: Exception) -> bool:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - rq (and redis) not installed
        return isinstance(exc, OSError)
    return isinstance(exc, RedisError | OSError)


def _not_queued(kind: str, job_id: int, exc: Exception) -> None:
    from crm.models import ExportJob, ImportJob, JobStatus
    from crm.models.base import utcnow

    message = (
        "The job queue (Redis, CRM_REDIS_URL) cannot be reached, so the job was not started: "
        f"try again later, or ask an administrator. ({type(exc).__name__})"
    )
    job = db.session.get({"import": ImportJob, "export": ExportJob}[kind], job_id)
    if job is not None:
        job.status = JobStatus.FAILED
        job.message = message
        job.finished_at = utcnow()
        db.session.commit()
    raise JobQueueDown(message) from None


def _run(app: Flask, kind: str, job_id: int) -> None:
    with app.app_context():
        try:
            _runners()[kind](job_id)
        finally:
            db.session.remove()


def wait(timeout: float = 60.0) -> None:
    """Wait for the jobs this process started (the CLI, tests)."""
    with _lock:
        pending = list(_pending)
        _pending.clear()
    for future in pending:
        future.result(timeout=timeout)


def _enqueue_rq(app: Flask, kind: str, job_id: int) -> None:
    try:
        from redis import Redis
        from rq import Queue
    except ImportError as exc:  # pragma: no cover - depends on the deployment
        raise RuntimeError("CRM_JOB_QUEUE=rq needs the rq package: pip install rq") from exc
    connection = Redis.from_url(app.config.get("CRM_REDIS_URL") or "redis://localhost:6379/0")
    Queue("crm", connection=connection).enqueue(
        "crm.services.platform.jobs.run_in_worker", kind, job_id, job_timeout=24 * 3600
    )


def run_in_worker(kind: str, job_id: int) -> None:
    """The entry point an RQ worker calls: a fresh app for the job."""
    from crm import create_app

    app = create_app()
    try:
        _run(app, kind, job_id)
    finally:
        with app.app_context():
            db.engine.dispose()  # this app's connections end with its job
