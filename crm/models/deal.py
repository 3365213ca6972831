"""Deals (24SevenOffice's sales opportunities): what is being sold to whom, and how it ended."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, TimestampMixin, enum_column, loaded_ids

if TYPE_CHECKING:
    from crm.models.account import Account
    from crm.models.contact import Contact
    from crm.models.user import User


class DealStage(LabeledEnum):
    OPEN = ("open", "Open")
    WON = ("won", "Won")
    LOST = ("lost", "Lost")


deal_contacts = Table(
    "deal_contacts",
    db.metadata,
    Column("deal_id", ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    # A contact's deals (its tab, and the status rules) are read from the index alone.
    Index("ix_deal_contacts_contact_id_deal_id", "contact_id", "deal_id"),
)


class Deal(TimestampMixin, db.Model):
    """A sales opportunity with one or more contacts. Its stage drives their customer and
    prospect statuses (crm.services.contacts.lifecycle)."""

    __tablename__ = "deals"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    stage: Mapped[DealStage] = mapped_column(
        enum_column(DealStage, "deal_stage"), default=DealStage.OPEN, index=True
    )
    expected_close: Mapped[date | None] = mapped_column(Date, index=True)  # the list's order
    # When it was marked won or lost (None while open): the latest closed deal decides
    # between non-prospect and lost prospect.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    owner: Mapped[User | None] = relationship()
    account: Mapped[Account | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(
        secondary=deal_contacts, order_by="Contact.last_name"
    )

    def audit_contact_ids(self) -> list[int]:
        """History puts the deal's changes on each of its contacts' pages."""
        return loaded_ids(self, "contacts")

    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return self.title or f"Deal #{self.id}"
