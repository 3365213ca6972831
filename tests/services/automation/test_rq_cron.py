"""With CRM_JOB_QUEUE=rq, RQ's cron scheduler may run the scheduled work instead of cron or
systemd: deploy/rq_cron.py, loaded by a real CronScheduler against a real redis-server,
puts `crm.worker.run_due` on the `crm` queue, and a worker runs it with an app of its own."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from crm.extensions import db
from crm.models import DoneWork
from tests.services.platform.test_job_queue_rq import (  # noqa: F401 - fixtures
    _queue,
    _work,
    pytestmark,
    redis_url,
    rq_app,
)

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "rq_cron.py"


def test_rq_cron_queues_the_scheduled_work_and_a_worker_runs_it(rq_app, redis_url):  # noqa: F811
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=_queue(redis_url).connection)
    scheduler.load_config_from_file(str(CONFIG))
    (job,) = scheduler.get_jobs()
    assert (job.func_name, job.queue_name, job.interval) == ("crm.worker.run_due", "crm", 60)
    assert [j.func_name for j in scheduler.enqueue_jobs()] == ["crm.worker.run_due"]
    assert scheduler.enqueue_jobs() == []  # not again within the minute

    _work(redis_url)
    db.session.expire_all()
    keys = db.session.scalars(select(DoneWork.key)).all()
    assert [key for key in keys if key.startswith("retention:")], keys  # it ran
    (finished,) = _queue(redis_url).finished_job_registry.get_job_ids()
    result = _queue(redis_url).fetch_job(finished).return_value()
    assert any(line.startswith("Birthday greetings: off") for line in result), result
