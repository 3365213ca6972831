"""Segments (Webasyst CRM) and marketing lists (SimpleOne): named groups of contacts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, TimestampMixin, enum_column, utcnow
from crm.models.user import User


class SegmentKind(LabeledEnum):
    STATIC = ("static", "Static (hand-picked members)")
    DYNAMIC = ("dynamic", "Dynamic (a saved filter)")


segment_members = Table(
    "segment_members",
    db.metadata,
    Column("segment_id", ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("added_at", DateTime(timezone=True), default=utcnow),
    Index("ix_segment_members_contact_id", "contact_id"),
)


class Segment(TimestampMixin, db.Model):
    """A static segment lists its members; a dynamic one stores the contact-list query
    (search and filters) whose results are its members whenever it is opened."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[SegmentKind] = mapped_column(
        enum_column(SegmentKind, "segment_kind"), default=SegmentKind.STATIC
    )
    query: Mapped[str | None] = mapped_column(String(2000))  # list URL arguments (dynamic)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    owner: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return self.name


class MarketingList(TimestampMixin, db.Model):
    __tablename__ = "marketing_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    owner: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return self.name


class MarketingListMember(db.Model):
    __tablename__ = "marketing_list_members"

    list_id: Mapped[int] = mapped_column(
        ForeignKey("marketing_lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (Index("ix_marketing_list_members_contact_id", "contact_id"),)


class SavedView(db.Model):
    """A user's named contact-list view: the list URL's arguments (filters, sort, search)."""

    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("uq_saved_views_user_id_name", "user_id", "name", unique=True),)

    def __str__(self) -> str:
        return self.name
