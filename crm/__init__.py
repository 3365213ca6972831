"""Contacts CRM: the application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from crm import security
from crm.config import (
    PROJECT_ROOT,
    DefaultConfig,
    apply_environment,
    check_settings,
    database_uri,
    ensure_secret_key,
)
from crm.extensions import csrf, db, include_in_autogenerate, login_manager, migrate


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config -> extensions -> auth -> admin -> api -> cli."""
    instance_path = Path(os.environ.get("CRM_INSTANCE_PATH") or PROJECT_ROOT / "instance")
    if test_config and test_config.get("INSTANCE_PATH"):
        instance_path = Path(test_config["INSTANCE_PATH"])
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder="static",
    )
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    apply_environment(app.config)
    if test_config:
        app.config.update(test_config)
    instance_path.mkdir(parents=True, exist_ok=True)
    ensure_secret_key(app.config, instance_path)
    check_settings(app.config)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(app.config, instance_path)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # PostgreSQL's JIT compiles "expensive" plans: 10-20 ms more on list pages that
        # take 20-50 ms (bench), for no gain on this app's short queries.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        connect_args = dict(options.get("connect_args", {}))
        connect_args.setdefault("options", "-c jit=off")
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "connect_args": connect_args}

    _init_database(app)
    security.init_app(app)
    _init_auth(app)
    _init_admin(app)
    _init_api(app)
    _init_errors(app)
    from crm import cli, cli_import  # noqa: F401 - cli_import adds `crm import`

    cli.init_app(app)
    return app


def _init_database(app: Flask) -> None:
    from crm import models
    from crm.services.platform import audit

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(PROJECT_ROOT / "migrations"),
        render_as_batch=True,
        include_name=include_in_autogenerate,
    )
    audit.install([getattr(models, name) for name in models.__all__], db.session)

    @app.get("/healthz")
    def healthz():
        db.session.execute(text("SELECT 1"))
        return jsonify(status="ok")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: enforce foreign keys, WAL for concurrent readers, wait when locked."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _init_auth(app: Flask) -> None:
    from flask_login import current_user

    from crm.auth import session_guard
    from crm.auth.routes import bp
    from crm.services.platform import audit

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    # Who is signed in is decided by a session row on the server (crm.auth.session_guard).
    session_guard.init_app(app)

    def actor() -> tuple[int | None, str | None]:
        try:
            if current_user and current_user.is_authenticated:
                return current_user.id, current_user.email
        except RuntimeError:  # outside a request
            pass
        return None, None

    audit.set_actor_provider(actor)
    app.register_blueprint(bp)

    @app.get("/")
    def root():
        from flask import redirect, url_for

        return redirect(url_for("admin.index"))


def _init_admin(app: Flask) -> None:
    from crm.admin import init_admin

    init_admin(app)


def _init_api(app: Flask) -> None:
    from crm import api, public

    api.init_app(app)
    public.init_app(app)


# Each status's page: a title and a sentence a back-office user understands. A status not
# listed gets its standard name and the generic sentence below.
ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Sign-in needed", "Sign in (or send a valid API token) to see this."),
    403: ("Not allowed", "You do not have permission to see this page or do this."),
    404: ("Not found", "There is nothing here, or it is not yours to see."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    406: ("Not available", "This is not available in the format that was asked for."),
    408: ("Too slow", "The request took too long to arrive. Try again. Nothing was saved."),
    409: (
        "Changed meanwhile",
        "Someone else changed this at the same moment. Reload the page and try again.",
    ),
    410: ("No longer available", "This link has expired or was already used."),
    411: ("Bad request", "The request did not say how large it is. Nothing was saved."),
    412: (
        "Changed meanwhile",
        "This changed since you last loaded it. Reload the page and try again.",
    ),
    413: ("Too large", "What was sent is larger than this server accepts. Nothing was saved."),
    414: ("Address too long", "The address is longer than this server accepts."),
    415: ("Unsupported file type", "This kind of content is not accepted here. Nothing was saved."),
    416: ("Not available", "That part of the file does not exist."),
    422: ("Could not be saved", "What was sent is incomplete or not valid. Nothing was saved."),
    423: ("Locked", "This is being changed by another task. Try again in a moment."),
    428: ("Reload first", "Reload the page before changing this. Nothing was saved."),
    429: ("Too many requests", "Too many requests in a short time. Wait a moment and try again."),
    431: ("Bad request", "The request carried more headers than this server accepts."),
    500: ("Something went wrong", "The error was logged. Nothing was saved."),
    501: ("Not available", "This server does not offer that."),
    502: ("Temporarily unavailable", "A service this page needs did not answer. Try again soon."),
    503: ("Temporarily unavailable", "The CRM cannot answer right now. Try again in a moment."),
    504: ("Temporarily unavailable", "A service this page needs took too long. Try again soon."),
}
GENERIC_ERROR = "The request could not be completed. Go back and try again."


def _wants_json() -> bool:
    """The request prefers JSON to HTML (a browser's page load prefers HTML; no Accept
    header at all counts as HTML)."""
    best = request.accept_mimetypes.best_match(("text/html", "application/json"))
    return best == "application/json"


def error_page(code: int, title: str, message: str, headers: Any = ()) -> Any:
    """The app's error answer: our page, or JSON for the API and for a page's script that
    asks for JSON (the quick-create dialog's fetch)."""
    if request.path.startswith("/api/") or _wants_json():
        return jsonify(error=f"{title}: {message}"), code, list(headers)
    page = render_template("errors/error.html", code=code, title=title, message=message)
    return page, code, list(headers)


def _init_errors(app: Flask) -> None:
    """Every HTTP error (404, 405, 413, 429, 500, ...) answers with our page, or JSON under
    /api/, never Werkzeug's plain page."""
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_page(
            400,
            "The form expired",
            "The page was open too long or was sent from "
            "elsewhere. Go back, reload the page and try again. Nothing was saved.",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400 or exc.response is not None:
            return exc  # a redirect, or a view's own response: as it is
        title, message = ERROR_PAGES.get(exc.code, (exc.name, GENERIC_ERROR))
        # Headers the status needs (Allow for 405, Retry-After for 429 and 503, ...).
        kept = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return error_page(exc.code, title, message, kept)
