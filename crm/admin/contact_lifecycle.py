"""A contact's lifecycle on its page: its deals, purchase history and payments, its customer
number ("Set as consumer"), and the small forms that enter an order or a payment. The POSTs
are a view of their own (not in the menu), each checking its right and the contact's
visibility; the work is crm.services' (consumers, orders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.pages import ContactPageActions
from crm.auth.permissions import can
from crm.models import Contact, Deal, Order, Payment
from crm.services.contacts import logins
from crm.services.contacts.lifecycle import store_order_of
from crm.services.sales import consumers, deals, orders


@dataclass
class ContactLifecycle:
    """What the contact's page shows of its lifecycle, and which of its buttons the user has."""

    deals: list[Deal] | None = None  # None: the user may not see deals
    orders: list[Order] | None = None
    payments: list[Payment] | None = None
    may_add_deal: bool = False
    may_enter_orders: bool = False
    may_set_consumer: bool = False
    store_order: str | None = None
    login: Any = None  # the user generated for the contact
    may_generate_login: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def lifecycle_of(user: Any, contact: Contact) -> ContactLifecycle:
    found = ContactLifecycle()
    if can(user, "deal.view"):
        found.deals = deals.deals_of_contact(user, contact.id)
        found.may_add_deal = can(user, "deal.edit")
    if can(user, "order.view"):
        found.orders = orders.orders_of_contact(user, contact.id)
        found.payments = orders.payments_of_contact(user, contact.id)
        found.may_enter_orders = can(user, "order.edit")
        found.store_order = store_order_of(contact.id)
    found.may_set_consumer = contact.customer_number is None and can(user, "contact.set_consumer")
    found.login = logins.login_of(contact.id)
    found.may_generate_login = found.login is None and can(user, "contact.generate_login")
    return found


class ContactLifecycleView(ContactPageActions):
    """POST-only endpoints behind the buttons and forms of the contact's page."""

    def __init__(self, **kwargs: Any):
        super().__init__(name="Contact lifecycle", endpoint="contact_lifecycle",
                         url="/admin/contact-lifecycle", **kwargs)  # fmt: skip

    def _do(self, contact_id: int, permission: str, work, refused: str):
        """Run `work(contact)` (a success message back) and commit; errors become messages
        (`refused` before each field's), nothing half-saved."""
        contact = self.contact(contact_id, permission)
        with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
            message = work(contact)
        if outcome:
            flash(message, "success")
        elif outcome.errors:
            for name, messages in outcome.errors.items():
                label = _FIELD_LABELS.get(name, name.replace("_", " "))
                flash(f"{refused}: {label}: {'; '.join(messages)}", "error")
        else:
            flash(outcome.message, "error")
        return redirect(url_for("contact.details_view", id=contact_id))

    @expose("/<int:contact_id>/consumer/", methods=("POST",))
    def consumer(self, contact_id: int):
        """Set as consumer: the next customer number."""

        def work(contact: Contact) -> str:
            number = consumers.set_as_consumer(current_user, contact)
            return f"{contact} is a consumer now: customer number {number}."

        return self._do(contact_id, "contact.set_consumer", work, "Not set as consumer")

    @expose("/<int:contact_id>/order/", methods=("POST",))
    def order(self, contact_id: int):
        """An order entered by hand: its date, what was bought and the total."""
        form = request.form

        def work(contact: Contact) -> str:
            data: dict[str, Any] = {
                "ordered_on": form.get("ordered_on"),
                "currency": form.get("currency") or contact.customer_currency or "EUR",
            }
            if form.get("description"):
                data["lines"] = [{"description": form.get("description"), "quantity": 1,
                                  "unit_price": form.get("total")}]  # fmt: skip
            else:
                data["total"] = form.get("total")
            order = orders.create_order(current_user, contact, data)
            return f"Order {order.number} saved ({order.total:,.2f} {order.currency})."

        return self._do(contact_id, "order.edit", work, "Order not saved")

    @expose("/<int:contact_id>/payment/", methods=("POST",))
    def payment(self, contact_id: int):
        """A payment received: date, amount, method, reference, and the order it pays."""
        names = ("paid_on", "amount", "currency", "method", "reference", "order_id")

        def work(contact: Contact) -> str:
            data = {name: request.form.get(name) for name in names}
            data["currency"] = data["currency"] or contact.customer_currency or "EUR"
            payment = orders.record_payment(current_user, contact, data)
            return f"Payment of {payment.amount:,.2f} {payment.currency} recorded."

        return self._do(contact_id, "order.edit", work, "Payment not saved")

    @expose("/<int:contact_id>/login/", methods=("POST",))
    def login(self, contact_id: int):
        """Generate login: a user without roles, and its one-time password link, shown here
        once (and mailed to the person where mail is configured)."""

        def work(contact: Contact) -> str:
            made = logins.generate_login(current_user, contact, request.form.get("email"))
            if made.mailed:
                how = f"the link to choose a password was mailed to {made.user.email}"
            elif made.mail_error:
                how = f"{made.mail_error} Give the person this link: {made.link}"
            else:
                how = f"give the person this link to choose a password: {made.link}"
            return f"Login {made.user.email} made, with no roles; {how}"

        return self._do(contact_id, "contact.generate_login", work, "No login made")


# The order form's fields as the services name them.
_FIELD_LABELS = {"lines-0-unit_price": "total", "lines-0-description": "description"}
