"""Files and pictures of contacts (crm.services.card.files): what is accepted, where the bytes go,
who may see and delete them, and that the disk follows the transaction."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from flask import current_app
from PIL import Image
from sqlalchemy import select

from crm.errors import DomainError, NotFound, PermissionDenied
from crm.extensions import db
from crm.models import AccessClass, ContactFile
from crm.services.card import files
from crm.services.contacts.batch import begin_for_savepoints
from crm.services.contacts.trash import delete_contact, purge_contact
from tests.services.conftest import count, history, reload

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# ---- sample files ---------------------------------------------------------------------------
def png(width: int = 40, height: int = 30, mode: str = "RGB", color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_exif(width: int = 1200, height: int = 600, orientation: int = 6) -> bytes:
    """A landscape JPEG whose EXIF says 'rotate 90°' and names a camera and a place."""
    image = Image.new("RGB", (width, height), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 0.0)}  # GPS info
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"secret comment")
    return out.getvalue()


def declared_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels (a decompression bomb)."""
    data = bytearray(png(1, 1, "L", 0))
    ihdr = 8 + 4  # after the signature and the chunk's length
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 4 + 13]))
    data[ihdr + 4 + 13 : ihdr + 4 + 17] = struct.pack(">I", crc)
    return bytes(data)


def docx(macros: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr("word/document.xml", "<w:document/>")
        if macros:
            archive.writestr("word/vbaProject.bin", b"\x00macro")
    return out.getvalue()


def odt() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.exe", b"MZ\x90\x00")
    return out.getvalue()


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200


def stored(kind: str = "files") -> list[Path]:
    """The files kept on disk under the instance folder."""
    folder = Path(current_app.instance_path) / "uploads" / kind
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def ana(make_contact):
    return make_contact(first_name="Ana", last_name="Smith")


def upload(actor, contact, name: str, data: bytes) -> ContactFile:
    made = files.upload_file(actor, contact, name, io.BytesIO(data))
    db.session.commit()
    return made


# ---- what is accepted -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data", "mime"),
    [
        ("Offer.PDF", PDF, "application/pdf"),
        ("photo.png", png(), "image/png"),
        ("photo.jpeg", jpeg_with_exif(), "image/jpeg"),
        ("notes.txt", "Grüße\n".encode(), "text/plain"),
        ("prices.csv", b"name,price\nTea,2\n", "text/csv"),
        ("legacy.csv", "caf\xe9,2\n".encode("cp1252"), "text/csv"),  # Excel's CSV on Windows
        ("letter.docx", docx(), files.KNOWN_TYPES["docx"][0]),
        ("letter.odt", odt(), files.KNOWN_TYPES["odt"][0]),
    ],
)
def test_accepted_files_are_stored_under_a_random_name_with_their_sniffed_type(
    manager, ana, name, data, mime
):
    made = upload(manager, ana, name, data)
    assert (made.filename, made.content_type, made.size) == (name, mime, len(data))
    assert made.sha256 == hashlib.sha256(data).hexdigest()
    [path] = stored()
    assert path.name == made.stored_name and len(made.stored_name) == 32
    assert name not in str(path) and path.read_bytes() == data
    found, opened = files.open_file(manager, made.id)
    assert found.id == made.id and opened == path


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("invoice.pdf", EXE, "not a PDF document: its content is of a kind not"),  # renamed
        ("invoice.pdf", png(), "its content is a PNG image"),
        ("setup.exe", EXE, "Files of type .exe are not accepted"),
        ("page.html", b"<html><script>alert(1)</script></html>", "type .html are not accepted"),
        ("page.pdf", b"<html><script>alert(1)</script></html>", "content is a text file"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "type .svg"),
        ("binary.txt", b"\x00\x01\x02garbage", "not a text file: its content is of a kind"),
        ("noname", EXE, "not a type this CRM accepts"),
        ("macro.docx", docx(macros=True), "with macros are not accepted"),
        ("archive.zip", plain_zip(), "type .zip are not accepted"),
        ("archive.docx", plain_zip(), "content is a ZIP archive"),
        ("empty.pdf", b"", "The file is empty"),
    ],
)
def test_refused_files_say_why_and_leave_nothing(manager, ana, name, data, says):
    with pytest.raises(DomainError, match=says):
        files.upload_file(manager, ana, name, io.BytesIO(data))
    db.session.rollback()
    assert count(ContactFile) == 0
    assert stored() == []


