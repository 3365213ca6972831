"""Configuration defaults. No secrets here.

Order of precedence (last wins): these defaults, `instance/config.py`, environment
variables (see `ENV_SETTINGS`), then the `test_config` given to `create_app`.
"""

from __future__ import annotations

import os
import secrets
import zoneinfo
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DefaultConfig:
    """Settings every installation starts from."""

    # DATABASE_URL unset means SQLite in the instance folder (filled in by load_config).
    DATABASE_URL: str | None = None
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = 5000

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
    # Signed-in sessions live on the server (crm/services/platform/sessions.py): one unused for this
    # long has ended; "Keep me signed in" keeps a browser signed in this many days from the
    # sign-in (the remember cookie is replaced at each use, its expiry is not extended).
    CRM_SESSION_IDLE_MINUTES = 12 * 60
    CRM_REMEMBER_DAYS = 30

    CRM_NAME = "Contacts CRM"
    CRM_PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a hash method name, not a secret
    CRM_DEFAULT_PHONE_REGION = "US"  # region for numbers typed without a country code
    # Who sees contacts and accounts without an access class: "everyone" who may see
    # contacts, or "owners" (their owner and responsible user, and those who see all classes).
    CRM_UNCLASSED_CONTACTS = "everyone"
    # Behind a reverse proxy: trust one hop of X-Forwarded-For/-Proto/-Host (HTTPS detection,
    # client addresses for sign-in throttling).
    CRM_PROXY_FIX = False
    # API: a PATCH without the record's `version` (from a read) is refused with 428 rather
    # than applied over whatever changed since (last writer wins).
    CRM_API_REQUIRE_VERSION = False
    CRM_PAGE_SIZE = 20
    CRM_PAGE_SIZE_OPTIONS = (20, 50, 100)
    # Geocoder: "gazetteer" (offline, city level, the default), "nominatim" or "none".
    CRM_GEOCODER = "gazetteer"
    CRM_GEOCODER_URL = "https://nominatim.openstreetmap.org/search"
    CRM_GEOCODER_TIMEOUT = 5.0
    CRM_GEOCODER_USER_AGENT = "contacts-crm"
    # Maps on the contact card and account pages are drawn offline over country outlines;
    # a tile server's URL template ("https://tile.example.org/{z}/{x}/{y}.png") adds its
    # tiles under them, with its attribution.
    CRM_MAP_TILES_URL = ""
    CRM_MAP_TILES_ATTRIBUTION = ""

    # Background jobs (imports, large exports): "thread" (in this process), "rq" (a Redis queue,
    # CRM_REDIS_URL, for several machines) or "inline" (in the request; tests, CLI).
    CRM_JOB_QUEUE = "thread"
    CRM_REDIS_URL = ""
    # Largest file an import accepts.
    CRM_IMPORT_MAX_BYTES = 50 * 1024 * 1024
    # What an imported file (CSV, XLSX or vCard) may hold, checked while it is read: a file
    # beyond a limit is refused with a message naming the limit, and nothing is imported.
    # Columns: the mapping page shows one row per column, and the work per row grows with them.
    CRM_IMPORT_MAX_COLUMNS = 500
    # Rows after the header (a vCard file's cards).
    CRM_IMPORT_MAX_ROWS = 1_000_000
    # Characters per cell: 32,767 is the most an Excel or LibreOffice cell holds, so no file
    # a spreadsheet wrote is refused for it, while a row stays bounded (500 cells of 32,767
    # characters at most) and one runaway quote cannot make the rest of a file one cell.
    CRM_IMPORT_MAX_CELL = 32_767
    # Lines (properties) in one vCard card: a phone's card has a few dozen; a card of
    # thousands is not a contact.
    CRM_IMPORT_MAX_VCARD_PROPERTIES = 1_000
    # Exports of more contacts than this run as background jobs (a file to download later).
    CRM_EXPORT_BACKGROUND_FROM = 10_000
    # PostgreSQL: a list with more than 10,000 matches tries an exact count for this long
    # (milliseconds), then shows the planner's estimate ("about N"). 0: always the estimate.
    CRM_COUNT_BUDGET_MS = 50
    # Files and pictures of contacts (crm/services/card/files.py), stored under instance/uploads/.
    # The largest file or picture accepted (a larger request is answered 413).
    CRM_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    # The file types accepted, by extension; the content must really be of that type. Known:
    # pdf png jpg jpeg gif webp txt csv docx xlsx pptx odt ods odp zip (zip is off by default:
    # an archive's content cannot be checked).
    CRM_UPLOAD_TYPES = "pdf,png,jpg,jpeg,gif,webp,txt,csv,docx,xlsx,pptx,odt,ods,odp"
    # The largest picture read (width x height, before resizing to 400 x 400): a small file
    # can declare a huge image (a decompression bomb).
    CRM_PICTURE_MAX_PIXELS = 50_000_000

    # Mail (login links now; meeting confirmations later): "console" prints each message to the
    # log (development), "smtp" sends through CRM_SMTP_HOST, "none" sends nothing.
    CRM_MAIL_BACKEND = "console"
    CRM_MAIL_FROM = "crm@localhost"
    CRM_SMTP_HOST = "localhost"
    CRM_SMTP_PORT = 25
    CRM_SMTP_USERNAME = ""
    CRM_SMTP_PASSWORD = ""  # noqa: S105 - empty: set it in the environment, never here
    CRM_SMTP_STARTTLS = False
    CRM_SMTP_TIMEOUT = 10.0
    # Campaigns: the sender addresses allowed (comma separated addresses or @domains; empty:
    # CRM_MAIL_FROM and its domain), mails a second per worker (0: as fast as the server
    # takes them), and the address of the List-Unsubscribe mailto (empty: the sender's).
    CRM_MAIL_SENDERS = ""
    CRM_CAMPAIGN_RATE = 20.0
    # A worker sending a campaign holds it this long without news; then another takes over.
    CRM_CAMPAIGN_LEASE_SECONDS = 300
    CRM_UNSUBSCRIBE_MAILTO = ""
    # SMS to contacts (their page): "console" writes each message to the log (development),
    # "twilio" sends through Twilio's Programmable Messaging API, "none" switches SMS off.
    # Twilio needs the account SID, its auth token, and a sender: a number of the account
    # (CRM_TWILIO_FROM, E.164) or a messaging service (CRM_TWILIO_MESSAGING_SERVICE_SID).
    CRM_SMS_BACKEND = "console"
    CRM_SMS_TIMEOUT = 10.0
    CRM_TWILIO_API_URL = "https://api.twilio.com"
    CRM_TWILIO_ACCOUNT_SID = ""
    CRM_TWILIO_AUTH_TOKEN = ""  # noqa: S105 - empty: set it in the environment, never here
    CRM_TWILIO_FROM = ""
    CRM_TWILIO_MESSAGING_SERVICE_SID = ""
    # The app's address, for links in mails made outside a request (CLI, background jobs).
    CRM_BASE_URL = ""
    # How long a "set your password" link of a generated login works.
    CRM_PASSWORD_LINK_HOURS = 72
    # How long a "Forgot password?" link works (short: it opens an existing account).
    CRM_PASSWORD_RESET_HOURS = 2
    # The office's time zone (an IANA name: Europe/Oslo, America/New_York, ...): appointment
    # times are typed and shown in it, and overdue tasks are due before its today.
    CRM_TIMEZONE = "UTC"

    FLASK_ADMIN_FLUID_LAYOUT = True


