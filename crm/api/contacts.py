"""Contacts through the JSON API: list and search them, read one (a merged one answers 301 to
the contact it went into), create one, change its fields (409 on a stale `version`), and its
lifecycle statuses."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.api.blueprint import bp, require
from crm.api.responses import answer, committed, error
from crm.errors import StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import Contact, Phone
from crm.services.contacts import lifecycle, search
from crm.services.contacts.saving import create_contact, save_contact
from crm.services.merge.merging import merge_successor
from crm.services.platform import access

MAX_PAGE_SIZE = 100
STALE = "The contact changed since you read it: read it again."
# What a client may send when creating a contact (anything else is refused, not ignored).
WRITABLE = frozenset(
    {
        "kind",
        "title",
        "first_name",
        "middle_name",
        "last_name",
        "email",
        "email_secondary",
        "job_title",
        "department",
        "website",
        "notes",
        "account",
        "phones",
        "addresses",
    }
)
ROW_FIELDS = {
    "phones": frozenset({"type", "country_code", "number", "extension"}),
    "addresses": frozenset(
        {"type", "street", "street2", "city", "region", "postal_code", "country"}
    ),
}


def contact_json(c: Contact) -> dict[str, Any]:
    account = c.account if c.account is not None and not c.account.is_hidden else None
    return {
        "id": c.id,
        "url": url_for("api.get_contact", contact_id=c.id, _external=True),
        "version": c.version,  # PATCH takes it back: 409 when the contact changed since
        "kind": c.kind.value if c.kind else None,
        "title": c.title,
        "first_name": c.first_name,
        "middle_name": c.middle_name,
        "last_name": c.last_name,
        "full_name": c.full_name,
        "account": account.name if account else None,
        "job_title": c.job_title,
        "email": c.email,
        "email_secondary": c.email_secondary,
        "owner": c.owner.email if c.owner else None,
        "responsible": c.responsible.email if c.responsible else None,
        "access_class": c.access_class.name if c.access_class else None,
        "customer_status": c.customer_status.value if c.customer_status else None,
        "prospect_status": c.prospect_status.value if c.prospect_status else None,
        "customer_number": c.customer_number,
        "tags": [t.name for t in c.tags],
        "phones": [
            {"type": str(p.phone_type), "number": p.display, "e164": p.e164} for p in c.phones
        ],
        "addresses": [
            {
                "type": str(a.address_type),
                "street": a.street,
                "street2": a.street2,
                "city": a.city,
                "region": a.region,
                "postal_code": a.postal_code,
                "country": a.country,
            }
            for a in c.addresses
        ],
        "created_at": c.created_at.isoformat() if c.created_at else None,
        "updated_at": c.updated_at.isoformat() if c.updated_at else None,
    }


_LOADS = (
    selectinload(Contact.account),
    selectinload(Contact.owner),
    selectinload(Contact.responsible),
    selectinload(Contact.access_class),
    selectinload(Contact.tags),
    selectinload(Contact.phones).selectinload(Phone.phone_type),
    selectinload(Contact.addresses),
)


@bp.get("/contacts")
def list_contacts():
    require("contact.view", "contacts:read")
    try:
        page = max(0, int(request.args.get("page", 0)))
        size = min(MAX_PAGE_SIZE, max(1, int(request.args.get("page_size", 50))))
    except ValueError:
        return error(400, "page and page_size must be whole numbers.")
    query = select(Contact).where(access.contact_visibility(g.api_user))
    clause = search.contact_search_clause((request.args.get("search") or "")[:200])
    if clause is not None:
        query = query.where(clause)
    rows = db.session.scalars(
        query.order_by(Contact.last_name, Contact.first_name, Contact.id)
        .offset(min(page, 100_000) * size)
        .limit(size + 1)
        .options(*_LOADS)
    ).all()
    return jsonify(
        items=[contact_json(c) for c in rows[:size]],
        page=page,
        page_size=size,
        more=len(rows) > size,
    )


@bp.get("/contacts/<int:contact_id>")
def get_contact(contact_id: int):
    require("contact.view", "contacts:read")
    contact = access.get_visible_contact(g.api_user, contact_id)
    if contact is None:
        found = merge_successor(g.api_user, Contact, contact_id)
        if found is None:
            return error(404, "No such contact, or not one you may see.")
        merged, master = found
        response = error(
            301,
            f"Contact {merged.id} was merged into contact {master.id}.",
            merged_into=master.id,
            url=url_for("api.get_contact", contact_id=master.id, _external=True),
        )
        response.headers["Location"] = url_for("api.get_contact", contact_id=master.id)
        return response
    return jsonify(contact_json(contact))


def _contact_data(payload: Any) -> dict[str, Any]:
    """The posted contact, checked for shape (the contact rules check the values)."""
    if not isinstance(payload, dict):
        raise ValidationFailed({"body": ["Send a JSON object."]})
    unknown = sorted(set(payload) - WRITABLE)
    if unknown:
        raise ValidationFailed({key: ["Not a field you can set."] for key in unknown})
    data: dict[str, Any] = {}
    for key, value in payload.items():
        if key in ROW_FIELDS:
            rows = value if isinstance(value, list) else None
            if rows is None or not all(isinstance(r, dict) for r in rows):
                raise ValidationFailed({key: ["A list of objects is expected."]})
            for row in rows:
                extra = sorted(set(row) - ROW_FIELDS[key])
                wrong = [k for k, v in row.items() if v is not None and not isinstance(v, str)]
                if extra or wrong:
                    raise ValidationFailed({key: [f"Unexpected or non-text keys: {extra + wrong}"]})
            data[key] = rows
        elif value is not None and not isinstance(value, str):
            raise ValidationFailed({key: ["Text is expected."]})
        else:
            data[key] = value
    return data


@bp.post("/contacts")
def post_contact():
    require("contact.create", "contacts:write")
    payload = request.get_json(silent=True)
    contact = committed(
        lambda: create_contact(g.api_user, _contact_data(payload)), "The contact was not saved."
    )
    if isinstance(contact, Response):
        return contact
    return answer(contact_json(contact), url_for("api.get_contact", contact_id=contact.id))


# What a PATCH may change: the contact's own fields (its rows go through the admin pages).
PATCHABLE = frozenset(WRITABLE - {"kind", "account", "phones", "addresses"})


@bp.patch("/contacts/<int:contact_id>")
def patch_contact(contact_id: int):
    """Change some of the contact's fields; the contact rules check them as the form does.
    `version` (from a read) refuses the change with 409 when the contact changed since (or
    is changed by a simultaneous request); without it the last writer wins, unless
    CRM_API_REQUIRE_VERSION asks for it (428)."""
    require("contact.edit", "contacts:write")
    contact = access.get_visible_contact(g.api_user, contact_id)
    if contact is None:
        return error(404, "No such contact, or not one you may see.")
    payload = request.get_json(silent=True)
    if isinstance(payload, dict) and payload.get("version") is None:
        payload.pop("version", None)
        if current_app.config.get("CRM_API_REQUIRE_VERSION"):
            return error(
                428,
                "Send the contact's version, as a read gave it: "
                '{"version": N, ...}. A change to a contact changed since is refused.',
                version=contact.version,
            )

    def change() -> Contact:
        if not isinstance(payload, dict):
            raise ValidationFailed({"body": ["Send a JSON object."]})
        version = _whole_number(payload.pop("version", None))
        unknown = sorted(set(payload) - PATCHABLE)
        if unknown:
            raise ValidationFailed({key: ["Not a field you can change here."] for key in unknown})
        data = _contact_data(payload)
        for key, value in data.items():
            setattr(contact, key, value)
        try:
            return save_contact(g.api_user, contact, is_new=False, expected_version=version)
        except StaleEditError:
            raise StaleEditError(STALE) from None  # the API's words for a stale version

    changed = committed(
        change,
        "The contact was not saved.",
        current_version=lambda: _version_of(contact_id),
        what="contact",
    )
    if isinstance(changed, Response):
        return changed
    return jsonify(contact_json(changed))


def _whole_number(value: Any) -> int | None:
    """A posted version: a whole number (or its digits as text), else ValidationFailed."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValidationFailed({"version": ["A whole number, as a read gave it."]})


def _version_of(contact_id: int) -> int | None:
    """The contact's version in the database now (after a refusal's rollback)."""
    return db.session.scalar(select(Contact.version).where(Contact.id == contact_id))


@bp.get("/contacts/<int:contact_id>/status")
def contact_status(contact_id: int):
    """The contact's lifecycle statuses (crm.services.contacts.lifecycle) and customer number."""
    require("contact.view", "contacts:read")
    contact = access.get_visible_contact(g.api_user, contact_id)
    if contact is None:
        return error(404, "No such contact, or not one you may see.")
    return jsonify(
        id=contact.id,
        version=contact.version,
        customer_status=contact.customer_status.value,
        prospect_status=contact.prospect_status.value,
        customer_number=contact.customer_number,
        store_order=lifecycle.store_order_of(contact.id),
    )
