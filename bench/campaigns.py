"""Campaign cases of `make bench`: resolving and queuing a 100,000-recipient audience at full
size, and sending to a local SMTP server (aiosmtpd, in a process of its own, discarding what
it receives) on one worker, with the worker's memory watched."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Any

AUDIENCE = 100_000
SENT = 5_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss() -> int:
    from bench.measure import _rss as rss

    return rss()


def run(bench: Any, actor: Any, runs: int) -> None:
    """The two campaign cases, each on a marketing list filled (untimed) for it."""
    from sqlalchemy import delete, insert, literal, select

    from crm.models import Campaign, Contact, MarketingList, MarketingListMember
    from crm.services.marketing import campaigns, sending

    db = bench.db
    members = select(Contact.id).where(Contact.id <= AUDIENCE)

    def fill(name: str, source) -> int:
        mlist = MarketingList(name=name)
        db.session.add(mlist)
        db.session.flush()
        db.session.execute(
            insert(MarketingListMember).from_select(
                ["list_id", "contact_id"], select(literal(mlist.id), source.subquery().c[0])
            )
        )
        db.session.commit()
        return mlist.id

    def drop(list_id: int) -> None:
        db.session.execute(delete(Campaign).where(Campaign.name.like("Bench campaign%")))
        db.session.execute(delete(MarketingList).where(MarketingList.id == list_id))
        db.session.commit()

    big = fill("Bench audience", members)

    def resolve_and_queue() -> str:
        campaign = campaigns.save_campaign(actor, None, {
            "name": "Bench campaign", "subject": "Hello {{ first_name }}",
            "body_text": "Hello.", "marketing_list_ids": [big],
        })  # fmt: skip
        sending.send_campaign(actor, campaign)
        db.session.commit()
        counted = campaigns.counts(campaign)
        return (
            f"{counted['total']:,} in the audience: {counted['queued']:,} queued, "
            f"{counted['excluded']:,} excluded by the checks"
        )

    def clear() -> None:
        db.session.execute(delete(Campaign).where(Campaign.name.like("Bench campaign%")))
        db.session.commit()

    bench.time_call(
        "campaign: resolve and queue (services.marketing)",
        f"a marketing list of {AUDIENCE:,} contacts, every check, + commit",
        resolve_and_queue, max(1, min(runs, 3)), clear,
    )  # fmt: skip
    clear()
    drop(big)

    consenting = (
        select(Contact.id)
        .where(Contact.email.is_not(None), Contact.deleted_at.is_(None))
        .order_by(Contact.id)
        .limit(SENT)
    )
    small = fill("Bench sending", consenting)
    db.session.execute(
        Contact.__table__.update()
        .where(Contact.id.in_(consenting))
        .values(email_marketing=True, do_not_email=False)
    )
    db.session.commit()
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our interpreter, aiosmtpd's own command
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    config = bench.app.config
    saved = {k: config.get(k) for k in ("CRM_MAIL_BACKEND", "CRM_SMTP_HOST", "CRM_SMTP_PORT",
                                         "CRM_CAMPAIGN_RATE", "CRM_BASE_URL")}  # fmt: skip
    config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=port,
                  CRM_CAMPAIGN_RATE=0, CRM_BASE_URL="https://crm.example.com")  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        watch: dict[str, float] = {}

        def send() -> str:
            campaign = campaigns.save_campaign(actor, None, {
                "name": "Bench campaign sending", "subject": "Hello {{ first_name }}",
                "body_text": 'Hello {{ first_name | default("there") }},\n\n**News** for '
                             "{{ account | default(\"you\") }}.",
                "marketing_list_ids": [small],
            })  # fmt: skip
            sending.send_campaign(actor, campaign)
            db.session.commit()
            before = _rss()
            started = time.perf_counter()
            sending.run_campaign(campaign.id)  # the job, as a worker runs it
            seconds = time.perf_counter() - started
            watch["grew"] = (_rss() - before) / 1e6
            sent = campaigns.counts(campaign)["sent"]
            return (
                f"{sent:,} mails, {sent / seconds:,.0f} a second; the worker's RSS grew "
                f"{watch['grew']:,.0f} MB"
            )

        bench.time_call(
            "campaign: send (one worker, local SMTP server)",
            f"{SENT:,} recipients to aiosmtpd (a separate process), no rate limit",
            send, 1, clear,
        )  # fmt: skip
    finally:
        config.update(saved)
        server.terminate()
        server.wait()
        clear()
        drop(small)
