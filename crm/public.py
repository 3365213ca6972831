"""Pages for people who are not users: the unsubscribe links of marketing mail (a contact's
link, and a campaign recipient's link and one-click URL)."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from flask_wtf import FlaskForm

from crm.errors import NotFound
from crm.extensions import csrf, db
from crm.services.lists import consent
from crm.services.marketing import unsubscribing

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


@bp.post("/unsubscribe/<token>/one-click")
@csrf.exempt
def one_click(token: str):
    """RFC 8058 one-click unsubscribe of a contact's own link (birthday greetings)."""
    return _one_click(lambda: consent.unsubscribe(token))


@bp.route("/unsubscribe/c/<token>", methods=["GET", "POST"])
def campaign_unsubscribe(token: str):
    """A campaign mail's link: GET asks, POST (with the page's CSRF token) unsubscribes the
    address."""
    try:
        recipient = unsubscribing.recipient_for(token)
    except NotFound as exc:
        return render_template("public/unsubscribe.html", refusal=exc.message), 404
    form = FlaskForm()
    done = None
    if request.method == "POST" and form.validate_on_submit():
        _recipient, changed = unsubscribing.unsubscribe(token, "link")
        db.session.commit()
        done = (
            "You will get no more marketing email from us."
            if changed
            else "You were unsubscribed already: you get no marketing email from us."
        )
    return render_template(
        "public/unsubscribe.html",
        form=form,
        email=consent.masked_email(recipient.email),
        done=done,
        subscribed=unsubscribing.subscribed(recipient),
    )


@bp.post("/unsubscribe/c/<token>/one-click")
@csrf.exempt
def campaign_one_click(token: str):
    """RFC 8058 one-click unsubscribe of a campaign mail."""
    return _one_click(lambda: unsubscribing.unsubscribe(token, "one-click"))


def _one_click(unsubscribe):
    """The mail program POSTs `List-Unsubscribe=One-Click` without a session or CSRF token
    (RFC 8058); the signed URL is the proof. Plain-text answers: no person reads them."""
    plain = {"Content-Type": "text/plain"}
    if request.form.get("List-Unsubscribe") != "One-Click":
        return "Send the body List-Unsubscribe=One-Click.\n", 400, plain
    try:
        unsubscribe()
    except NotFound as exc:
        return exc.message + "\n", 404, plain
    db.session.commit()
    return "Unsubscribed.\n", 200, plain


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
