"""Orders through the JSON API: the online store posts each order once it is placed (posting
the same store order id again answers the order made the first time, 200 instead of 201),
and reads them back."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request, url_for

from crm.api import _require, bp, error
from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Order
from crm.services import access, audit, orders


def order_json(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "url": url_for("api.get_order", order_id=order.id, _external=True),
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
    _require("order.edit", "orders:write")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return error(422, "The order was not saved.", errors={"body": ["Send a JSON object."]})
    try:
        with audit.acting_as(g.api_user):
            order, created = orders.post_store_order(g.api_user, payload)
            db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return error(422, "The order was not saved.", errors=exc.errors)
    except DomainError as exc:
        db.session.rollback()
        return error(403 if isinstance(exc, PermissionDenied) else 422, exc.message)
    response = jsonify(order_json(order))
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.get_order", order_id=order.id)
    return response


@bp.get("/orders/<int:order_id>")
def get_order(order_id: int):
    _require("order.view", "orders:read")
    order = db.session.scalar(access.visible_orders(g.api_user).where(Order.id == order_id))
    if order is None:
        return error(404, "No such order, or not one you may see.")
    return jsonify(order_json(order))
