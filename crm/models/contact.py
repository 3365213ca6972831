"""Contacts: the people a business works with."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, TimestampMixin, enum_column
from crm.models.tag import contact_tags

if TYPE_CHECKING:
    from crm.models.access_class import AccessClass
    from crm.models.account import Account
    from crm.models.address import Address
    from crm.models.lookups import Category, Criterion
    from crm.models.phone import Phone
    from crm.models.social_link import SocialLink
    from crm.models.tag import Tag
    from crm.models.user import User


class ContactKind(LabeledEnum):
    B2B = ("b2b", "B2B (works for an account)")
    B2C = ("b2c", "B2C (consumer)")


class CustomerStatus(LabeledEnum):
    NON_CUSTOMER = ("non_customer", "Non-customer")
    PROSPECT = ("prospect", "Prospect")
    CUSTOMER = ("customer", "Customer")


class ProspectStatus(LabeledEnum):
    PROSPECT = ("prospect", "Prospect")
    NON_PROSPECT = ("non_prospect", "Non-prospect")
    LOST_PROSPECT = ("lost_prospect", "Lost prospect")


class Gender(LabeledEnum):
    FEMALE = ("female", "Female")
    MALE = ("male", "Male")
    OTHER = ("other", "Other")
    UNSPECIFIED = ("unspecified", "Prefer not to say")


class ContactPreference(LabeledEnum):
    ANY = ("any", "Any")
    WORK_PHONE = ("work_phone", "Work phone")
    MOBILE_PHONE = ("mobile_phone", "Mobile phone")
    EMAIL = ("email", "Email")


# Further accounts a B2B contact is linked to, besides its primary `account`.
contact_accounts = Table(
    "contact_accounts",
    db.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    # Covering: the account's contacts are read from the index alone.
    Index("ix_contact_accounts_account_id_contact_id", "account_id", "contact_id"),
)


contact_categories = Table(
    "contact_categories",
    db.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True),
    # Covering: a category's contacts are read from the index alone (the category filter).
    Index("ix_contact_categories_category_id_contact_id", "category_id", "contact_id"),
)

contact_criteria = Table(
    "contact_criteria",
    db.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("criterion_id", ForeignKey("criteria.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_contact_criteria_criterion_id_contact_id", "criterion_id", "contact_id"),
)


NAME_KEY_LENGTH = 320
_TRASHED = "deleted_at IS NOT NULL AND merged_into_id IS NULL"


class Contact(TimestampMixin, db.Model):
    __tablename__ = "contacts"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ContactKind] = mapped_column(
        enum_column(ContactKind, "contact_kind"), default=ContactKind.B2C
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    title: Mapped[str | None] = mapped_column(String(40))
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    job_title: Mapped[str | None] = mapped_column(String(150))

    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # The user in charge of dealing with this person (Webasyst's responsible user), besides
    # its owner.
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Only users granted this class see the contact (None: see services.access).
    access_class_id: Mapped[int | None] = mapped_column(ForeignKey("access_classes.id"), index=True)
    customer_status: Mapped[CustomerStatus] = mapped_column(
        enum_column(CustomerStatus, "customer_status"),
        default=CustomerStatus.NON_CUSTOMER,
    )
    prospect_status: Mapped[ProspectStatus] = mapped_column(
        enum_column(ProspectStatus, "prospect_status"),
        default=ProspectStatus.NON_PROSPECT,
    )
    birthday: Mapped[date | None] = mapped_column(Date)
    # Kept by services.contacts from `birthday`, so "birthday in May" is an index look-up.
    birthday_month: Mapped[int | None] = mapped_column(SmallInteger, index=True)
    gender: Mapped[Gender | None] = mapped_column(enum_column(Gender, "gender"))

    email: Mapped[str | None] = mapped_column(String(254))  # ix_contacts_email_id
    email_secondary: Mapped[str | None] = mapped_column(String(254), index=True)
    website: Mapped[str | None] = mapped_column(String(300))
    email_marketing: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    do_not_email: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    contact_preference: Mapped[ContactPreference] = mapped_column(
        enum_column(ContactPreference, "contact_preference"), default=ContactPreference.ANY
    )

    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    department: Mapped[str | None] = mapped_column(String(150))
    certificate: Mapped[str | None] = mapped_column(String(150))
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    other_contacts: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    # Set as consumer (24SevenOffice): a customer number from crm.services.platform.counters, so
    # that orders and invoices can be made for the person, and its customer settings.
    customer_number: Mapped[int | None] = mapped_column(Integer, unique=True, index=True)
    customer_currency: Mapped[str | None] = mapped_column(String(3))
    payment_terms_days: Mapped[int | None] = mapped_column(SmallInteger)

    # The contact's picture (24SevenOffice's Settings tab): the stored name of its resized image
    # under the instance folder (crm.services.card.files), None without one.
    picture: Mapped[str | None] = mapped_column(String(80))

    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # In the trash since then (None: live). Trashed contacts are hidden by the access gate.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Lower-cased names and emails, kept by services.contacts; what substring search reads.
    # Merged into that contact (crm.services.merge.contacts): a tombstone, in no list, whose old
    # links lead to the contact it was merged into. Merged contacts also have deleted_at.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    search_text: Mapped[str] = mapped_column(Text, default="")
    # The name folded, without titles, its words sorted (crm.services.contacts.search.name_key),
    # kept by services.contacts: duplicate checks (create form, imports) look names up by it.
    name_key: Mapped[str | None] = mapped_column(String(NAME_KEY_LENGTH))
    # Whether the contact has a phone, kept by services.contacts: the "has phone" filter
    # reads this column rather than probing the phones of every contact it walks.
    has_phone: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    account: Mapped[Account] = relationship(back_populates="contacts", foreign_keys=[account_id])
    linked_accounts: Mapped[list[Account]] = relationship(
        secondary=contact_accounts, order_by="Account.name"
    )
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    responsible: Mapped[User | None] = relationship(foreign_keys=[responsible_id])
    deleted_by: Mapped[User | None] = relationship(foreign_keys=[deleted_by_id])
    access_class: Mapped[AccessClass | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, order_by="Tag.key")
    categories: Mapped[list[Category]] = relationship(
        secondary=contact_categories, order_by="Category.name"
    )
    criteria: Mapped[list[Criterion]] = relationship(
        secondary=contact_criteria, order_by="Criterion.name"
    )
    manager: Mapped[Contact | None] = relationship(remote_side=[id], foreign_keys=[manager_id])
    merged_into: Mapped[Contact | None] = relationship(
        remote_side=[id], foreign_keys=[merged_into_id]
    )

    phones: Mapped[list[Phone]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="Phone.id"
    )
    addresses: Mapped[list[Address]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="Address.id"
    )
    social_links: Mapped[list[SocialLink]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="SocialLink.id"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # The default list: live, active contacts by name.
        Index("ix_contacts_live_name", "deleted_at", "active", "last_name", "first_name", "id"),
        Index("ix_contacts_last_name_first_name", "last_name", "first_name"),
        Index("ix_contacts_name_key", "name_key"),
        # Filters by status, and the list sorted by status (ties by id): PostgreSQL walks
        # these for a page instead of sorting every match (0.5 s at 1M contacts).
        Index("ix_contacts_customer_status_id", "customer_status", "id"),
        Index("ix_contacts_prospect_status_id", "prospect_status", "id"),
        # Look-ups by email, and the list sorted by email: the contacts without one tie, and
        # PostgreSQL sorted those 200,000 by id for a page (2 s) without the id here.
        Index("ix_contacts_email_id", "email", "id"),
        # Partial: only merged contacts are indexed (their merges and old links look them up).
        Index(
            "ix_contacts_merged_into_id",
            "merged_into_id",
            sqlite_where=text("merged_into_id IS NOT NULL"),
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
        # The trash, newest first: trashed contacts, not the merged ones (which are deleted too).
        Index(
            "ix_contacts_trash",
            "deleted_at",
            "id",
            sqlite_where=text(_TRASHED),
            postgresql_where=text(_TRASHED),
        ),
    )

    @property
    def full_name(self) -> str:
        parts = (self.first_name, self.middle_name, self.last_name)
        return " ".join(p.strip() for p in parts if p and p.strip())

    @property
    def all_accounts(self) -> list[Account]:
        """The primary account first, then the linked ones."""
        extra = [a for a in self.linked_accounts if a.id != self.account_id]
        return [self.account, *extra] if self.account else extra

    def __str__(self) -> str:
        return self.full_name or f"Contact #{self.id}"
