"""Orders (SECUTIX's purchase history) and payments (its financial history)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, TimestampMixin, enum_column

if TYPE_CHECKING:
    from crm.models.contact import Contact


class OrderSource(LabeledEnum):
    ONLINE_STORE = ("online_store", "Online store")
    MANUAL = ("manual", "Entered by hand")


class OrderStatus(LabeledEnum):
    PLACED = ("placed", "Placed")
    PAID = ("paid", "Paid")
    CANCELLED = ("cancelled", "Cancelled")


class Order(TimestampMixin, db.Model):
    """A purchase by a contact. One from the online store makes the contact a Customer for
    good (crm.services.contacts.lifecycle); the store's own order id makes posting it idempotent."""

    __tablename__ = "orders"
    __audit__ = True
    __audit_parent__ = "contact_id"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    # Kept when the contact is purged: the books still need the order.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    ordered_on: Mapped[date] = mapped_column(Date, index=True)
    source: Mapped[OrderSource] = mapped_column(
        enum_column(OrderSource, "order_source"), default=OrderSource.MANUAL
    )
    external_id: Mapped[str | None] = mapped_column(String(100))  # the store's order id
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus, "order_status"), default=OrderStatus.PLACED
    )
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    contact: Mapped[Contact | None] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )

    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return f"Order {self.number}"


class OrderLine(db.Model):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal("1"))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))

    order: Mapped[Order] = relationship(back_populates="lines")


class Payment(TimestampMixin, db.Model):
    """Money received from a contact (its financial history), for an order or not."""

    __tablename__ = "payments"
    __audit__ = True
    __audit_parent__ = "contact_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    paid_on: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    method: Mapped[str | None] = mapped_column(String(40))  # card, transfer, cash, ...
    reference: Mapped[str | None] = mapped_column(String(100))

    contact: Mapped[Contact | None] = relationship()
    order: Mapped[Order | None] = relationship()

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.paid_on}"