def test_a_file_larger_than_the_limit_is_refused_without_reading_it_all(app, manager, ana):
    app.config["CRM_UPLOAD_MAX_BYTES"] = 1000

    class Endless(io.RawIOBase):
        """A stream that never ends, counting what is read of it."""

        read_bytes = 0

        def readinto(self, buffer):
            buffer[:] = b"a" * len(buffer)
            self.read_bytes += len(buffer)
            return len(buffer)

    stream = Endless()
    with pytest.raises(DomainError, match="larger than 1000 bytes"):
        files.upload_file(manager, ana, "big.txt", stream)
    assert stream.read_bytes == 1001
    assert stored() == []
    app.config["CRM_UPLOAD_MAX_BYTES"] = 1001
    assert upload(manager, ana, "big.txt", b"a" * 1001).size == 1001


def test_zip_is_accepted_only_when_configured(app, manager, ana):
    app.config["CRM_UPLOAD_TYPES"] = "pdf,zip"
    assert upload(manager, ana, "bundle.zip", plain_zip()).content_type == "application/zip"
    with pytest.raises(DomainError, match=r"Accepted: \.pdf, \.zip"):
        files.upload_file(manager, ana, "photo.png", io.BytesIO(png()))


def test_an_unknown_type_in_the_settings_stops_the_start(tmp_path):
    from crm import create_app

    with pytest.raises(ValueError, match="CRM_UPLOAD_TYPES"):
        create_app({"INSTANCE_PATH": str(tmp_path), "CRM_UPLOAD_TYPES": "pdf,exe"})


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/passwd", "passwd.txt"),  # no path; the type names the extension
        ("..\\..\\Windows\\win.ini.txt", "win.ini.txt"),
        ("Отчёт über Q3 — 東京.txt", "Отчёт über Q3 — 東京.txt"),  # unicode kept
        ("\u202etxt.exe", "txt.exe.txt"),  # no right-to-left override
        ("a\x00b\r\n.txt", "ab .txt"),
        ('what?<>:"|*.txt', "what_______.txt"),
        (".hidden.txt", "hidden.txt"),
        ("x" * 400 + ".txt", "x" * 196 + ".txt"),
        ("", "file.txt"),
    ],
)
def test_file_names_are_made_safe_to_show(manager, ana, given, shown):
    if given.endswith(".exe"):  # the shown name must not hide what the file is
        with pytest.raises(DomainError):
            files.upload_file(manager, ana, given, io.BytesIO(b"text"))
        assert files.clean_filename(given) == "txt.exe"
        return
    made = upload(manager, ana, given, b"root:x:0:0\n")
    assert made.filename == shown
    [path] = stored()
    assert path.parent == Path(current_app.instance_path) / "uploads" / "files"


# ---- who sees and deletes -------------------------------------------------------------------
@pytest.fixture
def hidden(make_user, make_contact):
    """A contact in an access class the sales user is not granted, and that sales user."""
    secret = AccessClass(name="Board")
    db.session.add(secret)
    db.session.commit()
    return make_contact(first_name="Kai", access_class=secret), make_user("crm_sales")


