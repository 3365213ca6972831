"""Background jobs (imports, large exports): run outside the request that starts them.

A job is a row (an ImportJob, an ExportJob) and a runner, a module-level function that takes
the row's id (`run_job`, `run_export`); this module knows neither: the caller passes both, so
the runners can live above it and import what they need.

`CRM_JOB_QUEUE` chooses how:
- "thread" (the default): a worker thread of this process runs jobs one at a time, with no
  extra server. A job cut off by a restart is marked failed by `fail_interrupted` (called
  at start-up and when the job list is opened) and can be resumed.
- "rq": jobs are put on a Redis queue (`CRM_REDIS_URL`) for `rq worker crm` processes, for
  deployments on several machines (install `rq`). The queue holds the runner's name
  ("module:function"); the worker's entry point, `crm.worker.run`, builds an app of its own
  and finds the runner by that name.
- "inline": the job runs in the calling request or command (the CLI, tests).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from flask import Flask, current_app

from crm.errors import DomainError
from crm.extensions import db
from crm.models import JobStatus
from crm.models.base import utcnow

if TYPE_CHECKING:
    from crm.models import Campaign, ExportJob, ImportJob

Runner = Callable[[int], None]

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_pending: list[Future] = []
QUEUES = ("thread", "rq", "inline")
# What an RQ worker calls with (runner name, job id): named, not imported, because that
# module builds an app, and the app must not import what builds it.
WORKER_ENTRY_POINT = "crm.worker.run"


def submit(runner: Runner, job: ImportJob | ExportJob | Campaign,
           not_queued: Callable[[str], None] | None = None) -> None:  # fmt: skip
    """Run `runner(job.id)` as configured. `job` is committed already; when the queue cannot
    take it, it is marked failed with the reason (or `not_queued(reason)` is called and
    committed) and JobQueueDown is raised."""
    name = runner_name(runner)  # a runner a worker could not find fails here, in every mode
    job_id = job.id
    app = current_app._get_current_object()
    queue = app.config.get("CRM_JOB_QUEUE", "thread")
    if queue == "inline":
        runner(job_id)
    elif queue == "rq":
        try:
            _enqueue_rq(app, name, job_id)
        except Exception as exc:
            if _queue_down(exc):
                _not_queued(job, exc, not_queued)
            raise
    else:
        global _executor
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-job")
            _pending.append(_executor.submit(run_in_app, app, runner, job_id))


def commit_and_submit(runner: Runner, job: ImportJob | ExportJob) -> str | None:
    """Commit the session (the job row and whatever started it), then submit the job: None
    when it is on its way, else why it could not start (the queue is down: the job is
    marked failed with that reason, which its page shows). Every boundary that starts a
    job (admin pages, CLI) calls this; the job can only run once its row is committed."""
    db.session.commit()
    try:
        submit(runner, job)
    except JobQueueDown as exc:
        return exc.message
    return None


def runner_name(runner: Runner) -> str:
    """The name a worker finds `runner` by ("module:function"): a function of a crm module."""
    module, qualname = getattr(runner, "__module__", ""), getattr(runner, "__qualname__", "")
    if not module.startswith("crm.") or not qualname or "<" in qualname:
        raise ValueError(f"A job runner must be a module-level function of crm: {runner!r}")
    return f"{module}:{qualname}"


# Runners that moved, by the name an older version put on the queue -> their name now: a job
# queued before an upgrade still runs after it. Add a line whenever a runner moves or is
# renamed; a line can go once no queue can hold the old name.
RENAMED_RUNNERS = {
    # importing/imports.py was split into jobs, run, undo and preview (issue 19).
    "crm.services.transfer.importing.imports:run_job": (
        "crm.services.transfer.importing.run:run_job"
    ),
}


def runner_named(name: str) -> Runner:
    """The runner `runner_name` named: only a function of a crm module, as a queue of an
    older version or another machine may hold any text."""
    name = RENAMED_RUNNERS.get(name, name)
    module, _, qualname = name.partition(":")
    if not module.startswith("crm.") or not qualname:
        raise ValueError(f"Not the name of a job runner: {name!r}")
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


class JobQueueDown(DomainError):
    """The job queue could not take the job (the job is marked failed with the reason)."""


def _queue_down(exc: Exception) -> bool:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - rq (and redis) not installed
        return isinstance(exc, OSError)
    return isinstance(exc, RedisError | OSError)


def _not_queued(job, exc: Exception, not_queued: Callable[[str], None] | None) -> None:
    message = (
        "The job queue (Redis, CRM_REDIS_URL) cannot be reached, so the job was not started: "
        f"try again later, or ask an administrator. ({type(exc).__name__})"
    )
    if not_queued is not None:
        not_queued(message)
    else:
        job.status = JobStatus.FAILED
        job.message = message
        job.finished_at = utcnow()
    db.session.commit()
    raise JobQueueDown(message) from None


def run_in_app(app: Flask, runner: Runner, job_id: int) -> None:
    """`runner(job_id)` in an app context of its own, its session closed after."""
    with app.app_context():
        try:
            runner(job_id)
        finally:
            db.session.remove()


def wait(timeout: float = 60.0) -> None:
    """Wait for the jobs this process started (the CLI, tests)."""
    with _lock:
        pending = list(_pending)
        _pending.clear()
    for future in pending:
        future.result(timeout=timeout)


def _enqueue_rq(app: Flask, runner: str, job_id: int) -> None:
    try:
        from redis import Redis
        from rq import Queue
    except ImportError as exc:  # pragma: no cover - depends on the deployment
        raise RuntimeError("CRM_JOB_QUEUE=rq needs the rq package: pip install rq") from exc
    connection = Redis.from_url(app.config.get("CRM_REDIS_URL") or "redis://localhost:6379/0")
    Queue("crm", connection=connection).enqueue(
        WORKER_ENTRY_POINT, runner, job_id, job_timeout=24 * 3600
    )
