"""A contact's phones, addresses and profile links: each row checked and normalised in place
(E.164 numbers, located addresses, profile URLs), on ORM rows or on the plain objects a bulk
import checks. The contact rules (crm.services.contacts.saving) call `apply_phones`,
`apply_addresses` and `apply_social_links`; the field errors are named after the form's
inline fields ("phones-0-number")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import phonenumbers
from flask import current_app
from sqlalchemy import inspect

from crm.errors import FieldError
from crm.extensions import db
from crm.models import Address, Contact, SocialLink, SocialPlatform
from crm.services.contacts.geocoding import AddressQuery, geocoder_from_config
from crm.services.contacts.search import fold
from crm.services.platform import validation as v
from crm.services.platform.validation import FieldErrors


def column_limit(field: str, model: type = Contact) -> int:
    """The size of a string column: longer values are refused before the database sees them
    (PostgreSQL raises on them; SQLite would store them silently)."""
    return model.__table__.c[field].type.length


def live_rows(rows: list[Any]) -> list[Any]:
    """Child rows not marked for deletion in this session (inline forms delete in place)."""
    return [row for row in rows if row not in db.session.deleted]


def _refuse_retired_type(row: Any, attr: str, field: str, errors: FieldErrors) -> None:
    """A deactivated type stays on rows that have it but cannot be chosen anew."""
    kind = getattr(row, attr)
    chosen_now = inspect(row).pending or inspect(row).attrs[attr].history.has_changes()
    if kind is not None and not kind.active and chosen_now:
        errors.add(field, f"{kind.name!r} is no longer in use: choose another type.")


def phone_region(addresses: Iterable[Any], default: str) -> str:
    """The region a number typed without a country code is read in: the country of the
    contact's first address that names one (a local '030 1234567' of a Berlin address is
    German), else `default` (CRM_DEFAULT_PHONE_REGION)."""
    for address in addresses:
        try:
            code = v.clean_country(getattr(address, "country", None))
        except FieldError:
            continue  # the address's own check reports it
        if code and phonenumbers.country_code_for_region(code):
            return code
    return default


def apply_phones(c: Contact, errors: FieldErrors) -> None:
    region = phone_region(
        live_rows(c.addresses), current_app.config.get("CRM_DEFAULT_PHONE_REGION", "US")
    )
    seen: set[str] = set()
    for index, phone in enumerate(live_rows(c.phones)):
        if phone.phone_type is None and phone.phone_type_id is None:
            errors.add(f"phones-{index}-phone_type", "Choose the type of phone number.")
        _refuse_retired_type(phone, "phone_type", f"phones-{index}-phone_type", errors)
        clean_phone_fields(phone, index, region, errors, seen)


def clean_phone_fields(
    phone: Any, index: int, region: str, errors: FieldErrors, seen: set[str]
) -> None:
    """Check and normalise one phone's number and extension in place (a Phone or any object
    with its attributes), filling its E.164 and international forms; `seen` holds the
    numbers listed before it."""
    try:
        v.clean_extension(phone.extension)
    except FieldError as exc:
        errors.add(f"phones-{index}-extension", str(exc))
        return
    try:
        clean = v.clean_phone(phone.country_code, phone.number, phone.extension, region)
    except FieldError as exc:
        errors.add(f"phones-{index}-number", str(exc))
        return
    phone.country_code = clean.country_code
    phone.number = clean.number
    phone.extension = clean.extension
    phone.e164 = clean.e164
    phone.formatted = clean.formatted
    key = f"{clean.e164};{clean.extension or ''}"
    if key in seen:
        errors.add(f"phones-{index}-number", "This number is already listed above.")
    seen.add(key)


def apply_addresses(c: Contact, errors: FieldErrors) -> None:
    geocoder = None
    for index, address in enumerate(live_rows(c.addresses)):
        if address.address_type is None and address.address_type_id is None:
            errors.add(f"addresses-{index}-address_type", "Choose the type of address.")
        _refuse_retired_type(address, "address_type", f"addresses-{index}-address_type", errors)
        if not clean_address_fields(address, index, errors):
            continue
        lat = address.latitude
        moved = any(
            inspect(address).attrs[f].history.has_changes()
            for f in ("street", "city", "region", "postal_code", "country")
        )
        if lat is not None and inspect(address).attrs["latitude"].history.has_changes():
            address.geocode_source = "manual"  # typed by the user: keep them
            continue
        if lat is not None and not moved:
            continue  # unchanged address keeps its coordinates
        geocoder = geocoder or geocoder_from_config(current_app.config)
        locate_address(address, geocoder)


def clean_address_fields(address: Any, index: int, errors: FieldErrors) -> bool:
    """Check and normalise one address's fields in place (an Address or any object with its
    attributes); whether it is complete enough to keep (and to locate)."""
    for field in ("street", "street2", "city", "region", "postal_code"):
        value = errors.check(
            f"addresses-{index}-{field}",
            v.clean_limited,
            getattr(address, field),
            column_limit(field, Address),
        )
        setattr(address, field, value)
    address.country = errors.check(f"addresses-{index}-country", v.clean_country, address.country)
    address.city_key = fold(address.city) if address.city else None
    if not any((address.street, address.city, address.postal_code)):
        errors.add(f"addresses-{index}-city", "Enter at least a street, a city or a postcode.")
        return False
    lat, lon = address.latitude, address.longitude
    if (lat is None) != (lon is None):
        errors.add(f"addresses-{index}-latitude", "Give both latitude and longitude, or none.")
        return False
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        errors.add(f"addresses-{index}-latitude", "Coordinates out of range.")
        return False
    return True


def locate_address(address: Any, geocoder: Any) -> None:
    """Fill the address's coordinates (and where they come from) from the geocoder."""
    point = geocoder.locate(
        AddressQuery(
            address.street, address.city, address.region, address.postal_code, address.country
        )
    )
    address.latitude = point.latitude if point else None
    address.longitude = point.longitude if point else None
    address.geocode_source = point.source if point else None


def apply_social_links(c: Contact, errors: FieldErrors) -> None:
    for index, link in enumerate(live_rows(c.social_links)):
        platform = link.platform or (
            db.session.get(SocialPlatform, link.platform_id) if link.platform_id else None
        )
        if platform is None:
            errors.add(f"social_links-{index}-platform", "Choose the platform.")
            continue
        _refuse_retired_type(link, "platform", f"social_links-{index}-platform", errors)
        clean_link_fields(link, platform, index, errors)


def clean_link_fields(link: Any, platform: SocialPlatform, index: int, errors: FieldErrors) -> None:
    """Check one profile link's handle for its platform; fill its handle and URL in place."""
    try:
        handle, url = v.clean_social(
            link.handle,
            platform.host_list,
            platform.url_template,
            platform.handle_pattern,
            platform.name,
        )
        if len(handle) > column_limit("handle", SocialLink) or len(url) > column_limit(
            "url", SocialLink
        ):
            raise FieldError(f"Too long (at most {column_limit('url', SocialLink)} characters).")
    except FieldError as exc:
        errors.add(f"social_links-{index}-handle", str(exc))
        return
    link.handle, link.url = handle, url
