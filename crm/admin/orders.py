"""Sales > Orders and Payments: the purchase and financial histories across contacts. Orders
come from the online store (JSON API) or are entered on a contact's page; here they are
listed, opened, and marked paid or cancelled (crm.services.sales.orders)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from crm.admin.base import CrmModelView
from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.auth.permissions import can
from crm.models import Order, OrderStatus, Payment
from crm.services.contacts import search
from crm.services.platform import access
from crm.services.sales import orders


def _contact_link(_view: Any, _context: Any, model: Any, _name: str) -> Markup | str:
    if model.contact_id is None:
        return "(deleted)"
    return Markup('<a href="{}">{}</a>').format(
        url_for("contact.details_view", id=model.contact_id), model.contact
    )


def _money(field: str):
    def show(_view: Any, _context: Any, model: Any, _name: str) -> str:
        return f"{getattr(model, field):,.2f} {model.currency}"

    return show


class _ReadOnlyView(CrmModelView):
    """Listed and opened with `order.view`; written by services only."""

    permission_prefix = "order"

    def _allowed(self, verb: str) -> bool:
        return verb == "view" and can(current_user, "order.view")


class OrderView(_ReadOnlyView):
    details_template = "admin/order_details.html"
    column_list = ("number", "contact", "ordered_on", "source", "status", "total")
    column_labels = {"ordered_on": "Date", "external_id": "Store order id"}
    column_formatters = column_formatters_detail = {
        "contact": _contact_link,
        "total": _money("total"),
    }
    column_sortable_list = ("number", "ordered_on", "total", "status")
    column_default_sort = [("ordered_on", True), ("id", True)]
    column_searchable_list = ("number", "external_id")
    column_filters = ("source", "status", "ordered_on", "total", "currency")
    column_details_list = ("number", "contact", "ordered_on", "source", "external_id",
                           "status", "total", "created_at")  # fmt: skip

    def __init__(self, **kwargs: Any):
        super().__init__(
            Order, name="Orders", endpoint="order", url="order", category="Sales", **kwargs
        )

    def get_query(self):
        return (
            super()
            .get_query()
            .filter(access.order_visibility(current_user))
            .options(selectinload(Order.contact), selectinload(Order.lines))
        )

    def get_count_query(self):
        return super().get_count_query().filter(access.order_visibility(current_user))

    def _apply_search(self, query, count_query, joins, count_joins, search_text):
        """Words SQLite's order search index can match go through it; Flask-Admin's LIKE,
        which reads every order, takes the rest."""
        rest = []
        for word in search_text.split(" "):
            clause = search.indexed_matches("order_search", Order.id, word)
            if clause is None:
                rest.append(word)
                continue
            query = query.filter(clause)
            if count_query is not None:
                count_query = count_query.filter(clause)
        if not any(rest):
            return query, count_query, joins, count_joins
        return super()._apply_search(query, count_query, joins, count_joins, " ".join(rest))

    def render(self, template: str, **kwargs: Any):
        if template == self.details_template:
            kwargs["may_change"] = can(current_user, "order.edit")
            kwargs["statuses"] = OrderStatus
        return super().render(template, **kwargs)

    @expose("/<int:order_id>/status/", methods=("POST",))
    def status(self, order_id: int):
        """Mark the order paid or cancelled, or placed again."""
        if not can(current_user, "order.edit"):
            return self.inaccessible_callback("status")
        order = self.get_one(order_id)
        try:
            status = OrderStatus(request.form.get("status", ""))
        except ValueError:
            flash("Choose placed, paid or cancelled.", "error")
            return redirect(url_for(".details_view", id=order_id))
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            orders.set_order_status(current_user, order, status)
        if outcome:
            flash(f"Order {order.number} is {status.label.lower()} now.", "success")
        return redirect(url_for(".details_view", id=order_id))


class PaymentView(_ReadOnlyView):
    column_list = ("paid_on", "contact", "amount", "method", "reference", "order")
    column_labels = {"paid_on": "Date"}
    column_formatters = column_formatters_detail = {
        "contact": _contact_link,
        "amount": _money("amount"),
    }
    column_sortable_list = ("paid_on", "amount")
    column_default_sort = [("paid_on", True), ("id", True)]
    column_searchable_list = ("reference",)
    column_filters = ("paid_on", "amount", "currency", "method")
    column_details_list = ("paid_on", "contact", "amount", "method", "reference", "order",
                           "created_at")  # fmt: skip

    def __init__(self, **kwargs: Any):
        super().__init__(
            Payment, name="Payments", endpoint="payment", url="payment", category="Sales",
            **kwargs,
        )  # fmt: skip

    def get_query(self):
        return (
            super()
            .get_query()
            .filter(access.order_visibility(current_user, Payment))
            .options(selectinload(Payment.contact), selectinload(Payment.order))
        )

    def get_count_query(self):
        return super().get_count_query().filter(access.order_visibility(current_user, Payment))
