"""Lookup lists (phone, address and social platform types): rules for changing them."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from crm.auth.permissions import Actor, can
from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Address, AddressType, Phone, PhoneType, SocialLink, SocialPlatform
from crm.services import validation as v

# Which rows use each lookup type, and through which column.
USAGE = {
    PhoneType: (Phone, Phone.phone_type_id, "phone number(s)"),
    AddressType: (Address, Address.address_type_id, "address(es)"),
    SocialPlatform: (SocialLink, SocialLink.platform_id, "social link(s)"),
}


def usage_count(item: object) -> int:
    model, column, _ = USAGE[type(item)]
    return db.session.scalar(select(func.count()).select_from(model).where(column == item.id))


def save_lookup(actor: Actor, item: PhoneType | AddressType | SocialPlatform) -> None:
    """Clean and check a new or edited lookup entry; raises ValidationFailed."""
    # No autoflush: a new item already added to the session would be inserted before it is
    # checked (and then found as its own duplicate, or refused by the unique index).
    with db.session.no_autoflush:
        _save_lookup(actor, item)


def _save_lookup(actor: Actor, item: PhoneType | AddressType | SocialPlatform) -> None:
    if not can(actor, "lookup.manage"):
        raise PermissionDenied("Only list managers may change lookup lists.")
    errors: dict[str, list[str]] = {}
    item.name = v.clean_text(item.name) or ""
    limit = type(item).__table__.c["name"].type.length
    if not item.name:
        errors["name"] = ["A name is required."]
    elif len(item.name) > limit:
        errors["name"] = [f"Too long (at most {limit} characters)."]
    else:
        model = type(item)
        query = select(model.id).where(func.lower(model.name) == item.name.lower())
        if item.id is not None:
            query = query.where(model.id != item.id)
        clash = db.session.scalar(query.limit(1))
        if clash is not None:
            errors["name"] = [f"{item.name!r} already exists."]
    if isinstance(item, SocialPlatform):
        item.hosts = ",".join(h.strip().lower() for h in (item.hosts or "").split(",") if h.strip())
        item.url_template = v.clean_text(item.url_template) or ""
        if item.url_template and "{handle}" not in item.url_template:
            errors["url_template"] = ["The profile URL pattern must contain {handle}."]
        elif item.url_template:
            try:
                v.clean_url(item.url_template.replace("{handle}", "x"))
            except v.FieldError as exc:
                errors["url_template"] = [str(exc)]
        item.handle_pattern = v.clean_text(item.handle_pattern) or ""
        if item.handle_pattern:
            try:
                re.compile(item.handle_pattern)
            except re.error as exc:
                errors["handle_pattern"] = [f"Not a valid regular expression: {exc}"]
    if item.position is None:
        item.position = 0
    if errors:
        raise ValidationFailed(errors)


def delete_lookup(actor: Actor, item: PhoneType | AddressType | SocialPlatform) -> None:
    """A type in use cannot be deleted; it can be deactivated instead."""
    if not can(actor, "lookup.manage"):
        raise PermissionDenied("Only list managers may change lookup lists.")
    used = usage_count(item)
    if used:
        _, _, what = USAGE[type(item)]
        raise DomainError(
            f"{item.name!r} is used by {used} {what} and cannot be deleted. "
            "Untick 'Active' instead: it then stays on existing records but is no longer offered."
        )
    db.session.delete(item)
    db.session.flush()
