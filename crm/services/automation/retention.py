"""Retention: export files older than 7 days and finished imports' uploads older than 30 days
are deleted, and the scheduler's old claims forgotten. One sweep an hour, claimed like any
scheduled work (`retention:<hour>`), so two schedulers never sweep the same hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.extensions import db
from crm.services.automation import ledger
from crm.services.platform.local_time import as_utc
from crm.services.transfer import export_jobs
from crm.services.transfer.importing import jobs as import_jobs

# Claims older than this name days and appointment times gone by (see ledger.forget_before);
# the sweeps' own claims say when scheduled work last ran.
FORGET_CLAIMS_AFTER = timedelta(days=14)


@dataclass
class Swept:
    exports: int = 0
    uploads: int = 0

    def __str__(self) -> str:
        return f"{self.exports} export file(s), {self.uploads} import upload(s) deleted"


def sweep_key(now: datetime) -> str:
    return f"retention:{as_utc(now):%Y-%m-%dT%H}"


def sweep(now: datetime) -> Swept | None:
    """Delete what is past its keeping time at `now`; None when this hour was swept."""
    if not ledger.claim(sweep_key(now), now):
        return None
    swept = Swept(exports=export_jobs.delete_old_files(now))
    swept.uploads = import_jobs.delete_old_uploads(now)
    ledger.forget_before(now - FORGET_CLAIMS_AFTER)
    db.session.commit()
    return swept
