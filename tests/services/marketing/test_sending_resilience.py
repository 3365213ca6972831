"""Sending survives what happens to real servers: a worker killed mid-send, a mail server
that is down, pause, resume and cancel. Nobody is mailed twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    ExclusionReason,
    RecipientStatus,
)
from crm.models.base import utcnow
from crm.services.marketing import campaigns, sending

ROOT = Path(__file__).resolve().parents[3]
WORKER = """
import sys
from crm import create_app
from crm.services.marketing.sending import run_campaign
app = create_app()
with app.app_context():
    run_campaign(int(sys.argv[1]))
"""


def _audience(make_contact, make_segment, n: int):
    people = [
        make_contact(
            first_name=f"P{i}", last_name="Reader", email=f"p{i}@example.org", email_marketing=True
        )  # fmt: skip
        for i in range(n)
    ]
    return make_segment("Readers", people)


def _started(actor, segment) -> Campaign:
    campaign = campaigns.save_campaign(actor, None, {
        "name": "News", "subject": "Hi {{ first_name }}", "body_text": "Hello.",
        "segment_ids": [segment.id],
    })  # fmt: skip
    sending.send_campaign(actor, campaign)
    db.session.commit()  # recipients queued; no job handed to a queue
    return campaign


def _worker(app, database_url: str, campaign_id: int, smtp_port: int, log: Path):
    """The sending job in a process of its own (as an RQ worker runs it); output to `log`."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "CRM_MAIL_BACKEND": "smtp",
        "CRM_SMTP_HOST": "127.0.0.1",
        "CRM_SMTP_PORT": str(smtp_port),
        "CRM_CAMPAIGN_RATE": "25",
        "CRM_CAMPAIGN_LEASE_SECONDS": "2",
        "CRM_BASE_URL": "https://crm.example.com",
    }
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", WORKER, str(campaign_id)], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def test_a_worker_killed_mid_send_and_restarted_mails_nobody_twice_and_finishes(
    app, database_url, smtp_server, marketeer, make_contact, make_segment, tmp_path
):
    log = tmp_path / "workers.log"
    segment = _audience(make_contact, make_segment, 60)
    campaign = _started(marketeer, segment)
    port = app.config["CRM_SMTP_PORT"]

    first = _worker(app, database_url, campaign.id, port, log)
    deadline = time.monotonic() + 60
    while len(smtp_server.messages) < 15 and time.monotonic() < deadline:
        assert first.poll() is None, log.read_text()
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_after = len(smtp_server.messages)
    assert 15 <= killed_after < 60

    time.sleep(2.5)  # the dead worker's lease runs out
    second = _worker(app, database_url, campaign.id, port, log)
    assert second.wait(timeout=60) == 0, log.read_text()

    db.session.expire_all()
    received = Counter(to[0] for _, to, _ in smtp_server.messages)
    assert max(received.values()) == 1, "someone got the campaign twice"
    by_status = dict(
        db.session.execute(
            select(CampaignRecipient.status, func.count())
            .where(CampaignRecipient.campaign_id == campaign.id)
            .group_by(CampaignRecipient.status)
        ).all()
    )
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SENT
    assert set(by_status) <= {RecipientStatus.SENT, RecipientStatus.FAILED}
    # The batch that was being handed over when the worker died is marked failed (it may or
    # may not have gone out); everyone else got it, once.
    sent = by_status[RecipientStatus.SENT]
    assert sent + by_status.get(RecipientStatus.FAILED, 0) == 60
    assert sent <= len(received) <= 60
    assert len(received) > killed_after


