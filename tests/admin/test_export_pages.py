"""Large exports from the bulk page become jobs: the job's page with its progress, the
download for the user who asked for it only, the list of exports."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import ExportJob, JobStatus
from crm.services.platform import jobs
from tests.conftest import csrf_from, login

EVERYONE = "/admin/contact/bulk/?target=matching"


@pytest.fixture
def people(app, make_user, make_contact):
    app.config["CRM_EXPORT_BACKGROUND_FROM"] = 2  # three contacts make a "large" export
    owner = make_user("crm_manager")
    for name in ("Able", "Baker", "Cole"):
        make_contact(owner, first_name="Ann", last_name=name)
    return owner


def _ask(client, file_format="csv"):
    page = client.get(EVERYONE).get_data(as_text=True)
    return client.post(
        EVERYONE,
        data={"operation": "export", "export_format": file_format, "csrf_token": csrf_from(page)},
    )


def test_a_large_export_runs_as_a_job_and_is_downloaded_from_its_page(client, people):
    assert login(client, people.email).status_code == 302
    asked = _ask(client)
    assert asked.status_code == 302 and "/admin/exports/" in asked.location
    jobs.wait()
    job = db.session.scalar(select(ExportJob))
    db.session.refresh(job)
    assert job.status == JobStatus.DONE, job.message
    page = client.get(asked.location).get_data(as_text=True)
    assert "Done" in page and '3</span> of <span class="job-total" data-field="total">3' in page
    status = client.get(f"/admin/exports/{job.id}/status.json").get_json()
    assert status == {"status": "done", "label": "Done", "progress": 100, "done": 3, "total": 3}
    download = client.get(f"/admin/exports/{job.id}/download/")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    body = download.get_data().decode("utf-8-sig")
    download.close()
    assert all(name in body for name in ("Able", "Baker", "Cole"))
    listing = client.get("/admin/exports/").get_data(as_text=True)
    assert f"/admin/exports/{job.id}/download/" in listing


def test_another_users_export_is_not_found(client, people, make_user):
    login(client, people.email)
    _ask(client)
    jobs.wait()
    job = db.session.scalar(select(ExportJob))
    client.post(
        "/logout", data={"csrf_token": csrf_from(client.get("/logout").get_data(as_text=True))}
    )
    other = make_user("crm_manager")
    assert login(client, other.email).status_code == 302
    for url in ("/", "/status.json", "/download/"):
        assert client.get(f"/admin/exports/{job.id}{url}").status_code == 404
    assert f"/admin/exports/{job.id}/" not in client.get("/admin/exports/").get_data(as_text=True)


def test_a_small_export_is_still_downloaded_at_once(client, people, app):
    app.config["CRM_EXPORT_BACKGROUND_FROM"] = 10
    login(client, people.email)
    answer = _ask(client)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    answer.close()  # as the server does, whether the download ended or was cut off
    assert db.session.scalar(select(ExportJob)) is None


def test_an_administrator_follows_every_users_jobs_but_their_files_stay_theirs(
    client, people, make_user, app
):
    from crm.models import DuplicateHandling
    from crm.services.transfer.importing.jobs import create_job, start
    from crm.services.transfer.importing.run import run_job
    from crm.services.transfer.importing.targets import Mapping

    app.config["CRM_JOB_QUEUE"] = "inline"
    login(client, people.email)
    _ask(client)
    export = db.session.scalar(select(ExportJob))
    upload = create_job(people, b"First Name,Last Name\nAna,Smith\n", "theirs.csv")
    start(people, upload, Mapping.from_json(upload.mapping), DuplicateHandling.SKIP,
          dry_run=False)  # fmt: skip
    db.session.commit()
    run_job(upload.id)
    client.post(
        "/logout", data={"csrf_token": csrf_from(client.get("/logout").get_data(as_text=True))}
    )
    admin = make_user("crm_admin")
    login(client, admin.email)

    listing = client.get("/admin/imports/").get_data(as_text=True)
    assert "theirs.csv" in listing and people.email in listing
    page = client.get(f"/admin/imports/{upload.id}/").get_data(as_text=True)
    assert "Started by " + people.email in page and "Undo this import" not in page
    token = csrf_from(client.get("/admin/imports/").get_data(as_text=True))
    undo = client.post(f"/admin/imports/{upload.id}/undo/", data={"csrf_token": token})
    assert undo.status_code == 404  # undo stays with the one who imported

    exports_page = client.get("/admin/exports/").get_data(as_text=True)
    assert f"Export #{export.id}" in exports_page and f"by {people.email}" in exports_page
    assert "export-download" not in exports_page
    assert client.get(f"/admin/exports/{export.id}/").status_code == 200
    assert client.get(f"/admin/exports/{export.id}/download/").status_code == 404
