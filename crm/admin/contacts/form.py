"""The contact edit form: its sections and fields, the inline phone, address and social-link
rows, the pickers, and what the form shows before a save (defaults, locked fields)."""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask_admin.form.fields import Select2TagsField
from flask_admin.model.form import InlineFormAdmin
from flask_login import current_user
from sqlalchemy import select
from wtforms import FloatField, HiddenField, SelectField
from wtforms.validators import NumberRange, Optional

from crm.admin.fields import (
    BirthdayField,
    EnumRadioField,
    EnumSelectField,
    as_choices,
    blank_choices,
)
from crm.admin.forms import CsrfTokenRule, section
from crm.admin.pickers import (
    active_users,
    company_picker,
    contact_account_picker,
    contact_picker,
)
from crm.auth.permissions import can
from crm.extensions import db
from crm.models import (
    Address,
    AddressType,
    Category,
    ContactKind,
    ContactPreference,
    Criterion,
    CriterionScope,
    CustomerStatus,
    Gender,
    Phone,
    PhoneType,
    ProspectStatus,
    SocialLink,
    SocialPlatform,
)
from crm.services.lists.lookups import criteria_for
from crm.services.platform import access
from crm.services.platform.validation import country_choices, language_choices, timezone_names


def _lookup_choices(model: type):
    """The entries a new choice may take: the active ones (a row keeps a deactivated one
    it has: `_keep_retired_choices`)."""

    def factory():
        return db.session.scalars(
            select(model).where(model.active.is_(True)).order_by(model.position, model.name)
        ).all()

    return factory


# (relation, field) of the inline rows whose type is a lookup a list manager may retire.
_ROW_LOOKUPS = (
    ("phones", "phone_type"),
    ("addresses", "address_type"),
    ("social_links", "platform"),
)


def _keep_retired_choices(form: Any, contact: Any) -> None:
    """Deactivated lookups are offered to the rows and fields that have them (shown
    "(inactive)"), never to new ones: chosen anew they would be refused on save."""
    for relation, attr in _ROW_LOOKUPS:
        retired = {
            kind
            for row in getattr(contact, relation)
            if (kind := getattr(row, attr)) is not None and not kind.active
        }
        if retired:
            for entry in getattr(form, relation).entries:
                field = getattr(entry.form, attr)
                field.query = [*field.query_factory(), *sorted(retired, key=_lookup_label)]
    for name in ("categories", "criteria"):
        retired = [item for item in getattr(contact, name) if not item.active]
        if retired:
            field = getattr(form, name)
            field.query = [*field.query_factory(), *retired]


def _criteria_for_individuals() -> list[Criterion]:
    """As in SECUTIX, criteria differ for individuals and companies; contacts get the former."""
    return criteria_for(CriterionScope.INDIVIDUALS)


class TagNamesField(Select2TagsField):
    """The contact's tags as names; the view turns them into Tag rows (created on the fly)."""

    def populate_obj(self, obj: Any, name: str) -> None:
        pass  # ContactView._save sets contact.tags through services.lists.tags


def _lookup_label(item: Any) -> str:
    return item.name if item.active else f"{item.name} (inactive)"


class _TrackedInline(InlineFormAdmin):
    """Remembers which form entry filled which row, to put service errors on its fields.

    Flask-Admin fills the rows inside `form.populate_obj` and tells only this hook which
    entry filled which row (the view's save is not called back), so the pairs are kept for
    the request in `g`; `inline_entry` reads them back."""

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        g.setdefault("crm_inline_entries", {})[id(model)] = form


def inline_entry(row: Any) -> Any:
    """The inline form entry that filled `row` in this request's save, or None."""
    return g.get("crm_inline_entries", {}).get(id(row))


class PhoneInline(_TrackedInline):
    form_columns = ("id", "phone_type", "country_code", "number", "extension")
    form_label = "Phone"
    column_labels = {"country_code": "Country code", "phone_type": "Type"}
    form_args = {
        "phone_type": {
            "label": "Type",
            "query_factory": _lookup_choices(PhoneType),
            "get_label": _lookup_label,
            "allow_blank": False,
        },
        "country_code": {
            "label": "Country code",
            "description": "Calling code such as +44, or a country such as GB",
        },
        "number": {"label": "Number"},
        "extension": {"label": "Extension"},
    }


