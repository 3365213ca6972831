"""Email campaigns (Marketing > Campaigns): a message, an audience of segments, marketing lists
and contacts, and one row per recipient that records what happened to their mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.base import LabeledEnum, TimestampMixin, enum_column
from crm.models.user import User


class CampaignStatus(LabeledEnum):
    DRAFT = ("draft", "Draft")
    SCHEDULED = ("scheduled", "Scheduled")
    SENDING = ("sending", "Sending")
    PAUSED = ("paused", "Paused")
    SENT = ("sent", "Sent")
    CANCELLED = ("cancelled", "Cancelled")


class CampaignKind(LabeledEnum):
    CAMPAIGN = ("campaign", "Campaign")
    # "Send an email…" on contacts ticked in the list: a campaign of those contacts.
    ONE_OFF = ("one_off", "Email to chosen contacts")


class RecipientStatus(LabeledEnum):
    QUEUED = ("queued", "Queued")
    SENDING = ("sending", "Sending")
    SENT = ("sent", "Sent")
    FAILED = ("failed", "Failed")
    EXCLUDED = ("excluded", "Not sent")


class ExclusionReason(LabeledEnum):
    """Why a contact of the audience gets no mail (checked when sending starts)."""

    NO_EMAIL = ("no_email", "No email address")
    NO_CONSENT = ("no_consent", "No consent to email marketing")
    DO_NOT_EMAIL = ("do_not_email", "Do not email")
    TRASHED = ("trashed", "In the trash")
    MERGED = ("merged", "Merged into another contact")
    BOUNCING = ("bouncing", "Address bouncing")
    NOT_VISIBLE = ("not_visible", "Not visible to the sender")
    DUPLICATE_ADDRESS = ("duplicate_address", "Same address as another recipient")
    EXCLUDED_LIST = ("excluded_list", "In an excluded segment or list")
    CANCELLED = ("cancelled", "Campaign cancelled before sending")


campaign_contacts = Table(
    "campaign_contacts",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_campaign_contacts_contact_id", "contact_id"),
)


class Campaign(TimestampMixin, db.Model):
    """The message (Markdown text, or sanitised HTML given through the API), its sender, its
    audience and its state: draft -> scheduled -> sending <-> paused -> sent, or cancelled."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150))
    kind: Mapped[CampaignKind] = mapped_column(
        enum_column(CampaignKind, "campaign_kind"), default=CampaignKind.CAMPAIGN
    )
    status: Mapped[CampaignStatus] = mapped_column(
        enum_column(CampaignStatus, "campaign_status"), default=CampaignStatus.DRAFT, index=True
    )
    subject: Mapped[str] = mapped_column(String(200), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)  # None: made from body_text (Markdown)
    sender_name: Mapped[str] = mapped_column(String(100), default="")
    sender_email: Mapped[str] = mapped_column(String(254), default="")
    reply_to: Mapped[str | None] = mapped_column(String(254))
    send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The mail server's last refusal while sending, and when the queued mail is tried again.
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retries: Mapped[int] = mapped_column(Integer, default=0)
    # A worker sending it holds it until then (renewed as it goes): a second worker, or the
    # scheduler, takes the campaign over only once a lease has run out.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who pressed Send: the audience is what this user may see.
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    sent_by: Mapped[User | None] = relationship(foreign_keys=[sent_by_id])
    audience: Mapped[list[CampaignAudience]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignAudience.id"
    )

    def __str__(self) -> str:
        return self.name


class CampaignAudience(db.Model):
    """One segment or marketing list of a campaign's audience, or one it excludes."""

    __tablename__ = "campaign_audience"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    marketing_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("marketing_lists.id", ondelete="CASCADE")
    )
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)

    campaign: Mapped[Campaign] = relationship(back_populates="audience")
    segment = relationship("Segment")
    marketing_list = relationship("MarketingList")

    __table_args__ = (
        CheckConstraint("(segment_id IS NULL) != (marketing_list_id IS NULL)", name="one_group"),
    )


class CampaignRecipient(db.Model):
    """A contact of the audience as resolved when sending started: queued -> sending -> sent or
    failed, or excluded with its reason. `sending` is set (and committed) before the mail
    goes to the server, so a worker that restarts never sends a recipient twice."""

    __tablename__ = "campaign_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[RecipientStatus] = mapped_column(
        enum_column(RecipientStatus, "recipient_status"), default=RecipientStatus.QUEUED
    )
    reason: Mapped[ExclusionReason | None] = mapped_column(
        enum_column(ExclusionReason, "exclusion_reason")
    )
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[str | None] = mapped_column(String(255))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bounced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    campaign: Mapped[Campaign] = relationship()
    contact = relationship("Contact")

    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_campaign_recipients_campaign_id_status", "campaign_id", "status"),
        Index("ix_campaign_recipients_contact_id", "contact_id"),
        Index("ix_campaign_recipients_email", "email"),
    )
