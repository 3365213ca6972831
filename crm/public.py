"""Pages for people who are not users: the unsubscribe link of marketing mail."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from flask_wtf import FlaskForm

from crm.errors import NotFound
from crm.extensions import db
from crm.services.lists import consent

bp = Blueprint("public", __name__)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET asks (mail scanners open links: they must not unsubscribe anyone); POST, with the
    page's CSRF token, turns the contact's marketing consent off."""
    try:
        contact = consent.contact_for_token(token)
    except NotFound as exc:
        return render_template("public/unsubscribe.html", refusal=exc.message), 404
    form = FlaskForm()
    done = None
    if request.method == "POST" and form.validate_on_submit():
        contact, changed = consent.unsubscribe(token)
        db.session.commit()
        done = (
            "You will get no more marketing email from us."
            if changed
            else "You were unsubscribed already: you get no marketing email from us."
        )
    return render_template(
        "public/unsubscribe.html",
        form=form,
        email=consent.masked_email(contact.email),
        done=done,
        subscribed=contact.email_marketing,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
