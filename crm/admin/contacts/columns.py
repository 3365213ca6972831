"""The contact list's columns: which a user may show, their labels and cells, and the
user's choice, carried in the list URL (`?cols=account,email,tags`) so that links and
saved views keep it. The name is always shown, first; the others in the order below."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import url_for
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from crm.models import Address, Contact, Phone
from crm.services.platform.local_time import local_text, to_local
from crm.services.platform.local_time import today as local_today
from crm.services.platform.validation import birthday_shown

# Every column a user may show, in display order, with its header.
COLUMNS: dict[str, str] = {
    "last_name": "Name",
    "account": "Account",
    "job_title": "Job title",
    "email": "Email",
    "phones": "Phone",
    "addresses": "City",
    "tags": "Tags",
    "categories": "Categories",
    "owner": "Owner",
    "responsible": "Responsible",
    "access_class": "Access class",
    "customer_status": "Customer status",
    "prospect_status": "Prospect status",
    "kind": "Contact type",
    "created_at": "Created",
    "updated_at": "Updated",
}
DEFAULT = (
    "last_name",
    "account",
    "email",
    "tags",
    "phones",
    "owner",
    "customer_status",
    "updated_at",
)
# Sortable columns (each backed by an index) and what they sort by.
SORTABLE = (
    ("last_name", ("last_name", "first_name")),
    "email",
    "customer_status",
    "prospect_status",
    "created_at",
    "updated_at",
)


def chosen(args: Mapping[str, str]) -> list[str]:
    """The columns the list URL asks for (unknown names dropped), else the default."""
    raw = args.get("cols", "")
    picked = {name.strip() for name in raw.split(",") if name.strip()}
    if not picked & set(COLUMNS):
        return list(DEFAULT)
    return [name for name in COLUMNS if name in picked or name == "last_name"]


def argument(columns: Iterable[str]) -> str:
    """The `cols` value for these columns ("" for the default set)."""
    names = [c for c in COLUMNS if c in set(columns)]
    return "" if names == list(DEFAULT) else ",".join(names)


def loader_options(columns: Iterable[str]) -> list[Any]:
    """Eager loads for the related rows the shown columns read (a few queries a page)."""
    columns = set(columns) | {"account"}  # the name link reads nothing else
    options: list[Any] = [selectinload(Contact.account)]
    if "owner" in columns:
        options.append(selectinload(Contact.owner))
    if "responsible" in columns:
        options.append(selectinload(Contact.responsible))
    if "phones" in columns:
        options.append(selectinload(Contact.phones).selectinload(Phone.phone_type))
    if "addresses" in columns:
        options.append(selectinload(Contact.addresses))
    if "tags" in columns:
        options.append(selectinload(Contact.tags))
    if "access_class" in columns:
        options.append(selectinload(Contact.access_class))
    if "categories" in columns:
        options.append(selectinload(Contact.categories))
    return options


def _name_link(view: Any, context: Any, model: Contact, _name: str) -> Markup:
    # Carry the list's URL (search, filters, page) so Back and Save return to it.
    url = url_for(".details_view", id=model.id, url=context.get("return_url"))
    return Markup('<a href="{}">{}</a>').format(url, model.full_name)


def _tag_links(_view: Any, _context: Any, model: Contact, _name: str) -> Markup:
    links = [
        Markup('<a class="badge badge-pill badge-secondary mr-1" href="{}">{}</a>').format(
            url_for(".index_view", flt0_tag_is=tag.name, show="all"), tag.name
        )
        for tag in model.tags
    ]
    return Markup("").join(links)


def _first_phone(_view: Any, _context: Any, model: Contact, _name: str) -> str:
    return model.phones[0].display if model.phones else ""


def _account_name(_view: Any, _context: Any, model: Contact, _name: str) -> str:
    if model.account is None or model.account.is_hidden:
        return ""
    return model.account.name


def _first_city(_view: Any, _context: Any, model: Contact, _name: str) -> str:
    address: Address | None = model.addresses[0] if model.addresses else None
    if address is None:
        return ""
    return ", ".join(part for part in (address.city, address.country) if part)


def _category_names(_view: Any, _context: Any, model: Contact, _name: str) -> str:
    return ", ".join(category.name for category in model.categories)


def _moment(view: Any, context: Any, model: Contact, name: str) -> Markup:
    """A time as a list reads it: "14:30" today, "7 Dec" this year, "7 Dec 2025" before,
    in the office's time zone; the whole time to the minute on hover."""
    moment = to_local(getattr(model, name))
    if moment is None:
        return Markup("")
    today = local_today()
    if moment.date() == today:
        short = moment.strftime("%H:%M")
    elif moment.year == today.year:
        short = f"{moment.day} {moment:%b}"
    else:
        short = f"{moment.day} {moment:%b %Y}"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        moment.isoformat(timespec="minutes"), local_text(moment), short
    )


def _email(_view: Any, _context: Any, model: Contact, _name: str) -> Markup:
    # Long addresses are cut with an ellipsis rather than wrapped; hovering shows them whole.
    if not model.email:
        return Markup("")
    return Markup('<span class="cell-clip" title="{}">{}</span>').format(model.email, model.email)


def _birthday(_view: Any, _context: Any, model: Contact, _name: str) -> str:
    return birthday_shown(model.birthday)


FORMATTERS = {
    "last_name": _name_link,
    "birthday": _birthday,
    "account": _account_name,
    "phones": _first_phone,
    "addresses": _first_city,
    "tags": _tag_links,
    "categories": _category_names,
    "email": _email,
    "created_at": _moment,
    "updated_at": _moment,
}
