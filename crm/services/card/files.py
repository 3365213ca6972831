"""Files kept with a contact, and the contact's picture (24SevenOffice's File area and Settings).

The bytes live under the instance folder, `uploads/files/` and `uploads/pictures/`, each under
a random name (never the uploader's, so no name can reach another path); the database row
(ContactFile, Contact.picture) says what they are. A file's type is read from its content,
never taken from the browser, and must agree with its name's extension.

The disk follows the transaction: bytes written for an upload are removed again when the
transaction rolls back, and bytes of a deleted file or replaced picture are removed only once
the deletion is committed (session hooks at the end of this module).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from struct import error as struct_error
from typing import IO, Any

import filetype
from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction, selectinload

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, NotFound, PermissionDenied
from crm.extensions import db
from crm.models import Contact, ContactFile
from crm.services.platform import audit
from crm.services.platform.access import contact_visibility, get_visible_contact, one_of

log = logging.getLogger(__name__)

# Every type a file may have, by the extension its name ends in: the type its content must
# sniff as, and how a user would call it. CRM_UPLOAD_TYPES chooses among these.
KNOWN_TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "PDF document"),
    "png": ("image/png", "PNG image"),
    "jpg": ("image/jpeg", "JPEG image"),
    "jpeg": ("image/jpeg", "JPEG image"),
    "gif": ("image/gif", "GIF image"),
    "webp": ("image/webp", "WebP image"),
    "txt": ("text/plain", "text file"),
    "csv": ("text/csv", "CSV file"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word document",
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel sheet"),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "PowerPoint presentation",
    ),
    "odt": ("application/vnd.oasis.opendocument.text", "OpenDocument text"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "OpenDocument spreadsheet"),
    "odp": ("application/vnd.oasis.opendocument.presentation", "OpenDocument presentation"),
    "zip": ("application/zip", "ZIP archive"),
}
_LABELS = {mime: label for mime, label in KNOWN_TYPES.values()}
# The extension a name without one gets, by type.
_EXTENSION_OF = {mime: ext for ext, (mime, _label) in reversed(KNOWN_TYPES.items())}
_TEXT_TYPES = {"text/plain", "text/csv"}
_OOXML_FOLDERS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}
_ODF_TYPES = {KNOWN_TYPES[ext][0]: ext for ext in ("odt", "ods", "odp")}

# The picture: what it may be read from, the box it is fitted into, and how large it may be
# before decoding (a small file can declare a huge image: a decompression bomb).
PICTURE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
PICTURE_BOX = (400, 400)
FILENAME_LIMIT = 200  # characters of a shown file name (the column holds 255)

UPLOADS_FOLDER = "uploads"  # under the instance folder; backups bundle it whole
_FILES_DIR = (UPLOADS_FOLDER, "files")
_PICTURES_DIR = (UPLOADS_FOLDER, "pictures")
_STORED_FILE = re.compile(r"^[0-9a-f]{32}$")
_STORED_PICTURE = re.compile(r"^[0-9a-f]{32}\.(?:jpg|png)$")
_PICTURE_TYPES = {"jpg": "image/jpeg", "png": "image/png"}
# Control characters that never occur in text, whatever its encoding.
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
# Characters a file name may not carry: paths, Windows' reserved ones, quotes.
_NAME_UNSAFE = re.compile(r'[/\\<>:"|?*]')


# ---- settings -------------------------------------------------------------------------------
def max_upload_bytes() -> int:
    """The largest file (or picture) accepted, CRM_UPLOAD_MAX_BYTES."""
    return int(current_app.config.get("CRM_UPLOAD_MAX_BYTES", 10 * 1024 * 1024))


def configured_types(value: Any) -> list[str]:
    """The extensions a CRM_UPLOAD_TYPES value names ("pdf,docx" or a list), lower case."""
    if isinstance(value, str):
        value = value.split(",")
    return [str(ext).strip().lower().lstrip(".") for ext in value or () if str(ext).strip()]


def unknown_upload_types(config: Any) -> list[str]:
    """The extensions in CRM_UPLOAD_TYPES this module cannot check (a start-up error)."""
    return [e for e in configured_types(config.get("CRM_UPLOAD_TYPES")) if e not in KNOWN_TYPES]


def allowed_extensions() -> list[str]:
    """The file name extensions accepted, in the configured order."""
    return [
        e for e in configured_types(current_app.config.get("CRM_UPLOAD_TYPES")) if e in KNOWN_TYPES
    ]


def human_size(size: int) -> str:
    """1536 -> '1.5 KB' (binary multiples, the way file managers count)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            if unit == "bytes":
                return f"{size} byte" + ("" if size == 1 else "s")
            return f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{size} bytes"  # not reached


