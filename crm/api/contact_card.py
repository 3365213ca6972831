"""A contact's card through the JSON API: its notes (private ones to their author only),
its interactions (a telephone system posts the calls it connects), and its history."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request, url_for

from crm.api.blueprint import bp, require
from crm.api.responses import answer, committed, error
from crm.models import Contact, Interaction, Note
from crm.services.card import history, interactions, notes
from crm.services.platform import access


def _contact(contact_id: int) -> Contact | None:
    return access.get_visible_contact(g.api_user, contact_id)


def note_json(note: Note) -> dict[str, Any]:
    return {"id": note.id, "body": note.body, "private": note.private,
            "author": note.author.email if note.author else None,
            "created_at": note.created_at.isoformat(), "version": note.version}  # fmt: skip


def interaction_json(i: Interaction) -> dict[str, Any]:
    return {"id": i.id, "version": i.version, "medium": i.medium.value,
            "direction": i.direction.value, "status": i.status.value, "subject": i.subject,
            "body": i.body,
            "occurred_at": i.occurred_at.isoformat(), "address": i.address,
            "operator": i.operator.email if i.operator else None}  # fmt: skip


def _payload() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


@bp.get("/contacts/<int:contact_id>/notes")
def contact_notes(contact_id: int):
    require("contact.view", "contacts:read")
    if _contact(contact_id) is None:
        return error(404, "No such contact, or not one you may see.")
    return jsonify(notes=[note_json(n) for n in notes.notes_of_contact(g.api_user, contact_id)])


@bp.post("/contacts/<int:contact_id>/notes")
def post_note(contact_id: int):
    require("note.write", "contacts:write")
    contact, data = _contact(contact_id), _payload()
    if contact is None:
        return error(404, "No such contact, or not one you may see.")
    if data is None:
        return error(400, 'Send a JSON object: {"body": "...", "private": false}.')

    def work():
        note = notes.add_note(g.api_user, contact, data.get("body"), bool(data.get("private")))
        return answer(note_json(note), url_for("api.contact_notes", contact_id=contact_id))

    return committed(work, "The note was not saved.")


@bp.get("/contacts/<int:contact_id>/interactions")
def contact_interactions(contact_id: int):
    require("contact.view", "contacts:read")
    if _contact(contact_id) is None:
        return error(404, "No such contact, or not one you may see.")
    found = interactions.interactions_of_contact(g.api_user, contact_id)
    return jsonify(interactions=[interaction_json(i) for i in found])


@bp.post("/contacts/<int:contact_id>/interactions")
def post_interaction(contact_id: int):
    """Register an interaction: medium, direction, status, subject, body, occurred_at (ISO
    8601), operator_id."""
    require("interaction.edit", "contacts:write")
    contact, data = _contact(contact_id), _payload()
    if contact is None:
        return error(404, "No such contact, or not one you may see.")
    if data is None:
        return error(400, "Send a JSON object with medium, subject, ...")

    def work():
        made = interactions.register(g.api_user, contact, {k: str(v) if v is not None else None
                                                           for k, v in data.items()})  # fmt: skip
        url = url_for("api.contact_interactions", contact_id=contact_id)
        return answer(interaction_json(made), url)

    return committed(work, "The interaction was not saved.")


@bp.get("/contacts/<int:contact_id>/history")
def contact_history(contact_id: int):
    """The contact's history, newest first, 50 a page: ?since=YYYY-MM-DD&until=...&page=N."""
    require("contact.view", "contacts:read")
    if _contact(contact_id) is None:
        return error(404, "No such contact, or not one you may see.")
    args = request.args
    page = history.contact_history(
        g.api_user, contact_id, history.parse_day(args.get("since")),
        history.parse_day(args.get("until")), access.record_id(args.get("page")) or 1,
    )  # fmt: skip
    return jsonify(
        entries=[
            {"at": item.entry.at.isoformat(), "who": item.entry.user_email,
             "action": item.entry.action, "record": item.entry.entity_type,
             "summary": item.entry.summary,
             "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in item.changes]}
            for item in page.items
        ],
        page=page.page,
        more=page.has_more,
    )  # fmt: skip