def test_a_user_who_cannot_see_the_contact_cannot_see_its_files(manager, hidden):
    kai, outsider = hidden
    made = upload(manager, kai, "board.pdf", PDF)
    files.set_picture(manager, kai, "kai.png", io.BytesIO(png()))
    db.session.commit()
    assert files.files_of_contact(outsider, kai.id) == []
    for attempt in (
        lambda: files.open_file(outsider, made.id),
        lambda: files.delete_file(outsider, made.id),
        lambda: files.picture_file(outsider, kai.id),
        lambda: files.upload_file(outsider, kai, "x.pdf", io.BytesIO(PDF)),
        lambda: files.set_picture(outsider, kai, "x.png", io.BytesIO(png())),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert files.get_visible_file(outsider, made.id) is None
    assert [f.id for f in files.files_of_contact(manager, kai.id)] == [made.id]
    assert files.picture_file(manager, kai.id)[1] == "image/jpeg"


def test_files_of_a_trashed_contact_are_hidden(manager, ana):
    made = upload(manager, ana, "a.pdf", PDF)
    delete_contact(manager, ana)
    db.session.commit()
    with pytest.raises(NotFound):
        files.open_file(manager, made.id)


def test_the_uploader_or_a_manager_deletes_a_file_and_others_may_not(make_user, manager, ana):
    alice, bob = make_user("crm_sales"), make_user("crm_sales")
    mine, yours = upload(alice, ana, "mine.pdf", PDF), upload(alice, ana, "yours.pdf", PDF)
    assert files.may_delete(alice, mine) and not files.may_delete(bob, mine)
    with pytest.raises(PermissionDenied):
        files.delete_file(bob, mine.id)
    db.session.rollback()
    assert len(stored()) == 2

    files.delete_file(alice, mine.id)
    db.session.commit()
    files.delete_file(manager, yours.id)  # file.delete_any
    db.session.commit()
    assert count(ContactFile) == 0 and stored() == []
    marketeer = make_user("crm_list_manager")  # may not see contacts at all
    with pytest.raises(PermissionDenied):
        files.upload_file(marketeer, ana, "a.pdf", io.BytesIO(PDF))


# ---- the disk follows the transaction ------------------------------------------------------
def test_a_rolled_back_upload_leaves_no_bytes(manager, ana):
    files.upload_file(manager, ana, "a.pdf", io.BytesIO(PDF))
    assert len(stored()) == 1  # written before the commit
    db.session.rollback()
    assert stored() == [] and count(ContactFile) == 0


def test_a_rolled_back_delete_keeps_the_bytes_and_a_committed_one_removes_them(manager, ana):
    made = upload(manager, ana, "a.pdf", PDF)
    files.delete_file(manager, made.id)
    assert len(stored()) == 1  # not before the commit
    db.session.rollback()
    assert len(stored()) == 1 and count(ContactFile) == 1
    files.delete_file(manager, made.id)
    db.session.commit()
    assert stored() == [] and count(ContactFile) == 0


def test_savepoints_keep_or_undo_what_happened_inside_them(manager, ana):
    kept = upload(manager, ana, "kept.pdf", PDF)
    begin_for_savepoints()
    with db.session.begin_nested():
        files.upload_file(manager, ana, "released.pdf", io.BytesIO(PDF))
    savepoint = db.session.begin_nested()
    files.upload_file(manager, ana, "undone.pdf", io.BytesIO(PDF))
    files.delete_file(manager, kept.id)
    savepoint.rollback()
    db.session.commit()
    names = sorted(db.session.scalars(select(ContactFile.filename)))
    assert names == ["kept.pdf", "released.pdf"]
    assert sorted(p.name for p in stored()) == sorted(
        db.session.scalars(select(ContactFile.stored_name))
    )


def test_purging_a_contact_removes_its_bytes(make_user, manager, ana):
    upload(manager, ana, "a.pdf", PDF)
    files.set_picture(manager, ana, "a.png", io.BytesIO(png()))
    db.session.commit()
    admin = make_user("crm_admin")
    delete_contact(manager, ana)
    db.session.commit()
    purge_contact(admin, reload(ana))
    db.session.commit()
    assert stored() == [] and stored("pictures") == [] and count(ContactFile) == 0


def test_history_records_uploads_and_deletions(manager, ana):
    made = upload(manager, ana, "Offer.pdf", PDF)
    files.delete_file(manager, made.id)
    db.session.commit()
    entries = history(entity_type="contact_file", entity_id=made.id)
    assert [e.action for e in entries] == ["create", "delete"]
    assert all(e.contact_id == ana.id and e.user_id == manager.id for e in entries)
    assert entries[0].changes["filename"] == [None, "Offer.pdf"]
    assert entries[0].changes["content_type"] == [None, "application/pdf"]
    assert entries[1].changes["filename"] == ["Offer.pdf", None]


# ---- the picture ----------------------------------------------------------------------------
def test_a_picture_is_turned_upright_resized_and_stripped_of_its_metadata(manager, ana):
    files.set_picture(manager, ana, "portrait.jpg", io.BytesIO(jpeg_with_exif(1200, 600)))
    db.session.commit()
    path, mime = files.picture_file(manager, ana.id)
    assert mime == "image/jpeg" and path.suffix == ".jpg"
    with Image.open(path) as image:
        assert image.format == "JPEG"
        assert image.size == (200, 400)  # rotated by its EXIF orientation, then fitted
        assert not image.getexif() and "exif" not in image.info
        assert "comment" not in image.info and "icc_profile" not in image.info
    raw = path.read_bytes()
    assert b"SpyCam" not in raw and b"secret comment" not in raw
    assert reload(ana).picture == path.name
    [entry] = history(entity_type="contact", entity_id=ana.id, action="update")
    assert entry.changes["picture"] == [None, path.name]


def test_a_transparent_picture_stays_png_and_a_small_one_is_not_enlarged(manager, ana):
    files.set_picture(manager, ana, "logo.png", io.BytesIO(png(50, 20, "RGBA", (0, 0, 0, 0))))
    db.session.commit()
    path, mime = files.picture_file(manager, ana.id)
    assert mime == "image/png"
    with Image.open(path) as image:
        assert image.size == (50, 20) and image.mode == "RGBA"
    files.set_picture(manager, ana, "big.gif", io.BytesIO(png(900, 450, "P", 3)))
    db.session.commit()
    new_path, mime = files.picture_file(manager, ana.id)
    assert mime == "image/jpeg"
    with Image.open(new_path) as image:
        assert image.size == (400, 200)
    assert not path.exists()  # the replaced picture is gone after the commit
    assert stored("pictures") == [new_path]


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("cv.pdf", PDF, "is not a picture"),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a picture|that opens"),
        ("notes.txt", b"hello", "is not a picture"),
        ("bomb.png", declared_png(30_000, 30_000), "too many pixels|more than this CRM reads"),
        ("bomb.png", declared_png(10_000, 10_000), "too many pixels|more than this CRM reads"),
        ("huge.png", declared_png(8_000, 7_000), "8000 x 7000 pixels, more than"),
    ],
)
def test_refused_pictures_say_why_and_leave_the_old_one(manager, ana, name, data, says):
    files.set_picture(manager, ana, "old.png", io.BytesIO(png()))
    db.session.commit()
    old = reload(ana).picture
    with pytest.raises(DomainError, match=says):
        files.set_picture(manager, ana, name, io.BytesIO(data))
    db.session.rollback()
    assert reload(ana).picture == old
    assert [p.name for p in stored("pictures")] == [old]