def type_label(content_type: str) -> str:
    """'application/pdf' -> 'PDF document'."""
    return _LABELS.get(content_type, content_type)


def _a(content_type: str) -> str:
    """'a PDF document', 'an Excel sheet'."""
    label = type_label(content_type)
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label


# ---- names and types -----------------------------------------------------------------------
def clean_filename(name: str | None) -> str:
    """The name to show and offer on download: the last part of any path, without control or
    format characters (a right-to-left override could disguise 'exe.pdf'), path and reserved
    characters, or leading dots; unicode letters kept; at most FILENAME_LIMIT characters,
    the extension kept. '' when nothing is left."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = re.sub(r"[\t\r\n]", " ", text)
    text = "".join(" " if unicodedata.category(c) in ("Zl", "Zp") else c for c in text)
    text = "".join(c for c in text if not unicodedata.category(c).startswith("C"))
    text = _NAME_UNSAFE.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip().lstrip(".").strip()
    text = text.rstrip(". ")  # Windows drops trailing dots and spaces
    if len(text) > FILENAME_LIMIT:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and len(ext) <= 10:
            text = stem[: FILENAME_LIMIT - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:FILENAME_LIMIT].rstrip()
    return text


def extension_of(name: str) -> str:
    """'Report.PDF' -> 'pdf'; '' without one ('Mr. Smith' has none)."""
    stem, dot, ext = name.rpartition(".")
    ext = ext.lower()
    return ext if dot and stem and re.fullmatch(r"[a-z0-9]{1,10}", ext) else ""


def _zip_type(data: bytes) -> str | None:
    """The type of a ZIP-based document, read from its directory: Office Open XML by its
    folders, OpenDocument by its `mimetype` entry; a plain ZIP otherwise. Refuses documents
    with macros."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        if "mimetype" in names:
            with archive.open("mimetype") as entry:
                declared = entry.read(100).decode("ascii", "replace").strip()
            if declared in _ODF_TYPES:
                return declared
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        return None
    if "[Content_Types].xml" in names:
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise DomainError(
                "Office documents with macros are not accepted: save it without them."
            )
        for folder, ext in _OOXML_FOLDERS.items():
            if any(name.startswith(folder) for name in names):
                return KNOWN_TYPES[ext][0]
    return "application/zip"


def _is_text(data: bytes) -> bool:
    """UTF-8 without NUL bytes, or text in a one-byte encoding (Windows-1252, Latin-1: what
    spreadsheet programs often save CSV in), which has no control characters but tab, line
    breaks, form feed and escape."""
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return _BINARY_BYTES.search(data) is None
    return True


def sniff_type(data: bytes, extension: str) -> str | None:
    """The content type read from the bytes (None: not one we recognise). Text is text/csv
    when the name says .csv, else text/plain."""
    kind = filetype.guess(data)
    if kind is not None:
        mime = "image/png" if kind.mime == "image/apng" else kind.mime  # an animated PNG
        if (
            mime == "application/zip"
            or mime in _ODF_TYPES
            or mime.startswith("application/vnd.openxmlformats")
        ):
            return _zip_type(data)
        return mime
    if _is_text(data):
        return "text/csv" if extension == "csv" else "text/plain"
    return None


