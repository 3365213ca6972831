"""Lookup lists edited by list managers: phone, address and social platform types,
categories and criteria."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.base import LabeledEnum, enum_column


class LookupMixin:
    """A named, orderable entry that can be deactivated instead of deleted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    def __str__(self) -> str:
        return self.name


class PhoneType(LookupMixin, db.Model):
    __tablename__ = "phone_types"


class AddressType(LookupMixin, db.Model):
    __tablename__ = "address_types"


class SocialPlatform(LookupMixin, db.Model):
    """A social network. A link is accepted when it is a URL on one of `hosts`
    or a handle matching `handle_pattern`, which `url_template` turns into a URL."""

    __tablename__ = "social_platforms"

    hosts: Mapped[str] = mapped_column(String(300), default="")  # comma-separated domains
    url_template: Mapped[str] = mapped_column(String(300), default="")  # with {handle}
    handle_pattern: Mapped[str] = mapped_column(String(200), default="")  # a regex

    @property
    def host_list(self) -> list[str]:
        return [h.strip().lower() for h in self.hosts.split(",") if h.strip()]


class Category(LookupMixin, db.Model):
    """A category contacts are filed under (24SevenOffice: Settings > CRM > Categories)."""

    __tablename__ = "categories"


class CriterionScope(LabeledEnum):
    INDIVIDUALS = ("individuals", "Individuals (contacts)")
    COMPANIES = ("companies", "Companies (accounts)")
    BOTH = ("both", "Individuals and companies")


class Criterion(LookupMixin, db.Model):
    """A manual classification value; some are offered for individuals, some for companies."""

    __tablename__ = "criteria"

    applies_to: Mapped[CriterionScope] = mapped_column(
        enum_column(CriterionScope, "criterion_scope"), default=CriterionScope.BOTH
    )
