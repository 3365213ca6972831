"""CRM_JOB_QUEUE=rq against a real Redis server (started here on a free port): jobs wait on
the queue, not in the app process, and an RQ worker runs them with an app of its own built
from the environment, as `rq worker crm` does on another machine."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Contact, DuplicateHandling, ExportJob, ImportJob, JobStatus
from crm.services.platform import jobs
from crm.services.transfer import export_jobs
from crm.services.transfer.importing.jobs import create_job, fail_interrupted, start
from crm.services.transfer.importing.run import run_job
from crm.services.transfer.importing.targets import Mapping

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (scripts/system-deps.sh installs it)",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path):
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    from redis import Redis

    url = f"redis://127.0.0.1:{port}/0"
    client = Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.05)
    else:
        server.kill()
        pytest.fail("redis-server did not start")
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def rq_app(app, redis_url, database_url, tmp_path, monkeypatch):
    app.config.update(CRM_JOB_QUEUE="rq", CRM_REDIS_URL=redis_url)
    # What the worker's own app is built from (its machine's environment).
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    return app


def _queue(redis_url: str):
    from redis import Redis
    from rq import Queue

    return Queue("crm", connection=Redis.from_url(redis_url))


def _work(redis_url: str) -> None:
    """One RQ worker, in this process, until the queue is empty."""
    from rq import SimpleWorker

    class Worker(SimpleWorker):
        def subscribe(self) -> None:
            # The channel a worker is sent commands on (stop the job, shut down) is not
            # needed by a burst; and with redis-py 8, closing it waits out its 60 s poll.
            self.pubsub_thread = None

    queue = _queue(redis_url)
    Worker([queue], connection=queue.connection).work(burst=True)


def test_an_import_waits_on_the_redis_queue_and_a_worker_runs_it(rq_app, redis_url, manager):
    data = b"First Name,Last Name,E-mail Address\nAna,Smith,ana@example.com\nBo,Lee,bo@x.org\n"
    job = create_job(manager, data, "people.csv")
    start(manager, job, Mapping.from_json(job.mapping), DuplicateHandling.SKIP,
          dry_run=False)  # fmt: skip
    db.session.commit()
    jobs.submit(run_job, job)
    assert len(_queue(redis_url)) == 1  # on the queue, not run here
    db.session.expire_all()
    assert db.session.get(ImportJob, job.id).status == JobStatus.QUEUED
    assert fail_interrupted() == 0  # a Redis queue outlives restarts: not "lost"

    _work(redis_url)
    db.session.expire_all()
    done = db.session.get(ImportJob, job.id)
    assert done.status == JobStatus.DONE, done.message
    assert done.created == 2 and len(_queue(redis_url)) == 0
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 2


def test_a_large_export_runs_on_a_worker_too(rq_app, redis_url, manager, make_contact):
    make_contact(manager, first_name="Ann", last_name="Able")
    job = export_jobs.start_export(manager, select(Contact.id), "csv", "everyone")
    db.session.commit()
    jobs.submit(export_jobs.run_export, job)
    _work(redis_url)
    db.session.expire_all()
    done = db.session.get(ExportJob, job.id)
    assert done.status == JobStatus.DONE, done.message
    assert "Able" in export_jobs.download_path(done).read_text(encoding="utf-8-sig")


def test_a_queue_that_cannot_be_reached_says_so_and_the_job_is_marked_failed(app, manager):
    app.config.update(CRM_JOB_QUEUE="rq", CRM_REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    job = create_job(manager, b"First Name,Last Name\nAna,Smith\n", "people.csv")
    start(manager, job, Mapping.from_json(job.mapping), DuplicateHandling.SKIP,
          dry_run=False)  # fmt: skip
    db.session.commit()
    with pytest.raises(jobs.JobQueueDown, match="cannot be reached"):
        jobs.submit(run_job, job)
    db.session.expire_all()
    failed = db.session.get(ImportJob, job.id)
    assert failed.status == JobStatus.FAILED and "try again later" in failed.message


def test_a_job_queued_by_an_older_version_still_runs(rq_app, redis_url, manager):
    """Versions before the services were grouped queued `crm.services.jobs.run_in_worker`
    with the job's kind: a worker of this version runs them."""
    data = b"First Name,Last Name\nAna,Smith\n"
    job = create_job(manager, data, "people.csv")
    start(manager, job, Mapping.from_json(job.mapping), DuplicateHandling.SKIP,
          dry_run=False)  # fmt: skip
    db.session.commit()
    _queue(redis_url).enqueue("crm.services.jobs.run_in_worker", "import", job.id)
    _work(redis_url)
    db.session.expire_all()
    done = db.session.get(ImportJob, job.id)
    assert done.status == JobStatus.DONE, done.message
    assert done.created == 1


