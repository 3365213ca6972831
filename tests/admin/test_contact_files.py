"""The Files tab's routes (crm.admin.contact_files): upload, download, delete, the picture,
and every refusal a user can meet (wrong type, too large, not theirs, not visible)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import current_app
from PIL import Image
from sqlalchemy import select

from crm.extensions import db
from crm.models import AccessClass, AuditEntry, Contact, ContactFile
from tests.conftest import csrf_from, login
from tests.services.card.test_files import EXE, PDF, jpeg_with_exif, png

BASE = "/admin/contact-files"


def token(client, contact_id: int) -> str:
    """A CSRF token of the session, from the contact's page (its Files tab)."""
    page = client.get(f"/admin/contact/details/?id={contact_id}&tab=files")
    assert page.status_code == 200, page.status_code
    return csrf_from(page.get_data(as_text=True))


def send(client, url: str, csrf: str, field: str, name: str, data: bytes, **kwargs):
    return client.post(
        url,
        data={"csrf_token": csrf, field: (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        **kwargs,
    )


def text_of(response) -> str:
    return response.get_data(as_text=True)


def fetch(client, url: str, **kwargs):
    """GET a file: read, and closed (send_file holds the file open until then)."""
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()
    return response


def on_disk(kind: str = "files") -> list[Path]:
    folder = Path(current_app.instance_path) / "uploads" / kind
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def ana(make_contact):
    return make_contact(first_name="Ana", last_name="Smith")


def test_upload_list_and_download_round_trip(client, login_as, ana):
    manager = login_as("crm_manager")
    csrf = token(client, ana.id)
    done = send(client, f"{BASE}/{ana.id}/upload/", csrf, "file", "Offer 2024.pdf", PDF)
    assert done.status_code == 302
    assert done.headers["Location"].endswith(
        f"/admin/contact/details/?id={ana.id}&tab=files#tab-files"
    )
    page = text_of(client.get(done.headers["Location"]))
    assert "“Offer 2024.pdf” uploaded" in page
    made = db.session.scalar(select(ContactFile))
    table = page[page.index('id="files-table"') :]
    assert f'href="{BASE}/{made.id}/download/"' in table and "PDF document" in table
    assert f'id="file-delete-{made.id}"' in table and str(manager) in table

    got = fetch(client, f"{BASE}/{made.id}/download/")
    assert got.status_code == 200 and got.data == PDF
    assert got.mimetype == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert 'filename="Offer 2024.pdf"' in got.headers["Content-Disposition"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Cache-Control"] == "private, no-store"
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "contact_file"))
    assert (entry.action, entry.user_id, entry.contact_id) == ("create", manager.id, ana.id)


def test_a_unicode_name_is_offered_as_rfc_5987_and_the_type_is_the_sniffed_one(
    client, login_as, ana
):
    login_as("crm_sales")
    csrf = token(client, ana.id)
    # The browser claims HTML; the content is plain text, and that is what is stored.
    client.post(
        f"{BASE}/{ana.id}/upload/",
        data={"csrf_token": csrf, "file": (io.BytesIO(b"hello"), "Grüße 東京.txt", "text/html")},
        content_type="multipart/form-data",
    )
    made = db.session.scalar(select(ContactFile))
    assert made.content_type == "text/plain"
    got = fetch(client, f"{BASE}/{made.id}/download/")
    disposition = got.headers["Content-Disposition"]
    assert "filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%E6%9D%B1%E4%BA%AC.txt" in disposition
    assert got.mimetype == "text/plain" and got.data == b"hello"


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("invoice.pdf", EXE, "is not a PDF document"),
        ("page.html", b"<html><script>alert(1)</script></html>", "type .html are not accepted"),
        ("empty.txt", b"", "The file is empty"),
    ],
)
def test_a_refused_upload_says_why_and_stores_nothing(client, login_as, ana, name, data, says):
    login_as("crm_sales")
    csrf = token(client, ana.id)
    done = send(client, f"{BASE}/{ana.id}/upload/", csrf, "file", name, data, follow_redirects=True)
    assert done.status_code == 200 and says in text_of(done)
    assert db.session.scalar(select(ContactFile)) is None and on_disk() == []