def _read_limited(stream: IO[bytes]) -> bytes:
    """The stream's bytes; refused when empty or over the limit (reading at most one byte
    more than the limit)."""
    limit = max_upload_bytes()
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(1024 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    if not data:
        raise DomainError("The file is empty: choose another one.")
    if len(data) > limit:
        raise DomainError(f"The file is larger than {human_size(limit)}: choose a smaller one.")
    return data


def check_file(filename: str | None, data: bytes) -> tuple[str, str]:
    """(the name to show, the sniffed type) of an upload, or DomainError saying why it is
    refused: a type not on the list, or a name whose extension says otherwise."""
    name = clean_filename(filename)
    extension = extension_of(name)
    allowed = allowed_extensions()
    listed = ", ".join(f".{e}" for e in allowed)
    mime = sniff_type(data, extension)
    accepted = {KNOWN_TYPES[e][0] for e in allowed}
    if extension and extension not in allowed:
        raise DomainError(f"Files of type .{extension} are not accepted. Accepted: {listed}.")
    if extension and mime != KNOWN_TYPES[extension][0]:
        expected = _a(KNOWN_TYPES[extension][0])
        if mime in accepted:
            raise DomainError(
                f"“{name}” is not {expected}: its content is {_a(mime)}. "
                f"Give it the right extension (.{_EXTENSION_OF[mime]}) or choose another file."
            )
        content = _a(mime) if mime in _LABELS else "of a kind not accepted here"
        raise DomainError(f"“{name}” is not {expected}: its content is {content}.")
    if mime not in accepted:
        what = _a(mime) if mime in _LABELS else "not a type this CRM accepts"
        raise DomainError(f"“{name or 'The file'}” is {what}. Accepted: {listed}.")
    if not extension:
        return f"{name or 'file'}.{_EXTENSION_OF[mime]}", mime
    return name, mime


# ---- storage --------------------------------------------------------------------------------
def uploads_root() -> Path:
    """The folder every uploaded file and picture lives under (not created here)."""
    return Path(current_app.instance_path) / UPLOADS_FOLDER


def _folder(parts: tuple[str, str]) -> Path:
    folder = Path(current_app.instance_path).joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write(folder: Path, suffix: str, data: bytes) -> tuple[str, Path]:
    """Write `data` under a new random name; removed again if the transaction rolls back."""
    stored_name = secrets.token_hex(16) + suffix
    path = folder / stored_name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    _on_end(db.session(), path, remove_when="rollback")
    return stored_name, path


def _file_path(stored_name: str) -> Path | None:
    if not _STORED_FILE.match(stored_name or ""):
        return None
    return Path(current_app.instance_path).joinpath(*_FILES_DIR, stored_name)


def _picture_path(stored_name: str | None) -> Path | None:
    if not _STORED_PICTURE.match(stored_name or ""):
        return None
    return Path(current_app.instance_path).joinpath(*_PICTURES_DIR, stored_name)


# ---- files ----------------------------------------------------------------------------------
def upload_file(
    actor: Actor, contact: Contact, filename: str | None, stream: IO[bytes]
) -> ContactFile:
    """Keep an uploaded file with `contact` (one the actor sees): checked, stored, recorded."""
    if not can(actor, "file.upload"):
        raise PermissionDenied("You may not upload files.")
    if get_visible_contact(actor, contact.id) is None:
        raise NotFound("No such contact.")
    data = _read_limited(stream)
    name, mime = check_file(filename, data)
    audit.note_actor(db.session, actor)
    stored_name, _path = _write(_folder(_FILES_DIR), "", data)
    row = ContactFile(
        contact_id=contact.id,
        stored_name=stored_name,
        filename=name,
        content_type=mime,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by_id=getattr(actor, "id", None),
    )
    db.session.add(row)
    db.session.flush()
    return row


def files_of_contact(actor: Actor, contact_id: int) -> list[ContactFile]:
    """The contact's files, newest first (none for a contact the actor may not see)."""
    return list(
        db.session.scalars(
            select(ContactFile)
            .join(Contact, Contact.id == ContactFile.contact_id)
            .where(ContactFile.contact_id == contact_id, contact_visibility(actor))
            .options(selectinload(ContactFile.uploaded_by))
            .order_by(ContactFile.uploaded_at.desc(), ContactFile.id.desc())
        )
    )


def get_visible_file(actor: Actor, file_id: object) -> ContactFile | None:
    """The file if the actor may see its contact, else None."""
    visible = select(ContactFile).join(Contact, Contact.id == ContactFile.contact_id)
    return one_of(visible.where(contact_visibility(actor)), ContactFile, file_id)


def open_file(actor: Actor, file_id: object) -> tuple[ContactFile, Path]:
    """The file and where its bytes are, for a download; NotFound when the actor may not see
    its contact (or the bytes are gone)."""
    found = get_visible_file(actor, file_id)
    path = _file_path(found.stored_name) if found is not None else None
    if found is None or path is None or not path.is_file():
        if found is not None:
            log.warning("The bytes of file %s (%s) are missing", found.id, found.stored_name)
        raise NotFound("No such file.")
    return found, path


def may_delete(actor: Actor, found: ContactFile) -> bool:
    """Its uploader (who may still upload), or whoever may delete any file."""
    if can(actor, "file.delete_any"):
        return True
    own = found.uploaded_by_id is not None and found.uploaded_by_id == getattr(actor, "id", None)
    return own and can(actor, "file.upload")


def delete_file(actor: Actor, file_id: object) -> ContactFile:
    """Delete a file (its bytes go when the deletion is committed); returns the deleted row."""
    found = get_visible_file(actor, file_id)
    if found is None:
        raise NotFound("No such file.")
    if not may_delete(actor, found):
        raise PermissionDenied("Only its uploader or a manager may delete this file.")
    audit.note_actor(db.session, actor)
    path = _file_path(found.stored_name)
    db.session.delete(found)
    db.session.flush()
    if path is not None:
        _on_end(db.session(), path, remove_when="commit")
    return found


# ---- the picture ----------------------------------------------------------------------------
def max_picture_pixels() -> int:
    """The largest image (width x height) read for a picture, CRM_PICTURE_MAX_PIXELS."""
    return int(current_app.config.get("CRM_PICTURE_MAX_PIXELS", 50_000_000))


def _open_image(data: bytes) -> Image.Image:
    """The image in `data`, or DomainError: not an image Pillow reads in PICTURE_FORMATS,
    damaged, or more pixels than allowed (checked from the header, before decoding).

    Pillow's own guard stays as it is (a process-wide setting): it warns above 89 megapixels
    and refuses above twice that; our limit, CRM_PICTURE_MAX_PIXELS, is checked here. The
    warning is an error under the tests' warning filter, and refused like the error."""
    limit = max_picture_pixels()
    try:
        with Image.open(io.BytesIO(data), formats=PICTURE_FORMATS) as probe:
            if probe.width * probe.height > limit:
                raise DomainError(_too_many_pixels(probe.width, probe.height, limit))
            probe.verify()
        return Image.open(io.BytesIO(data), formats=PICTURE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DomainError(
            "The picture is too large an image (too many pixels): choose a smaller one."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct_error):
        raise DomainError(
            "The picture must be a PNG, JPEG, GIF or WebP image that opens: this file is not."
        ) from None


def _too_many_pixels(width: int, height: int, limit: int) -> str:
    return (
        f"The picture is {width} x {height} pixels, more than this CRM reads "
        f"({limit / 1_000_000:g} megapixels): choose a smaller one."
    )


# EXIF orientation -> the turn that makes the picture upright (what ImageOps.exif_transpose
# does, applied here after shrinking, when it costs little).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def resize_picture(data: bytes) -> tuple[bytes, str]:
    """The picture as stored: fitted into PICTURE_BOX, turned upright (EXIF orientation),
    re-encoded without any metadata, as JPEG, or PNG when it has transparency. Returns
    (bytes, 'jpg' or 'png'). Shrunk first, so that only one full-size copy is ever held."""
    image = _open_image(data)
    try:
        if image.format == "JPEG":  # decode at a fraction of the size (1/2 .. 1/8)
            image.draft(image.mode, (PICTURE_BOX[0] * 2, PICTURE_BOX[1] * 2))
        try:
            image.load()
            turn = _UPRIGHT.get(image.getexif().get(0x0112))  # Orientation
        except (OSError, ValueError, SyntaxError, struct_error):
            raise DomainError("The picture is damaged: choose another one.") from None
        picture = image.convert("RGBA" if image.has_transparency_data else "RGB")
        picture.thumbnail(PICTURE_BOX, Image.Resampling.LANCZOS)  # a square box: any turn fits
        if turn is not None:
            picture = picture.transpose(turn)
        # Transparent: some pixel not fully opaque (an alpha channel may be all opaque).
        transparent = picture.mode == "RGBA" and picture.getchannel("A").getextrema()[0] < 255
        if picture.mode == "RGBA" and not transparent:
            picture = picture.convert("RGB")
        # A new image carries nothing of the original's metadata (EXIF, GPS, comments, ICC).
        clean = Image.new(picture.mode, picture.size)
        clean.paste(picture)
        out = io.BytesIO()
        if transparent:
            clean.save(out, "PNG", optimize=True)
            return out.getvalue(), "png"
        clean.save(out, "JPEG", quality=85, optimize=True, progressive=True)
        return out.getvalue(), "jpg"
    finally:
        image.close()


def _picture_contact(actor: Actor, contact: Contact) -> Contact:
    if not (can(actor, "file.upload") and can(actor, "contact.edit")):
        raise PermissionDenied("You may not change contacts' pictures.")
    visible = get_visible_contact(actor, contact.id)
    if visible is None:
        raise NotFound("No such contact.")
    return visible


def _picture_shared(connection: Any, stored_name: str, contact_id: int) -> bool:
    """Whether another contact shows these bytes too. Only a merge shares a picture (the kept
    contact takes a merged one's, whose tombstone keeps it), so only tombstones are searched
    (an indexed few, not every contact)."""
    query = (
        select(Contact.id)
        .where(
            Contact.merged_into_id.is_not(None),
            Contact.picture == stored_name,
            Contact.id != contact_id,
        )
        .limit(1)
    )
    return connection.execute(query).first() is not None


def _forget_picture(contact: Contact, stored_name: str | None) -> None:
    """Remove the picture's bytes after commit, unless another contact still shows them."""
    path = _picture_path(stored_name)
    if path is not None and not _picture_shared(db.session, stored_name, contact.id):
        _on_end(db.session(), path, remove_when="commit")


def set_picture(actor: Actor, contact: Contact, filename: str | None, stream: IO[bytes]) -> None:
    """Give the contact a new picture (replacing any): resized, re-encoded, stored."""
    contact = _picture_contact(actor, contact)
    data = _read_limited(stream)
    if sniff_type(data, "") not in {"image/png", "image/jpeg", "image/gif", "image/webp"}:
        raise DomainError(
            f"“{clean_filename(filename) or 'The file'}” is not a picture: "
            "choose a PNG, JPEG, GIF or WebP image."
        )
    encoded, extension = resize_picture(data)
    audit.note_actor(db.session, actor)
    stored_name, _path = _write(_folder(_PICTURES_DIR), "." + extension, encoded)
    old = contact.picture
    contact.picture = stored_name
    db.session.flush()
    _forget_picture(contact, old)


def remove_picture(actor: Actor, contact: Contact) -> bool:
    """Take the contact's picture away; False when it had none."""
    contact = _picture_contact(actor, contact)
    old = contact.picture
    if old is None:
        return False
    audit.note_actor(db.session, actor)
    contact.picture = None
    db.session.flush()
    _forget_picture(contact, old)
    return True


def picture_file(actor: Actor, contact_id: object) -> tuple[Path, str]:
    """(where the contact's picture is, its type), for showing it; NotFound when the actor
    may not see the contact or it has no picture."""
    contact = get_visible_contact(actor, contact_id)
    path = _picture_path(contact.picture) if contact is not None else None
    if path is None or not path.is_file():
        raise NotFound("No picture.")
    return path, _PICTURE_TYPES[path.suffix.lstrip(".")]


# ---- the disk follows the transaction -----------------------------------------------------
_PENDING_KEY = "crm_files_pending"


@dataclass
class _Pending:
    """Bytes to remove when `transaction` ends: on its commit, or on its rollback."""

    path: Path
    remove_when: str  # "commit" or "rollback"
    transaction: SessionTransaction


def _on_end(session: Session, path: Path, *, remove_when: str) -> None:
    session.connection()  # the transaction is open (autobegin) before it is named
    transaction = session.get_nested_transaction() or session.get_transaction()
    pending = session.info.setdefault(_PENDING_KEY, [])
    pending.append(_Pending(path, remove_when, transaction))


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.exception("Could not remove %s", path)


def _after_commit(session: Session) -> None:
    """A savepoint's items pass to the transaction around it; the outer commit removes the
    bytes of what was deleted."""
    pending: list[_Pending] = session.info.get(_PENDING_KEY) or []
    if not pending:
        return
    nested = session.get_nested_transaction()
    if nested is not None:  # a savepoint was released
        for item in pending:
            if item.transaction is nested:
                item.transaction = nested.parent
        return
    session.info.pop(_PENDING_KEY, None)
    for item in pending:
        if item.remove_when == "commit":
            _remove(item.path)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """A transaction (or savepoint) that ended without committing: remove what it wrote."""
    pending: list[_Pending] = session.info.get(_PENDING_KEY) or []
    ended = [item for item in pending if item.transaction is transaction]
    if not ended:
        return
    session.info[_PENDING_KEY] = [item for item in pending if item.transaction is not transaction]
    for item in ended:
        if item.remove_when == "rollback":
            _remove(item.path)


def _before_contact_delete(_mapper: Any, connection: Any, target: Contact) -> None:
    """A contact deleted for good (purged) takes its files' and picture's bytes with it (its
    ContactFile rows go by the foreign key's ON DELETE CASCADE)."""
    session = Session.object_session(target)
    if session is None:
        return
    folder = Path(current_app.instance_path)
    names = connection.execute(
        select(ContactFile.stored_name).where(ContactFile.contact_id == target.id)
    ).scalars()
    for stored_name in names:
        if _STORED_FILE.match(stored_name):
            _on_end(session, folder.joinpath(*_FILES_DIR, stored_name), remove_when="commit")
    picture = _picture_path(target.picture)
    if picture is not None and not _picture_shared(connection, target.picture, target.id):
        _on_end(session, picture, remove_when="commit")


def _install() -> None:
    """Attach the hooks once (this module is imported by the admin, in create_app)."""
    for name, hook in (
        ("after_commit", _after_commit),
        ("after_transaction_end", _after_transaction_end),
    ):
        if not event.contains(db.session, name, hook):
            event.listen(db.session, name, hook)
    if not event.contains(Contact, "before_delete", _before_contact_delete):
        event.listen(Contact, "before_delete", _before_contact_delete)


_install()
