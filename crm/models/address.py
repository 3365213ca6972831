"""Postal addresses of a contact."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.lookups import AddressType

if TYPE_CHECKING:
    from crm.models.contact import Contact


class Address(db.Model):
    __tablename__ = "addresses"
    __audit__ = True
    __audit_parent__ = "contact_id"
    # A merge keeps one of a contact's rows that agree on these (the same address).
    __merge_key__ = (
        "address_type_id",
        "street",
        "street2",
        "city_key",
        "region",
        "postal_code",
        "country",
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    address_type_id: Mapped[int] = mapped_column(ForeignKey("address_types.id"), index=True)
    street: Mapped[str | None] = mapped_column(String(200))
    street2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    # The city lower-cased without accents, kept by services.contacts: what filters match.
    city_key: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # Where the coordinates came from ("gazetteer:city", "nominatim", "manual"), or None.
    geocode_source: Mapped[str | None] = mapped_column(String(40))

    contact: Mapped[Contact] = relationship(back_populates="addresses")

    # The city and country filters read (key, contact_id) straight from these indexes.
    __table_args__ = (
        Index("ix_addresses_city_key_contact_id", "city_key", "contact_id"),
        Index("ix_addresses_country_contact_id", "country", "contact_id"),
    )
    address_type: Mapped[AddressType] = relationship()

    @property
    def one_line(self) -> str:
        city = " ".join(p for p in (self.postal_code, self.city) if p)
        parts = (self.street, self.street2, city, self.region, self.country)
        return ", ".join(p for p in parts if p)

    def __str__(self) -> str:
        label = self.address_type.name if self.address_type else "Address"
        return f"{label}: {self.one_line}"