def test_a_job_whose_runner_moved_since_it_was_queued_still_runs(rq_app, redis_url, manager):
    """The queue names a job's runner ("module:function"); an import queued before
    importing/imports.py was split names a module that is gone: a worker of this version
    finds the runner where it moved (jobs.RENAMED_RUNNERS) and runs the import."""
    data = b"First Name,Last Name\nAna,Smith\n"
    job = create_job(manager, data, "people.csv")
    start(manager, job, Mapping.from_json(job.mapping), DuplicateHandling.SKIP,
          dry_run=False)  # fmt: skip
    db.session.commit()
    old_name = "crm.services.transfer.importing.imports:run_job"
    _queue(redis_url).enqueue(jobs.WORKER_ENTRY_POINT, old_name, job.id)
    _work(redis_url)
    db.session.expire_all()
    done = db.session.get(ImportJob, job.id)
    assert done.status == JobStatus.DONE, done.message
    assert done.created == 1 and len(_queue(redis_url)) == 0
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1


def test_a_campaign_is_sent_by_an_rq_worker(rq_app, redis_url, smtp_server, make_user,
                                           make_contact, monkeypatch):  # fmt: skip
    from crm.models import Campaign, CampaignStatus
    from crm.services.marketing import campaigns, sending

    for name in ("CRM_MAIL_BACKEND", "CRM_SMTP_HOST", "CRM_SMTP_PORT"):
        monkeypatch.setenv(name, str(rq_app.config[name]))
    monkeypatch.setenv("CRM_CAMPAIGN_RATE", "0")
    marketeer = make_user("crm_marketeer")
    ana = make_contact(first_name="Ana", email="ana@example.org", email_marketing=True)
    campaign = campaigns.save_campaign(marketeer, None, {
        "name": "News", "subject": "Hi {{ first_name }}", "body_text": "Hello.",
        "contact_ids": [ana.id],
    })  # fmt: skip
    sending.send_campaign(marketeer, campaign)
    assert sending.commit_and_queue(campaign) is None
    assert len(_queue(redis_url)) == 1 and smtp_server.messages == []
    _work(redis_url)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SENT
    assert [m["Subject"] for _, _, m in smtp_server.messages] == ["Hi Ana"]


def test_a_campaign_the_queue_cannot_take_waits_for_the_scheduler(app, make_user, make_contact):
    from crm.models import Campaign, CampaignStatus
    from crm.services.marketing import campaigns, sending

    app.config.update(CRM_JOB_QUEUE="rq", CRM_REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    marketeer = make_user("crm_marketeer")
    ana = make_contact(first_name="Ana", email="ana@example.org", email_marketing=True)
    campaign = campaigns.save_campaign(marketeer, None, {
        "name": "News", "subject": "Hi", "body_text": "Hello.", "contact_ids": [ana.id],
    })  # fmt: skip
    sending.send_campaign(marketeer, campaign)
    said = sending.commit_and_queue(campaign)
    assert said is not None and "cannot be reached" in said
    db.session.expire_all()
    waiting = db.session.get(Campaign, campaign.id)
    assert waiting.status == CampaignStatus.SENDING  # not lost: run-due hands it over again
    assert "cannot be reached" in waiting.last_error and waiting.retry_at is not None
