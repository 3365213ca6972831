"""The Import pages: upload, mapping, preview, dry run, import, the job's page, undo."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from crm.extensions import db
from crm.models import Contact, ImportJob, JobStatus, Phone
from crm.services import jobs
from tests.conftest import csrf_from

CSV = (
    b"First Name,Last Name,E-mail Address,Mobile Phone,Company\n"
    b"Ana,Smith,ana@example.com,+44 7400 123456,Acme\n"
    b"Bob,Jones,not-an-email,,\n"
)


def upload(client, data: bytes = CSV, name: str = "people.csv"):
    page = client.get("/admin/imports/").get_data(as_text=True)
    return client.post(
        "/admin/imports/",
        data={"csrf_token": csrf_from(page), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def mapping_form(html: str) -> dict[str, str]:
    data = {"csrf_token": csrf_from(html)}
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        data[name] = chosen.group(1) if chosen else ""
    checked = re.search(r'name="on_duplicate" id="[^"]+" value="([^"]+)" checked', html)
    data["on_duplicate"] = checked.group(1) if checked else "skip"
    return data


def test_upload_map_preview_dry_run_import_and_undo(app, client, login_as):
    app.config["CRM_JOB_QUEUE"] = "inline"
    login_as("crm_manager")
    response = upload(client)
    assert response.status_code == 302
    url = response.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert "E-mail Address" in page and "ana@example.com" in page
    form = mapping_form(page)
    assert (form["col_0"], form["col_2"], form["col_3"]) == ("first_name", "email", "phone.1")
    assert form["type_phone.1"] == "Mobile"  # guessed from the header "Mobile Phone"
    preview = client.post(url, data={**form, "do": "preview"}).get_data(as_text=True)
    assert "+44 7400 123456" in preview and "Acme" in preview
    assert "not-an-email" in preview or "email" in preview.lower()
    assert db.session.scalar(select(Contact.id).limit(1)) is None  # previews save nothing
    dry = client.post(url, data={**form, "do": "dry_run"}, follow_redirects=True)
    assert "Dry run #" in dry.get_data(as_text=True)
    assert db.session.scalar(select(Contact.id).limit(1)) is None
    done = client.post(url, data={**form, "do": "run"}, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "Undo this import" in html and "rows with errors" in html
    job = db.session.scalars(select(ImportJob).where(ImportJob.dry_run.is_(False))).one()
    assert (job.status, job.created, job.failed) == (JobStatus.DONE, 1, 1)
    assert job.errors[0]["row"] == 3
    status = client.get(f"/admin/imports/{job.id}/status.json").get_json()
    assert status["progress"] == 100 and status["created"] == 1
    undone = client.post(
        f"/admin/imports/{job.id}/undo/",
        data={"csrf_token": csrf_from(html)},
        follow_redirects=True,
    )
    assert "Import undone: 1 contact(s) deleted" in undone.get_data(as_text=True)
    assert db.session.scalar(select(Contact.id).limit(1)) is None


def test_a_file_that_cannot_be_read_is_refused_on_the_upload_form(client, login_as):
    login_as("crm_manager")
    response = upload(client, b"", "empty.csv")
    assert response.status_code == 200
    assert "The file is empty." in response.get_data(as_text=True)
    assert db.session.scalar(select(ImportJob.id).limit(1)) is None


def test_another_users_import_is_not_shown(client, login_as, make_user):
    from crm.services.importing import imports

    other = make_user("crm_manager")
    job = imports.create_job(other, CSV, "theirs.csv")
    db.session.commit()
    login_as("crm_manager")
    assert client.get(f"/admin/imports/{job.id}/").status_code == 404
    assert client.get(f"/admin/imports/{job.id}/mapping/").status_code == 404


def test_sales_may_not_import(client, login_as):
    login_as("crm_sales")
    assert client.get("/admin/imports/").status_code == 403


def test_jobs_run_in_the_background_by_default(app, client, login_as):
    assert app.config["CRM_JOB_QUEUE"] == "thread"
    login_as("crm_manager")
    url = upload(client).headers["Location"]
    form = mapping_form(client.get(url).get_data(as_text=True))
    response = client.post(url, data={**form, "do": "run"})
    assert response.status_code == 302
    jobs.wait()
    db.session.expire_all()
    job = db.session.scalars(select(ImportJob)).one()
    assert job.status == JobStatus.DONE and job.created == 1


def test_a_job_queue_that_is_down_is_a_message_not_an_error_page(app, client, login_as):
    """CRM_JOB_QUEUE=rq with nothing listening at CRM_REDIS_URL."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.config.update(CRM_JOB_QUEUE="rq", CRM_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    login_as("crm_manager")
    url = upload(client).headers["Location"]
    form = mapping_form(client.get(url).get_data(as_text=True))
    answer = client.post(url, data={**form, "do": "run"}, follow_redirects=True)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "cannot be reached" in html
    job = db.session.scalars(select(ImportJob)).one()
    assert job.status == JobStatus.FAILED and ">Failed<" in html


def test_the_country_of_numbers_without_a_country_code_is_chosen_on_the_mapping_page(
    app, client, login_as
):
    app.config["CRM_JOB_QUEUE"] = "inline"
    login_as("crm_manager")
    url = upload(client, b"First Name,Last Name,Phone\nHans,Meier,030 1234567\n").headers[
        "Location"
    ]
    page = client.get(url).get_data(as_text=True)
    form = mapping_form(page)
    assert form["phone_region"] == ""  # the row's address's country, else the default
    assert "country, else US</option>" in page
    as_us = client.post(url, data={**form, "do": "preview"}).get_data(as_text=True)
    assert "Not a valid phone number for US (+1)." in as_us
    refused = client.post(url, data={**form, "phone_region": "XX", "do": "preview"})
    assert "Unknown country &#39;XX&#39;" in refused.get_data(as_text=True)
    as_german = client.post(url, data={**form, "phone_region": "DE", "do": "preview"})
    html = as_german.get_data(as_text=True)
    assert "+49 30 1234567" in html and '<option value="DE" selected>' in html
    client.post(url, data={**form, "phone_region": "DE", "do": "run"})
    assert db.session.scalar(select(Phone.e164)) == "+49301234567"
    assert db.session.scalar(select(ImportJob.phone_region)) == "DE"