def test_no_file_chosen_is_a_message(client, login_as, ana):
    login_as("crm_sales")
    csrf = token(client, ana.id)
    done = client.post(f"{BASE}/{ana.id}/upload/", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Choose a file to upload." in text_of(done)


def test_too_large_files_are_refused_with_a_readable_page(app, client, login_as, ana):
    login_as("crm_sales")
    csrf = token(client, ana.id)
    app.config["CRM_UPLOAD_MAX_BYTES"] = 1000
    # Just over the limit: the request is read, the service refuses it.
    done = send(client, f"{BASE}/{ana.id}/upload/", csrf, "file", "a.txt", b"a" * 1001,
                follow_redirects=True)  # fmt: skip
    assert "The file is larger than 1000 bytes" in text_of(done)
    # Far over it: refused before the body is read, with a page that says why.
    for url, field in (
        (f"{BASE}/{ana.id}/upload/", "file"),
        (f"{BASE}/{ana.id}/picture/", "picture"),
    ):
        refused = send(client, url, csrf, field, "big.png", b"a" * 200_000)
        assert refused.status_code == 413
        html = text_of(refused)
        assert "File too large" in html and "up to 1000 bytes" in html
        assert "Traceback" not in html and "Nothing was saved" in html
    assert on_disk() == [] and on_disk("pictures") == []


def test_an_app_wide_request_limit_answers_the_same_page(app, client, login_as, ana):
    login_as("crm_sales")
    csrf = token(client, ana.id)
    app.config["MAX_CONTENT_LENGTH"] = 5000
    refused = send(client, f"{BASE}/{ana.id}/upload/", csrf, "file", "a.txt", b"a" * 10_000)
    assert refused.status_code == 413 and "File too large" in text_of(refused)


@pytest.fixture
def hidden(make_contact, make_user):
    """Kai, in an access class nobody but managers and admins sees, with a file and a
    picture; and a sales user, signed in, who sees Ana but not Kai."""
    from crm.services.card import files

    board = AccessClass(name="Board")
    db.session.add(board)
    db.session.commit()
    manager = make_user("crm_manager")
    kai = make_contact(manager, first_name="Kai", access_class=board)
    made = files.upload_file(manager, kai, "board.pdf", io.BytesIO(PDF))
    files.set_picture(manager, kai, "kai.png", io.BytesIO(png()))
    db.session.commit()
    return kai, made


def test_a_user_who_cannot_see_the_contact_gets_404_everywhere(client, login_as, ana, hidden):
    kai, made = hidden
    login_as("crm_sales")
    csrf = token(client, ana.id)
    assert client.get(f"{BASE}/{made.id}/download/").status_code == 404
    assert client.get(f"{BASE}/{kai.id}/picture/").status_code == 404
    assert send(client, f"{BASE}/{kai.id}/upload/", csrf, "file", "a.pdf", PDF).status_code == 404
    assert (
        send(client, f"{BASE}/{kai.id}/picture/", csrf, "picture", "a.png", png()).status_code
        == 404
    )
    assert (
        client.post(f"{BASE}/{kai.id}/picture/delete/", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert client.post(f"{BASE}/{made.id}/delete/", data={"csrf_token": csrf}).status_code == 404
    assert client.get(f"{BASE}/999999/download/").status_code == 404
    assert db.session.get(Contact, kai.id).picture is not None
    assert len(on_disk()) == 1 and len(on_disk("pictures")) == 1


def test_signed_out_visitors_and_roles_without_the_right_are_refused(client, make_user, ana):
    from crm.services.card import files

    made = files.upload_file(make_user("crm_manager"), ana, "a.pdf", io.BytesIO(PDF))
    db.session.commit()
    assert client.get(f"{BASE}/{made.id}/download/").status_code in (302, 403)
    lister = make_user("crm_list_manager")  # no contact rights at all
    login(client, lister.email)
    assert client.get(f"{BASE}/{made.id}/download/").status_code == 403
    assert client.get(f"{BASE}/{ana.id}/picture/").status_code == 403
    csrf = csrf_from(text_of(client.get("/admin/categories/new/")))  # a form they may open
    assert send(client, f"{BASE}/{ana.id}/upload/", csrf, "file", "a.pdf", PDF).status_code == 403
    assert (
        send(client, f"{BASE}/{ana.id}/picture/", csrf, "picture", "a.png", png()).status_code
        == 403
    )


def signed_in(app, user):
    """A client of its own, signed in as `user`."""
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


def test_delete_by_the_uploader_or_a_manager_and_not_by_another_salesperson(app, make_user, ana):
    alice, bob, boss = (
        signed_in(app, make_user(role)) for role in ("crm_sales",) * 2 + ("crm_manager",)
    )
    csrf = token(alice, ana.id)
    for name in ("mine.pdf", "also.pdf"):
        send(alice, f"{BASE}/{ana.id}/upload/", csrf, "file", name, PDF)
    mine, also = db.session.scalars(select(ContactFile.id).order_by(ContactFile.id))

    page = text_of(bob.get(f"/admin/contact/details/?id={ana.id}&tab=files"))
    assert f'id="file-download-{mine}"' in page
    assert f'id="file-delete-{mine}"' not in page  # no button for another's file
    refused = bob.post(f"{BASE}/{mine}/delete/", data={"csrf_token": csrf_from(page)})
    assert refused.status_code == 403

    done = alice.post(f"{BASE}/{mine}/delete/", data={"csrf_token": csrf}, follow_redirects=True)
    assert "“mine.pdf” deleted." in text_of(done)
    boss_csrf = token(boss, ana.id)
    assert boss.post(f"{BASE}/{also}/delete/", data={"csrf_token": boss_csrf}).status_code == 302
    assert db.session.scalar(select(ContactFile)) is None and on_disk() == []
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.entity_type == "contact_file")
        .order_by(AuditEntry.id)
    ).all()  # fmt: skip
    assert actions == ["create", "create", "delete", "delete"]
    assert boss.post(f"{BASE}/{also}/delete/", data={"csrf_token": boss_csrf}).status_code == 404


def test_a_post_without_its_csrf_token_is_refused(client, login_as, ana):
    login_as("crm_manager")
    refused = client.post(
        f"{BASE}/{ana.id}/upload/",
        data={"file": (io.BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400 and on_disk() == []


def test_picture_upload_shown_inline_replaced_and_removed(client, login_as, ana):
    login_as("crm_sales")
    csrf = token(client, ana.id)
    done = send(client, f"{BASE}/{ana.id}/picture/", csrf, "picture", "me.jpg",
                jpeg_with_exif(1600, 900), follow_redirects=True)  # fmt: skip
    html = text_of(done)
    assert "Picture saved." in html
    assert re.search(rf'<img src="{BASE}/{ana.id}/picture/"[^>]*id="contact-picture"', html)
    assert 'id="picture-delete-form"' in html and ">Replace</button>" in html

    shown = fetch(client, f"{BASE}/{ana.id}/picture/")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert "attachment" not in shown.headers.get("Content-Disposition", "")
    assert shown.headers["Cache-Control"] == "private, no-store"  # personal data
    with Image.open(io.BytesIO(shown.data)) as image:
        assert max(image.size) <= 400 and image.size == (225, 400)
        assert not image.getexif()
    etag = shown.headers["ETag"]
    assert (
        fetch(client, f"{BASE}/{ana.id}/picture/", headers={"If-None-Match": etag}).status_code
        == 304
    )

    first = db.session.get(Contact, ana.id).picture
    send(client, f"{BASE}/{ana.id}/picture/", csrf, "picture", "logo.png", png(60, 60))
    assert [p.name for p in on_disk("pictures")] == [db.session.get(Contact, ana.id).picture]
    assert db.session.get(Contact, ana.id).picture != first

    removed = client.post(
        f"{BASE}/{ana.id}/picture/delete/", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "Picture removed." in text_of(removed) and 'id="picture-form"' in text_of(removed)
    assert client.get(f"{BASE}/{ana.id}/picture/").status_code == 404
    assert on_disk("pictures") == []


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("cv.pdf", PDF, "is not a picture"),
        ("bomb.png", None, "too many pixels"),
    ],
)
def test_a_refused_picture_says_why(client, login_as, ana, name, data, says):
    from tests.services.card.test_files import declared_png

    login_as("crm_sales")
    csrf = token(client, ana.id)
    data = data if data is not None else declared_png(30_000, 30_000)
    done = send(client, f"{BASE}/{ana.id}/picture/", csrf, "picture", name, data,
                follow_redirects=True)  # fmt: skip
    assert says in text_of(done) and on_disk("pictures") == []
    assert db.session.get(Contact, ana.id).picture is None


def test_path_traversal_names_are_stored_safely(client, login_as, ana):
    login_as("crm_sales")
    csrf = token(client, ana.id)
    send(client, f"{BASE}/{ana.id}/upload/", csrf, "file", "../../etc/passwd", b"root:x:0:0\n")
    made = db.session.scalar(select(ContactFile))
    assert made.filename == "passwd.txt"
    [path] = on_disk()
    assert path.name == made.stored_name
    assert path.parent == Path(current_app.instance_path) / "uploads" / "files"
    assert not (Path(current_app.instance_path).parent / "etc").exists()


def test_the_tab_renders_alone_with_only_the_buttons_the_user_has(app, make_user, ana):
    from flask import render_template
    from flask_login import login_user

    from crm.admin.contact_files import files_tab
    from crm.services.card import files

    uploader, lister = make_user("crm_sales"), make_user("crm_list_manager")
    made = files.upload_file(uploader, ana, "Tom & Jerry's <b>.txt", io.BytesIO(b"x"))
    db.session.commit()
    with app.test_request_context():
        login_user(uploader)
        html = render_template("admin/contact_card/files.html", model=ana,
                               files_tab=files_tab(uploader, ana))  # fmt: skip
        assert "Tom &amp; Jerry&#39;s _b_.txt</a>" in html
        assert f'id="file-delete-{made.id}"' in html and 'id="file-upload-form"' in html
        assert 'id="picture-form"' in html and "1 byte" in html
    with app.test_request_context():
        login_user(lister)
        html = render_template("admin/contact_card/files.html", model=ana,
                               files_tab=files_tab(lister, ana))  # fmt: skip
        assert 'id="file-upload-form"' not in html and 'id="picture-form"' not in html
        assert 'id="files-empty"' in html  # the contact's files are not theirs to see