# Environment variables read at start-up, with the type each is parsed as.
ENV_SETTINGS: dict[str, type] = {
    "DATABASE_URL": str,
    "SECRET_KEY": str,
    "CRM_DEFAULT_PHONE_REGION": str,
    "CRM_GEOCODER": str,
    "CRM_GEOCODER_URL": str,
    "CRM_MAP_TILES_URL": str,
    "CRM_MAP_TILES_ATTRIBUTION": str,
    "SESSION_COOKIE_SECURE": bool,
    "CRM_SESSION_IDLE_MINUTES": int,
    "CRM_REMEMBER_DAYS": int,
    "CRM_UNCLASSED_CONTACTS": str,
    "CRM_PROXY_FIX": bool,
    "CRM_API_REQUIRE_VERSION": bool,  # PATCH without `version` answers 428
    "CRM_JOB_QUEUE": str,
    "CRM_REDIS_URL": str,
    "CRM_IMPORT_MAX_BYTES": int,
    # Import limits (crm/services/transfer/importing/sources.py)
    "CRM_IMPORT_MAX_COLUMNS": int,
    "CRM_IMPORT_MAX_ROWS": int,
    "CRM_IMPORT_MAX_CELL": int,
    "CRM_IMPORT_MAX_VCARD_PROPERTIES": int,
    "CRM_EXPORT_BACKGROUND_FROM": int,
    "CRM_COUNT_BUDGET_MS": int,
    # Files and pictures (crm/services/card/files.py)
    "CRM_UPLOAD_MAX_BYTES": int,
    "CRM_UPLOAD_TYPES": str,
    "CRM_PICTURE_MAX_PIXELS": int,
    "CRM_MAIL_BACKEND": str,
    "CRM_MAIL_FROM": str,
    "CRM_SMTP_HOST": str,
    "CRM_SMTP_PORT": int,
    "CRM_SMTP_USERNAME": str,
    "CRM_SMTP_PASSWORD": str,
    "CRM_SMTP_STARTTLS": bool,
    "CRM_SMTP_TIMEOUT": float,
    "CRM_MAIL_SENDERS": str,  # campaigns (crm/services/marketing/)
    "CRM_CAMPAIGN_RATE": float,
    "CRM_CAMPAIGN_LEASE_SECONDS": int,
    "CRM_UNSUBSCRIBE_MAILTO": str,
    "CRM_PASSWORD_LINK_HOURS": int,
    "CRM_PASSWORD_RESET_HOURS": int,
    "CRM_BASE_URL": str,
    "CRM_TIMEZONE": str,  # tasks and appointments (crm/services/platform/local_time.py)
    # SMS (crm/services/platform/sms.py)
    "CRM_SMS_BACKEND": str,
    "CRM_SMS_TIMEOUT": float,
    "CRM_TWILIO_API_URL": str,
    "CRM_TWILIO_ACCOUNT_SID": str,
    "CRM_TWILIO_AUTH_TOKEN": str,
    "CRM_TWILIO_FROM": str,
    "CRM_TWILIO_MESSAGING_SERVICE_SID": str,
}


