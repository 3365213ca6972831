"""Login and logout (our own pages, not Flask-Admin's)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from crm.auth import session_guard
from crm.auth.forms import ForgotPasswordForm, LoginForm, SetPasswordForm, show_errors
from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.services.platform import password_links
from crm.services.platform.sign_in import sign_in

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("admin.index"))
    form = LoginForm()
    if form.validate_on_submit():
        result = sign_in(form.email.data, form.password.data, request.remote_addr)
        db.session.commit()  # the attempt and its history entry, whatever the outcome
        if result.user is None:
            flash(result.message, "error")
        else:
            session_guard.open_session(result.user, remember=form.remember.data)
            db.session.commit()
            return redirect(safe_next(request.args.get("next")) or url_for("admin.index"))
    status = 401 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    """GET asks for confirmation; POST (with its CSRF token) signs out."""
    if request.method == "GET":
        return render_template("auth/logout.html")
    session_guard.close_session()
    db.session.commit()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    """Asks for an email and answers the same whether or not it has an account; an active
    user gets a mail with a one-time link to the set-password page."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        result = password_links.request_password_reset(form.email.data, request.remote_addr)
        db.session.commit()  # the request and its history entry, before any mail leaves
        if result.refused:
            flash(result.message, "error")
            return render_template("auth/forgot_password.html", form=form), 429
        password_links.send_after_answer(result.mail)
        flash(result.message, "info")
        return redirect(url_for("auth.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """The one-time link of a generated login or of "Forgot password?": the person chooses
    a password, then signs in. A used, expired or altered link says so (410) and changes
    nothing."""
    try:
        user = password_links.user_for_password_token(token)
    except DomainError as exc:
        return render_template("auth/set_password.html", form=None, refusal=exc.message), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            password_links.set_password_with_token(token, form.password.data, form.again.data)
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            show_errors(form, exc.errors)
        except DomainError as exc:  # used meanwhile (another tab): the link says so
            db.session.rollback()
            return render_template("auth/set_password.html", form=None, refusal=exc.message), 410
        else:
            flash("Your password is set: sign in with it.", "success")
            return redirect(url_for("auth.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/set_password.html", form=form, user=user), status
