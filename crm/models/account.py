"""Accounts (companies, or the hidden personal account of a B2C consumer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import TimestampMixin

if TYPE_CHECKING:
    from crm.models.access_class import AccessClass
    from crm.models.contact import Contact
    from crm.models.lookups import Criterion
    from crm.models.user import User


account_criteria = Table(
    "account_criteria",
    db.metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "criterion_id", ForeignKey("criteria.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class Account(TimestampMixin, db.Model):
    """Every contact is stored in an account. A B2C contact's account is `is_hidden`:
    named after the person, kept in step with the name, and not listed with companies."""

    __tablename__ = "accounts"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    website: Mapped[str | None] = mapped_column(String(300))
    notes: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Only users granted this class see the account (None: see services.access).
    access_class_id: Mapped[int | None] = mapped_column(ForeignKey("access_classes.id"), index=True)
    # Merged into that account (crm.services.merge.accounts): kept, but in no list or picker.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    owner: Mapped[User | None] = relationship()
    access_class: Mapped[AccessClass | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="account", foreign_keys="Contact.account_id", lazy="select"
    )

    criteria: Mapped[list[Criterion]] = relationship(
        secondary=account_criteria, order_by="Criterion.name"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # The Accounts list: companies (not hidden), not merged, by name.
        Index("ix_accounts_live_name", "is_hidden", "merged_into_id", "name", "id"),
        # Partial: only merged accounts are indexed (their merges look them up).
        Index(
            "ix_accounts_merged_into_id",
            "merged_into_id",
            sqlite_where=text("merged_into_id IS NOT NULL"),
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
    )

    def __str__(self) -> str:
        return self.name