def test_the_pixel_limit_is_a_setting(app, manager, ana):
    app.config["CRM_PICTURE_MAX_PIXELS"] = 1000
    with pytest.raises(DomainError, match="40 x 30 pixels"):
        files.set_picture(manager, ana, "a.png", io.BytesIO(png(40, 30)))


def test_removing_a_picture_takes_its_bytes_after_the_commit(manager, ana):
    assert files.remove_picture(manager, ana) is False
    files.set_picture(manager, ana, "a.png", io.BytesIO(png()))
    db.session.commit()
    files.remove_picture(manager, ana)
    db.session.rollback()  # changed their mind
    assert len(stored("pictures")) == 1
    assert files.remove_picture(manager, reload(ana)) is True
    db.session.commit()
    assert stored("pictures") == [] and reload(ana).picture is None
    with pytest.raises(NotFound):
        files.picture_file(manager, ana.id)


def test_a_merge_moves_files_and_a_shared_picture_is_kept_for_the_tombstone(manager, make_contact):
    from crm.services.merge.merging import merge_contacts

    one, two = make_contact(first_name="One"), make_contact(first_name="Two")
    made = upload(manager, one, "one.pdf", PDF)
    files.set_picture(manager, one, "a.png", io.BytesIO(png()))
    db.session.commit()
    merge_contacts(manager, [two.id, one.id], master_id=two.id)
    db.session.commit()
    kept = reload(two)
    assert kept.picture == reload(one).picture  # the master took the merged one's picture
    assert [f.id for f in files.files_of_contact(manager, two.id)] == [made.id]
    files.remove_picture(manager, kept)
    db.session.commit()
    assert len(stored("pictures")) == 1  # the tombstone (kept for an undo) still shows it
    files.open_file(manager, made.id)


def test_changing_the_picture_needs_both_rights(make_user, ana):
    marketeer = make_user("crm_marketeer")  # may upload and edit: allowed
    files.set_picture(marketeer, ana, "a.png", io.BytesIO(png()))
    lister = make_user("crm_list_manager")
    with pytest.raises(PermissionDenied):
        files.set_picture(lister, ana, "a.png", io.BytesIO(png()))
    with pytest.raises(PermissionDenied):
        files.remove_picture(lister, ana)