def test_a_mail_server_down_keeps_the_mails_queued_then_the_scheduler_sends_them(
    app, inline_jobs, smtp_server, marketeer, make_contact, make_segment
):
    import socket

    segment = _audience(make_contact, make_segment, 3)
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    working = app.config["CRM_SMTP_PORT"]
    app.config["CRM_SMTP_PORT"] = closed
    campaign = _started(marketeer, segment)
    sending.commit_and_queue(campaign)

    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.status == CampaignStatus.SENDING
    assert "could not be sent" in campaign.last_error
    assert sending.status_detail(campaign).startswith("waiting: the mail server could not")
    assert campaigns.counts(campaign)["queued"] == 3
    assert smtp_server.messages == []
    # Before the retry time nothing happens; after it, the scheduler takes the campaign over.
    assert sending.run_due_campaigns(utcnow()) == 0
    app.config["CRM_SMTP_PORT"] = working
    # The retry time passes (the job that takes over reads the clock itself).
    campaign.retry_at = campaign.lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sending.run_due_campaigns(utcnow()) == 1
    db.session.expire_all()
    assert len(smtp_server.messages) == 3
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.status == CampaignStatus.SENT and campaign.last_error is None


def test_pause_resume_and_cancel(app, inline_jobs, smtp_server, marketeer, make_contact,
                                 make_segment):  # fmt: skip
    segment = _audience(make_contact, make_segment, 3)
    campaign = _started(marketeer, segment)
    sending.pause(marketeer, campaign)
    sending.commit_and_queue(campaign)  # a paused campaign is not handed to the queue
    sending.run_campaign(campaign.id)  # and a job that finds it paused sends nothing
    assert smtp_server.messages == []
    sending.resume(marketeer, campaign)
    sending.commit_and_queue(campaign)
    assert len(smtp_server.messages) == 3

    second = _started(marketeer, segment)
    assert sending.cancel(marketeer, second) == 3
    db.session.commit()
    counted = campaigns.counts(second)
    assert counted["excluded_by_reason"] == {ExclusionReason.CANCELLED.value: 3}
    sending.run_campaign(second.id)
    assert len(smtp_server.messages) == 3


def test_a_scheduled_campaign_starts_once_when_its_time_comes(
    app, inline_jobs, smtp_server, marketeer, make_contact, make_segment
):
    import pytest

    from crm.errors import ValidationFailed

    segment = _audience(make_contact, make_segment, 2)
    campaign = campaigns.save_campaign(marketeer, None, {
        "name": "Later", "subject": "Hi", "body_text": "Hello.", "segment_ids": [segment.id],
    })  # fmt: skip
    with pytest.raises(ValidationFailed) as past:
        sending.send_campaign(marketeer, campaign, utcnow() - timedelta(minutes=1))
    assert past.value.errors == {"send_at": ["Choose a time in the future."]}
    db.session.rollback()
    campaign = db.session.get(Campaign, campaign.id) or campaigns.save_campaign(
        marketeer, None, {"name": "Later", "subject": "Hi", "body_text": "Hello.",
                          "segment_ids": [segment.id]},
    )  # fmt: skip
    at = utcnow() + timedelta(hours=1)
    sending.send_campaign(marketeer, campaign, at)
    db.session.commit()
    assert sending.run_due_campaigns(at - timedelta(minutes=1)) == 0
    assert sending.run_due_campaigns(at) == 1
    assert sending.run_due_campaigns(at + timedelta(minutes=1)) == 0
    assert len(smtp_server.messages) == 2


def test_send_pressed_twice_at_once_is_refused_the_second_time(
    app, inline_jobs, smtp_server, marketeer, make_contact, make_segment
):
    import pytest
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from crm.errors import DomainError

    segment = _audience(make_contact, make_segment, 2)
    campaign = campaigns.save_campaign(marketeer, None, {
        "name": "Twice", "subject": "Hi", "body_text": "Hello.", "segment_ids": [segment.id],
    })  # fmt: skip
    db.session.commit()
    assert campaign.status == CampaignStatus.DRAFT  # what this page still shows
    with Session(db.engine) as other:  # the other person's Send, committed first
        other.execute(update(Campaign).where(Campaign.id == campaign.id).values(status="sending"))
        other.commit()
    with pytest.raises(DomainError, match="sent or scheduled meanwhile"):
        sending.send_campaign(marketeer, campaign)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(CampaignRecipient)) == 0