class AddressInline(_TrackedInline):
    form_columns = (
        "id",
        "address_type",
        "street",
        "street2",
        "city",
        "region",
        "postal_code",
        "country",
        "latitude",
        "longitude",
    )
    form_label = "Address"
    form_args = {
        "address_type": {
            "label": "Type",
            "query_factory": _lookup_choices(AddressType),
            "get_label": _lookup_label,
            "allow_blank": False,
        },
        "street2": {"label": "Street (line 2)"},
        "region": {"label": "Region / state"},
    }
    # SQLAlchemy 2.1's Float is no longer a Numeric, so Flask-Admin would silently drop
    # these columns from the form: declare the fields here.
    form_extra_fields = {
        "country": SelectField(
            "Country", choices=blank_choices(country_choices()), validators=[Optional()]
        ),
        "latitude": FloatField(
            "Latitude",
            validators=[Optional(), NumberRange(-90, 90)],
            description="Filled in from the city when left empty",
        ),
        "longitude": FloatField("Longitude", validators=[Optional(), NumberRange(-180, 180)]),
    }


class SocialLinkInline(_TrackedInline):
    form_columns = ("id", "platform", "handle")
    form_label = "Social link"
    form_args = {
        "platform": {
            "label": "Platform",
            "query_factory": _lookup_choices(SocialPlatform),
            "get_label": _lookup_label,
            "allow_blank": False,
        },
        "handle": {"label": "Profile URL or handle"},
    }


# The edit form's collapsible sections and their fields, in order.
# The profile's fields after the name, in the order the form and the details page show them.
PROFILE_FIELDS = (
    "account", "linked_accounts", "owner", "responsible", "access_class", "tags",
    "categories", "criteria", "is_primary", "customer_status", "prospect_status", "birthday",
    "gender", "email", "email_secondary", "website", "email_marketing", "do_not_email",
    "do_not_call", "contact_preference",
)  # fmt: skip
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Profile",
        (
            "kind",
            "first_name",
            "middle_name",
            "last_name",
            "title",
            *PROFILE_FIELDS,
            "active",
        ),
    ),
    ("Phones", ("phones",)),
    ("Addresses", ("addresses",)),
    ("Social media", ("social_links",)),
    (
        "Working data",
        (
            "job_title",
            "department",
            "manager",
            "certificate",
            "timezone",
            "language",
            "other_contacts",
        ),
    ),
    ("Customer settings", ("customer_currency", "payment_terms_days")),
    ("Notes", ("notes",)),
)


def form_pickers() -> dict[str, Any]:
    """The form's autocompletes (built per view: Flask-Admin binds them to it)."""
    return {
        "account": contact_account_picker("account"),
        "linked_accounts": company_picker("linked_accounts"),
        "manager": contact_picker("manager"),
    }


def _prefill_from_query_string(form: Any) -> None:
    """The new-contact form opened with what the quick-create dialog held ("Full form"):
    ?first_name=&last_name=&email=&phone=&account=<id> (an account the user sees makes the
    contact B2B). The save checks every value as usual."""
    args = request.args
    for name in ("first_name", "last_name", "email"):
        value = (args.get(name) or "").strip()
        if value:
            getattr(form, name).data = value[:254]
    account = access.get_visible_account(current_user, args.get("account"))
    if account is not None and not account.is_hidden:
        form.account.data = account
        form.kind.data = ContactKind.B2B
    phone = (args.get("phone") or "").strip()
    if phone and not form.phones.entries:
        form.phones.append_entry()
        form.phones.entries[-1].form.number.data = phone[:40]


