"""Orders (purchase history) and payments (financial history) of contacts. An order posted
by the online store is idempotent by the store's order id and makes its contact a Customer
(crm.services.contacts.lifecycle)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import (
    Contact,
    ContactKind,
    Order,
    OrderLine,
    OrderSource,
    OrderStatus,
    Payment,
)
from crm.services.contacts import lifecycle
from crm.services.contacts.batch import begin_for_savepoints
from crm.services.contacts.saving import create_contact
from crm.services.platform import audit, counters
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility, order_visibility

MAX_LINES = 500


def _clean_date(value: Any, errors: v.FieldErrors, field: str) -> date:
    if value in (None, ""):
        return date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        errors.add(field, "Not a date; use YYYY-MM-DD.")
        return date.today()


def _lines(given: Any, errors: v.FieldErrors) -> list[OrderLine]:
    if given in (None, []):
        return []
    if not isinstance(given, list) or len(given) > MAX_LINES:
        errors.add("lines", f"Give the lines as a list (at most {MAX_LINES}).")
        return []
    lines = []
    for index, line in enumerate(given):
        if not isinstance(line, dict):
            errors.add(f"lines-{index}", "Each line is an object.")
            continue
        description = errors.check(
            f"lines-{index}-description", v.clean_limited, line.get("description"), 300
        )
        if not description:
            errors.add(f"lines-{index}-description", "Describe the line.")
        quantity = errors.check(f"lines-{index}-quantity", _quantity, line.get("quantity", 1))
        price = errors.check(
            f"lines-{index}-unit_price", v.clean_amount, line.get("unit_price"), label="The price"
        )
        if price is None and f"lines-{index}-unit_price" not in errors.found:
            errors.add(f"lines-{index}-unit_price", "Give the line's price.")
        if quantity is not None and price is not None:
            amount = (quantity * price).quantize(Decimal("0.01"))
            lines.append(OrderLine(description=description or "", quantity=quantity,
                                   unit_price=price, amount=amount))  # fmt: skip
    return lines


def _quantity(value: Any) -> Decimal:
    try:
        quantity = Decimal(str(value).strip().replace(",", "."))
    except ArithmeticError:
        raise v.FieldError("The quantity is not a number.") from None
    if not quantity.is_finite() or quantity <= 0 or quantity >= 10**9:
        raise v.FieldError("The quantity must be more than 0.")
    return quantity.quantize(Decimal("0.001"))


def _fill(order: Order, data: dict[str, Any], errors: v.FieldErrors) -> None:
    order.ordered_on = _clean_date(data.get("ordered_on"), errors, "ordered_on")
    order.currency = errors.check("currency", v.clean_currency, data.get("currency") or "EUR")
    status = data.get("status") or OrderStatus.PLACED
    try:
        order.status = OrderStatus(status)
    except ValueError:
        errors.add("status", "Choose placed, paid or cancelled.")
    order.lines = _lines(data.get("lines"), errors)
    if data.get("lines"):
        order.total = sum((line.amount for line in order.lines), Decimal("0"))
    else:
        total = errors.check("total", v.clean_amount, data.get("total"), label="The total")
        if total is None and "total" not in errors.found:
            errors.add("total", "Give the order's lines or its total.")
        order.total = total or Decimal("0")


def create_order(actor: Actor, contact: Contact, data: dict[str, Any]) -> Order:
    """An order entered by hand for a contact the actor can see."""
    if not can(actor, "order.edit"):
        raise PermissionDenied("You may not enter orders.")
    audit.note_actor(db.session, actor)
    errors = v.FieldErrors()
    order = Order(contact=contact, source=OrderSource.MANUAL)
    _fill(order, data, errors)
    errors.raise_any()
    order.number = str(counters.next_value("order_number"))
    db.session.add(order)
    db.session.flush()
    lifecycle.apply_status_rules([contact.id])
    return order


def post_store_order(actor: Actor, payload: dict[str, Any]) -> tuple[Order, bool]:
    """An order from the online store: (the order, whether it was created now). Posting the
    same store order id again gives the order made the first time. Its customer is the
    visible contact with that email, or a new consumer (B2C) contact."""
    if not can(actor, "order.edit"):
        raise PermissionDenied("You may not post orders.")
    audit.note_actor(db.session, actor)
    errors = v.FieldErrors()
    external_id = errors.check("external_id", v.clean_limited, payload.get("external_id"), 100)
    if not external_id and "external_id" not in errors.found:
        errors.add("external_id", "Give the store's order id.")
    if external_id:
        existing = _store_order(external_id)
        if existing is not None:
            return existing, False
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    email = errors.check("customer.email", v.clean_email, customer.get("email"))
    if not email and "customer.email" not in errors.found:
        errors.add("customer.email", "Give the customer's email.")
    order = Order(source=OrderSource.ONLINE_STORE, external_id=external_id)
    _fill(order, payload, errors)
    errors.raise_any()
    begin_for_savepoints()
    savepoint = db.session.begin_nested()
    try:
        contact = _customer(actor, email, customer)
        order.contact = contact
        order.number = str(counters.next_value("order_number"))
        db.session.add(order)
        db.session.flush()
    except IntegrityError:  # posted twice at once: the other request stored it first
        savepoint.rollback()
        existing = _store_order(external_id)
        if existing is None:
            raise
        return existing, False
    except ValidationFailed as exc:
        savepoint.rollback()
        raise ValidationFailed({f"customer.{k}": m for k, m in exc.errors.items()}) from None
    savepoint.commit()
    lifecycle.apply_status_rules([contact.id])
    return order, True


def _store_order(external_id: str) -> Order | None:
    return db.session.scalar(
        select(Order).where(
            Order.source == OrderSource.ONLINE_STORE, Order.external_id == external_id
        )
    )


def _customer(actor: Actor, email: str, given: dict[str, Any]) -> Contact:
    found = db.session.scalar(
        select(Contact)
        .where(
            contact_visibility(actor),
            or_(Contact.email == email, Contact.email_secondary == email),
        )
        .order_by(Contact.id)
        .limit(1)
    )
    if found is not None:
        return found
    data: dict[str, Any] = {
        "kind": ContactKind.B2C,
        "first_name": given.get("first_name") or email.split("@")[0],
        "last_name": given.get("last_name") or email.split("@")[0],
        "email": email,
    }
    if given.get("phone"):
        data["phones"] = [{"type": "Mobile", "number": given["phone"]}]
    return create_contact(actor, data)


def set_order_status(actor: Actor, order: Order, status: OrderStatus) -> None:
    """Mark the order paid, cancelled or placed again; a cancelled order counts for nothing
    in the status rules."""
    if not can(actor, "order.edit"):
        raise PermissionDenied("You may not change orders.")
    audit.note_actor(db.session, actor)
    order.status = status
    db.session.flush()
    lifecycle.apply_status_rules([order.contact_id])


def record_payment(actor: Actor, contact: Contact, data: dict[str, Any]) -> Payment:
    """A payment received from the contact (for one of its orders, or not)."""
    if not can(actor, "order.edit"):
        raise PermissionDenied("You may not record payments.")
    audit.note_actor(db.session, actor)
    errors = v.FieldErrors()
    amount = errors.check("amount", v.clean_amount, data.get("amount"))
    if not amount and "amount" not in errors.found:
        errors.add("amount", "Give the amount paid.")
    payment = Payment(
        contact=contact,
        amount=amount or Decimal("0"),
        paid_on=_clean_date(data.get("paid_on"), errors, "paid_on"),
        currency=errors.check("currency", v.clean_currency, data.get("currency") or "EUR"),
        method=errors.check("method", v.clean_limited, data.get("method"), 40),
        reference=errors.check("reference", v.clean_limited, data.get("reference"), 100),
    )
    order_id = data.get("order_id")
    if order_id:
        # Digits only, and within an id's range (PostgreSQL refuses a larger integer).
        digits = str(order_id).strip()
        order = (
            db.session.get(Order, int(digits)) if digits.isdigit() and len(digits) <= 9 else None
        )
        if order is None or order.contact_id != contact.id:
            errors.add("order_id", "Choose one of this contact's orders.")
        payment.order = order
    errors.raise_any()
    db.session.add(payment)
    db.session.flush()
    return payment


def orders_of_contact(actor: Actor, contact_id: int) -> list[Order]:
    """The contact's purchase history, newest first."""
    return list(
        db.session.scalars(
            select(Order)
            .where(Order.contact_id == contact_id, order_visibility(actor))
            .order_by(Order.ordered_on.desc(), Order.id.desc())
        )
    )


def payments_of_contact(actor: Actor, contact_id: int) -> list[Payment]:
    """The contact's financial history, newest first."""
    return list(
        db.session.scalars(
            select(Payment)
            .where(Payment.contact_id == contact_id, order_visibility(actor, Payment))
            .order_by(Payment.paid_on.desc(), Payment.id.desc())
            .options(selectinload(Payment.order))  # the card names each one's order
        )
    )
