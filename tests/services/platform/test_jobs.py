"""The job queue's runners are named, not known: a caller passes a module-level function, and
an RQ worker finds it again by the name the queue holds."""

from __future__ import annotations

import pytest

from crm.services.platform import jobs
from crm.services.transfer import export_jobs
from crm.services.transfer.importing.run import run_job


def test_a_runner_must_be_a_function_a_worker_can_find_by_name():
    assert jobs.runner_name(run_job) == "crm.services.transfer.importing.run:run_job"
    assert jobs.runner_named(jobs.runner_name(export_jobs.run_export)) is export_jobs.run_export
    with pytest.raises(ValueError):
        jobs.runner_name(lambda job_id: None)
    with pytest.raises(ValueError):
        jobs.runner_named("os:system")