def _parse(value: str, kind: type):
    if kind is bool:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return kind(value)


def apply_environment(config: dict) -> None:
    """Copy the recognised environment variables into `config`."""
    for name, kind in ENV_SETTINGS.items():
        if os.environ.get(name):
            config[name] = _parse(os.environ[name], kind)


def check_settings(config: dict) -> None:
    """Refuse to start with a setting that has no meaning (rather than guess)."""
    queue = config.get("CRM_JOB_QUEUE", "thread")
    if queue not in ("thread", "rq", "inline"):
        raise ValueError(f"CRM_JOB_QUEUE must be 'thread', 'rq' or 'inline', not {queue!r}")
    mail = config.get("CRM_MAIL_BACKEND", "console")
    if mail not in ("console", "smtp", "none"):
        raise ValueError(f"CRM_MAIL_BACKEND must be 'console', 'smtp' or 'none', not {mail!r}")
    # SMS: a backend we know, and Twilio's credentials and sender when it is chosen.
    sms = config.get("CRM_SMS_BACKEND", "console")
    if sms not in ("console", "twilio", "none"):
        raise ValueError(f"CRM_SMS_BACKEND must be 'console', 'twilio' or 'none', not {sms!r}")
    if sms == "twilio":
        from crm.services.platform.sms import twilio_settings_missing

        if missing := twilio_settings_missing(config):
            raise ValueError(f"CRM_SMS_BACKEND=twilio needs {missing}")
    # Uploads: only types whose content crm/services/card/files.py can check.
    from crm.services.card.files import unknown_upload_types

    if unknown := unknown_upload_types(config):
        raise ValueError(f"CRM_UPLOAD_TYPES names types that cannot be checked: {unknown}")
    # Appointments and tasks: a time zone this machine knows.
    zone = config.get("CRM_TIMEZONE") or "UTC"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"CRM_TIMEZONE must be a time zone name like Europe/Oslo, not {zone!r}"
        ) from None
    unclassed = config.get("CRM_UNCLASSED_CONTACTS")
    if unclassed not in ("everyone", "owners"):
        raise ValueError(
            f"CRM_UNCLASSED_CONTACTS must be 'everyone' or 'owners', not {unclassed!r}"
        )


def ensure_secret_key(config: dict, instance_path: Path) -> None:
    """Use SECRET_KEY if configured, else read or create `instance/secret_key` once."""
    if config.get("SECRET_KEY"):
        return
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    config["SECRET_KEY"] = key_file.read_text().strip()


def database_uri(config: dict, instance_path: Path) -> str:
    """The SQLAlchemy URL: DATABASE_URL, else `instance/crm.sqlite3`."""
    url = config.get("DATABASE_URL") or f"sqlite:///{instance_path / 'crm.sqlite3'}"
    if url.startswith("postgres://"):  # the scheme Heroku-style hosts hand out
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url
