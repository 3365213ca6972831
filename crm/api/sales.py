"""The lifecycle through the JSON API: the online store posts each order once it is placed
(posting the same store order id again answers the order made the first time, 200 instead
of 201) and reads them back; a lead is converted to a customer contact."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request, url_for

from crm.api.blueprint import bp, require
from crm.api.contacts import contact_json
from crm.api.responses import answer, committed, error
from crm.extensions import db
from crm.models import Order
from crm.services.platform import access
from crm.services.sales import orders


def order_json(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "url": url_for("api.get_order", order_id=order.id, _external=True),
        "version": order.version,
        "number": order.number,
        "external_id": order.external_id,
        "source": order.source.value,
        "status": order.status.value,
        "ordered_on": order.ordered_on.isoformat(),
        "currency": order.currency,
        "total": str(order.total),
        "contact_id": order.contact_id,
        "lines": [
            {
                "description": line.description,
                "quantity": str(line.quantity.normalize()),
                "unit_price": str(line.unit_price),
                "amount": str(line.amount),
            }
            for line in order.lines
        ],  # fmt: skip
    }


@bp.post("/orders")
def post_order():
    require("order.edit", "orders:write")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return error(422, "The order was not saved.", errors={"body": ["Send a JSON object."]})
    posted = committed(
        lambda: orders.post_store_order(g.api_user, payload), "The order was not saved."
    )
    if isinstance(posted, Response):
        return posted
    order, created = posted
    return answer(
        order_json(order), url_for("api.get_order", order_id=order.id), 201 if created else 200
    )


@bp.get("/orders/<int:order_id>")
def get_order(order_id: int):
    require("order.view", "orders:read")
    order = db.session.scalar(access.visible_orders(g.api_user).where(Order.id == order_id))
    if order is None:
        return error(404, "No such order, or not one you may see.")
    return jsonify(order_json(order))


@bp.post("/leads/<int:lead_id>/convert")
def convert_lead(lead_id: int):
    """Convert a lead to a customer contact (crm.services.sales.leads.convert_lead): 201 with the
    contact; 409 when it was converted already (or is disqualified); 422 with the fields."""
    from crm.services.sales import leads

    require("lead.convert", "contacts:write")
    lead = leads.get_lead(g.api_user, lead_id)
    if lead is None:
        return error(404, "No such lead.")
    refusal = leads.conversion_refusal(lead)
    if refusal:
        return error(409, refusal, contact_id=lead.converted_contact_id)
    contact = committed(
        lambda: leads.convert_lead(g.api_user, lead), "The lead was not converted.", conflict=409
    )
    if isinstance(contact, Response):
        return contact
    return answer(contact_json(contact), url_for("api.get_contact", contact_id=contact.id))
