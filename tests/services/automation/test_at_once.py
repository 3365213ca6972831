"""`run_due` run twice at the same moment, by two threads and by two `crm run-due`
processes, against one database and one real SMTP server that answers slowly (so that the
runs overlap): each greeting and reminder arrives once."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm.extensions import db
from crm.services.automation.run_due import run_due
from crm.services.card import appointments, tasks
from tests.conftest import _CollectedMail

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2027, 5, 17, 9, 30, tzinfo=UTC)
GREETED = 12


class _SlowMail(_CollectedMail):
    """Takes 20 ms a message, as a real server over a network might."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp(app) -> Iterator[_SlowMail]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = _SlowMail()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=port)
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def due_work(greetings_on, birthday_contact, make_user, make_contact) -> list[str]:
    """Greetings, morning emails and appointment reminders due at NOW; their recipients."""
    greetings_on(send_time="09:00")
    for n in range(GREETED):
        birthday_contact(f"Person{n}", "1990-05-17")
    ana = make_user("crm_sales", email="ana@example.com")
    bo = make_user("crm_sales", email="bo@example.com")
    client = make_contact(ana, first_name="Carla", last_name="Client")
    tasks.save_task(ana, None, {"title": "Call", "due_on": "2027-05-17", "contact_id": client.id})
    tasks.save_task(bo, None, {"title": "Mail", "due_on": "2027-05-16", "contact_id": client.id})
    appointments.save_appointment(
        ana, None,
        {"subject": "Demo", "starts_at": datetime(2027, 5, 17, 9, 50),
         "ends_at": datetime(2027, 5, 17, 10, 30), "user_ids": [bo.id]},
    )  # fmt: skip
    db.session.commit()
    people = [f"person{n}@example.com" for n in range(GREETED)]
    return sorted(people + ["ana@example.com", "bo@example.com"] * 2)  # digest and reminder


def arrived(server: _CollectedMail) -> Counter:
    return Counter(rcpt for _, rcpts, _ in server.messages for rcpt in rcpts)


def test_two_threads_at_once_send_each_mail_once(app, slow_smtp, due_work):
    barrier = threading.Barrier(2)
    reports = []

    def run() -> None:
        with app.app_context():
            barrier.wait()
            reports.append(run_due(NOW))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(reports) == 2 and not any(r.failed for r in reports), [r.lines() for r in reports]
    assert sorted(arrived(slow_smtp).elements()) == due_work
    greeted = [int(p.outcome.split()[0]) for r in reports for p in r.parts if "greet" in p.name]
    assert sum(greeted) == GREETED


def test_two_processes_at_once_send_each_mail_once(app, slow_smtp, due_work, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "CRM_INSTANCE_PATH": str(tmp_path),
        "CRM_MAIL_BACKEND": "smtp",
        "CRM_SMTP_HOST": "127.0.0.1",
        "CRM_SMTP_PORT": str(app.config["CRM_SMTP_PORT"]),
        "CRM_TIMEZONE": "UTC",
    }
    command = [sys.executable, "-m", "flask", "--app", "app", "crm", "run-due", "--now",
               NOW.isoformat()]  # fmt: skip
    runs = [
        subprocess.Popen(  # noqa: S603 - our own command
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted(arrived(slow_smtp).elements()) == due_work
    greeted = [
        int(line.split(":")[1].split()[0])
        for out, _ in outputs
        for line in out.splitlines()
        if "Birthday greetings:" in line
    ]
    assert sum(greeted) == GREETED, outputs