class ContactForm:
    """The contact view's form: configuration, and what it shows before a save."""

    form_columns = ("expected_version", *(f for _, fields in SECTIONS for f in fields))
    form_create_rules = form_edit_rules = (
        CsrfTokenRule("expected_version"),
        *(section(title, *fields) for title, fields in SECTIONS),
    )
    form_extra_fields = {
        "expected_version": HiddenField(),
        "tags": TagNamesField(
            "Tags",
            save_as_list=True,
            description="Type a tag and press Enter; new tags are created",
        ),
        "kind": EnumRadioField("Contact type", enum_cls=ContactKind, default="b2c"),
        "customer_status": EnumSelectField(
            "Customer status", enum_cls=CustomerStatus, default="non_customer"
        ),
        "prospect_status": EnumSelectField(
            "Prospect status", enum_cls=ProspectStatus, default="non_prospect"
        ),
        "birthday": BirthdayField("Birthday"),
        "gender": EnumSelectField("Gender", enum_cls=Gender, allow_blank=True),
        "contact_preference": EnumSelectField(
            "Contact preference", enum_cls=ContactPreference, default="any"
        ),
        "timezone": SelectField(
            "Time zone",
            validators=[Optional()],
            choices=as_choices([("", "—"), *((t, t) for t in timezone_names())]),
        ),
        "language": SelectField(
            "Language", validators=[Optional()], choices=blank_choices(language_choices())
        ),
    }
    form_args = {
        "first_name": {"label": "First name"},
        "last_name": {"label": "Last name"},
        "middle_name": {"label": "Middle name"},
        "email": {"label": "Primary email"},
        "owner": {
            "label": "Contact owner",
            "allow_blank": True,
            "blank_text": "—",
            "query_factory": active_users,
        },
        "responsible": {
            "label": "Responsible user",
            "allow_blank": True,
            "blank_text": "—",
            "query_factory": active_users,
        },
        "access_class": {
            "label": "Access class",
            "allow_blank": True,
            "blank_text": "— (none)",
            "query_factory": lambda: access.visible_classes(current_user),
            "description": "Only users granted this class (and the owner and responsible "
            "user) see the contact",
        },
        "categories": {
            "query_factory": _lookup_choices(Category),
            "get_label": _lookup_label,
        },
        "criteria": {
            "label": "Criteria",
            "query_factory": _criteria_for_individuals,
            "get_label": _lookup_label,
        },
        "account": {"label": "Account", "validators": [Optional()]},
        "manager": {"label": "Manager"},
        "linked_accounts": {"label": "Other accounts"},
        "website": {"description": "e.g. https://example.com"},
        "customer_currency": {
            "label": "Currency",
            "description": "ISO code (EUR, USD, ...) for this consumer's orders and invoices",
        },
        "payment_terms_days": {"label": "Payment terms (days)"},
        "other_contacts": {"description": "Other ways to reach the person (Skype, ...)"},
    }
    form_widget_args = {
        "notes": {"rows": 6},
        "other_contacts": {"rows": 3},
    }
    inline_models = (PhoneInline(Phone), AddressInline(Address), SocialLinkInline(SocialLink))

    def on_form_prefill(self, form: Any, id: Any) -> None:
        model = self.get_one(id)
        if not form.expected_version.data:
            form.expected_version.data = model.version

    def _lock_owner_unless_transfer_allowed(self, form: Any) -> None:
        if not can(current_user, "contact.transfer"):
            form.owner.render_kw = {"disabled": True}
            form.owner.description = "Only managers may transfer contacts to another owner."
        if not can(current_user, "contact.assign_responsible"):
            form.responsible.render_kw = {"disabled": True}
            form.responsible.description = "Only managers may assign responsible users."
        if not can(current_user, "contact.set_class"):
            form.access_class.render_kw = {"disabled": True}
            form.access_class.description = "Only managers may change the access class."

    def create_form(self, obj: Any = None):
        form = super().create_form(obj)
        if request.method == "GET":
            form.owner.data = current_user._get_current_object()  # new contacts are mine
            _prefill_from_query_string(form)
        self._lock_owner_unless_transfer_allowed(form)
        return form

    def edit_form(self, obj: Any = None):
        form = super().edit_form(obj)
        if request.method == "GET" and obj is not None:
            form.expected_version.data = obj.version
            form.tags.data = [tag.name for tag in obj.tags]
        if obj is not None:
            _keep_retired_choices(form, obj)
        self._lock_owner_unless_transfer_allowed(form)
        return form
