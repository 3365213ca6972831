"""The Contacts admin: list, search, details and the sectioned edit form with inline rows."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from flask import (
    abort,
    flash,
    g,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.form.fields import Select2TagsField
from flask_admin.model.form import InlineFormAdmin
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import FloatField, HiddenField, SelectField
from wtforms.validators import NumberRange, Optional

from crm.admin.base import (
    DEEP_OFFSET,
    MAX_PAGE,
    CrmModelView,
    CsrfTokenRule,
    section,
)
from crm.admin.contact_card import card_of
from crm.admin.contact_lifecycle import lifecycle_of
from crm.admin.contacts import columns as contact_columns
from crm.admin.contacts.bulk_form import OPERATIONS as BULK_OPERATIONS
from crm.admin.contacts.bulk_form import BulkForm
from crm.admin.contacts.filters import contact_filters
from crm.admin.fields import EnumRadioField, EnumSelectField, as_choices, blank_choices
from crm.admin.pickers import active_users, company_picker, contact_picker
from crm.auth.permissions import can
from crm.errors import DomainError, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import (
    Address,
    AddressType,
    Category,
    Contact,
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
from crm.models.base import utcnow
from crm.services.contacts import bulk, duplicates, search, selection
from crm.services.contacts import filters as contact_filters_where
from crm.services.contacts.saving import apply_contact_rules, delete_contact, live_rows
from crm.services.lists import segments
from crm.services.lists.tags import tags_for_names
from crm.services.merge import merging as merge
from crm.services.platform import access, counting, jobs, query_plan
from crm.services.platform.validation import country_choices, language_choices, timezone_names
from crm.services.platform.write_conflicts import refused_on_conflict
from crm.services.transfer import export_jobs, exporting
from crm.streaming import streamed_download

LIST_SCOPES = {
    "active": "Active",
    "inactive": "Inactive",
    "all": "All",
    "selected": "Selected contacts",
}
# Lists count their matches up to this many; beyond it they say "more than 10,000" and page
# with next/previous, so no page counts a million rows.
COUNT_CAP = 10_000
MERGE_AT_MOST = 10  # contacts merged in one go ("With selected > Merge…")


def _lookup_choices(model: type):
    def factory():
        return db.session.scalars(
            select(model).order_by(model.active.desc(), model.position, model.name)
        ).all()

    return factory


def _criteria_for_individuals() -> list[Criterion]:
    """As in SECUTIX, criteria differ for individuals and companies; contacts get the former."""
    return db.session.scalars(
        select(Criterion)
        .where(Criterion.applies_to.in_([CriterionScope.INDIVIDUALS, CriterionScope.BOTH]))
        .order_by(Criterion.active.desc(), Criterion.position, Criterion.name)
    ).all()


class TagNamesField(Select2TagsField):
    """The contact's tags as names; the view turns them into Tag rows (created on the fly)."""

    def populate_obj(self, obj: Any, name: str) -> None:
        pass  # ContactView._save sets contact.tags through services.tags


def _lookup_label(item: Any) -> str:
    return item.name if item.active else f"{item.name} (inactive)"


class _TrackedInline(InlineFormAdmin):
    """Remembers which form entry filled which row, to put service errors on its fields."""

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        g.setdefault("crm_inline_entries", {})[id(model)] = form


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
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Profile",
        (
            "kind",
            "first_name",
            "middle_name",
            "last_name",
            "title",
            "account",
            "linked_accounts",
            "owner",
            "responsible",
            "access_class",
            "tags",
            "categories",
            "criteria",
            "is_primary",
            "customer_status",
            "prospect_status",
            "birthday",
            "gender",
            "email",
            "email_secondary",
            "website",
            "email_marketing",
            "do_not_email",
            "do_not_call",
            "contact_preference",
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


class ContactView(CrmModelView):
    permission_prefix = "contact"
    list_template = "admin/contact_list.html"
    details_template = "admin/contact_details.html"
    create_template = "admin/contact_create.html"
    edit_template = "admin/contact_edit.html"

    # Every column a user may show; each request shows its choice (contact_columns).
    column_list = tuple(contact_columns.COLUMNS)
    column_labels = {
        "last_name": "Name",
        "account": "Account",
        "phones": "Phone",
        "customer_status": "Customer status",
        "prospect_status": "Prospect status",
        "email_secondary": "Secondary email",
        "email_marketing": "Accepts email marketing",
        "do_not_email": "Do not send emails",
        "do_not_call": "Do not call",
        "is_primary": "Primary contact",
        "linked_accounts": "Other accounts",
        "kind": "Contact type",
        "job_title": "Job title",
        "updated_at": "Updated",
        "created_at": "Created",
        "contact_preference": "Contact preference",
        "other_contacts": "Other contacts",
        "title": "Title (Mr, Ms, Dr...)",
    }
    column_formatters = contact_columns.FORMATTERS
    column_sortable_list = contact_columns.SORTABLE
    column_default_sort = [("last_name", False), ("first_name", False), ("id", False)]
    # Enables Flask-Admin's search box; the search itself is services.search.
    column_searchable_list = ("last_name",)
    # Filters are built per view in __init__ (contact_filters()) plus these columns.
    # No "active" filter: the Active / Inactive / All tabs are that filter (a second one
    # could only contradict them).
    _column_filters = ("email_marketing", "do_not_email", "do_not_call", "created_at", "updated_at")
    named_filter_urls = True  # stable links: ?flt0_tag_is=VIP

    column_details_list = (
        "kind",
        "title",
        "first_name",
        "middle_name",
        "last_name",
        "account",
        "linked_accounts",
        "owner",
        "responsible",
        "access_class",
        "tags",
        "categories",
        "criteria",
        "is_primary",
        "customer_status",
        "prospect_status",
        "birthday",
        "gender",
        "email",
        "email_secondary",
        "website",
        "email_marketing",
        "do_not_email",
        "do_not_call",
        "contact_preference",
        "job_title",
        "department",
        "manager",
        "certificate",
        "timezone",
        "language",
        "other_contacts",
        "notes",
        "active",
        "customer_number",
        "customer_currency",
        "payment_terms_days",
        "created_at",
        "updated_at",
        "version",
    )
    column_formatters_detail = {
        "tags": contact_columns.FORMATTERS["tags"],
        "account": contact_columns.FORMATTERS["account"],
        "birthday": contact_columns.FORMATTERS["birthday"],
        "language": lambda v, c, m, n: dict(language_choices()).get(
            (m.language or "").split("-")[0], m.language or ""
        ),
        "website": lambda v, c, m, n: (
            Markup('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>').format(
                m.website, m.website
            )
            if m.website
            else ""
        ),
    }
    # The list calls the last-name column "Name"; the details page names every field.
    _detail_labels = {
        "last_name": "Last name",
        "first_name": "First name",
        "middle_name": "Middle name",
        "timezone": "Time zone",
        "customer_number": "Customer number",
        "customer_currency": "Customer currency",
        "payment_terms_days": "Payment terms (days)",
    }

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
        "birthday": {
            "description": "Day and month only? Use the year 1604, as phones' address books "
            "do: it is shown as '17 May'"
        },
        "other_contacts": {"description": "Other ways to reach the person (Skype, ...)"},
    }
    form_widget_args = {
        "notes": {"rows": 6},
        "other_contacts": {"rows": 3},
    }
    inline_models = (PhoneInline(Phone), AddressInline(Address), SocialLinkInline(SocialLink))

    def __init__(self, **kwargs: Any):
        self.form_ajax_refs = {
            "account": company_picker("account"),
            "linked_accounts": company_picker("linked_accounts"),
            "manager": contact_picker("manager"),
        }
        self.column_filters = [*contact_filters(), *self._column_filters]
        super().__init__(
            Contact,
            name="Contacts",
            endpoint="contact",
            url="contact",
            category="Contacts",
            **kwargs,
        )

    # ---- what the user may see -------------------------------------------------------
    def get_details_columns(self):
        return [
            (c, self._detail_labels.get(c, label)) for c, label in super().get_details_columns()
        ]

    def _list_scope(self) -> str | None:
        return g.get("crm_contact_scope")

    def _scoped(self, query, scope: str | None = None, use_index: bool = True):
        query = query.filter(access.contact_visibility(current_user, use_index=use_index))
        scope = scope or self._list_scope()
        active = Contact.active if use_index else access.unindexed(Contact.__table__.c.active)
        if scope == "active":
            query = query.filter(active.is_(True))
        elif scope == "inactive":
            query = query.filter(active.is_(False))
        elif scope == "selected":
            query = query.filter(contact_filters_where.in_selection_of(current_user.id))
        return query

    def merge_successor(self, pk: int) -> tuple[Any, Any] | None:
        return merge.merge_successor(current_user, Contact, pk)

    def get_query(self):
        return self._scoped(super().get_query()).options(
            selectinload(Contact.account),
            selectinload(Contact.owner),
            selectinload(Contact.phones).selectinload(Phone.phone_type),
        )

    def get_count_query(self):
        return self._scoped(super().get_count_query())

    def matching_query(
        self,
        search_text: str | None,
        filters: Any,
        scope: str | None = None,
        use_index: bool = True,
        walks_index: bool = False,
    ):
        """The contacts a list shows for this search, filters and scope: gated, unordered.
        Bulk actions on "all matching" use the same query as the list. `use_index=False`
        phrases the gate and scope so the planner drives by the filters' or sort's index;
        which filter or search may drive is decided by services.query_plan."""
        with query_plan.planning(walks_index=walks_index) as plan:
            query = self._matching(search_text, filters, scope, use_index)
            if plan.decide():
                query = self._matching(search_text, filters, scope, use_index)
        return query

    def _matching(self, search_text: str | None, filters: Any, scope: str | None, use_index):
        query = self._scoped(db.session.query(Contact), scope, use_index)
        clause = search.contact_search_clause(search_text)
        if clause is not None:
            query = query.filter(clause)
        if filters and self._filters:
            query, _, _, _ = self._apply_filters(query, None, {}, {}, filters)
        return query

    def get_list(
        self, page, sort_column, sort_desc, search_text, filters, execute=True, page_size=None
    ):
        page = max(0, min(page or 0, MAX_PAGE))
        # Count up to the cap, driven by the filters' indexes (or just the first rows).
        counted = self.matching_query(search_text, filters, use_index=False)
        g.crm_list_count = counting.list_count(
            counted.with_entities(Contact.id).statement, COUNT_CAP
        )
        g.crm_count_over_cap = not g.crm_list_count.exact or g.crm_list_count.value > COUNT_CAP
        count = g.crm_list_count.value if g.crm_list_count.exact else None
        # Many matches sorted by name: walk the (live, active, name) index and stop after a
        # page. Few matches, or another sort: let the filter's or the sort's index drive.
        scope = self._list_scope() or "active"
        by_name = sort_column is None or sort_column == "last_name"
        walk_name_index = g.crm_count_over_cap and by_name and scope in ("active", "inactive")
        # Many matches: the name's or the sort's index is walked for a page.
        query = self.matching_query(
            search_text, filters, use_index=walk_name_index, walks_index=g.crm_count_over_cap
        )
        rank = search.search_rank(search_text) if sort_column is None else None
        if rank is not None and not g.crm_count_over_cap:
            query = query.order_by(rank)  # exact, then prefix matches, then the rest by name
        query, _ = self._apply_sorting(query, {}, sort_column, sort_desc)
        if sort_column is not None and sort_column != "last_name":
            # Ties in email/status/date: stable pages, in the sort's direction so that one
            # index, read backwards for a descending sort, serves both.
            query = query.order_by(Contact.id.desc() if sort_desc else Contact.id)
        query = self._apply_pagination(query, page, page_size)
        if execute and page * (page_size or self.page_size) >= DEEP_OFFSET:
            return count, self.page_rows(query, self._with_list_rows(db.session.query(Contact)))
        query = self._with_list_rows(query)
        return count, (query.all() if execute else query)

    def _with_list_rows(self, query):
        """What the shown columns read besides the contact: loaded in a few queries."""
        return query.options(*contact_columns.loader_options(self._shown_columns()))

    # ---- the user's choice of columns ------------------------------------------------
    def _shown_columns(self) -> list[str]:
        return contact_columns.chosen(request.args) if has_request_context() else []

    def _shown_list_columns(self) -> list[tuple[str, str]]:
        return [(c, contact_columns.COLUMNS[c]) for c in self._shown_columns()]

    def _get_column_by_idx(self, idx: int | None):
        """Sort links number the columns shown: `?sort=2` is the third of them."""
        columns = self._shown_list_columns()
        if idx is None or idx < 0 or idx >= len(columns):
            return None
        return columns[idx]

    def render(self, template: str, **kwargs: Any):
        model = kwargs.get("model")
        if template == self.details_template and model is not None:
            allowed = can(current_user, "contact.merge")
            kwargs["merges"] = merge.merges_of("contact", model.id) if allowed else []
            kwargs["lifecycle"] = lifecycle_of(current_user, model)
            kwargs["card"] = card_of(current_user, model, request.args)
        if template == self.list_template and "list_columns" in kwargs:
            kwargs["list_columns"] = self._shown_list_columns()
            shown = set(self._shown_columns())
            kwargs["column_choices"] = [
                (name, label, name in shown) for name, label in contact_columns.COLUMNS.items()
            ]
        return super().render(template, **kwargs)

    def search_placeholder(self) -> str:
        return "Name, email, phone or company"

    def _get_filter_groups(self):
        """The filter menu, with options (users, categories, ...) read at each request:
        Flask-Admin would compute them once, when the app starts."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for index, flt in enumerate(self._filters or []):
            options = flt.get_options(self)
            groups.setdefault(str(flt.name), []).append(
                {
                    "index": index,
                    "arg": self.get_filter_arg(index, flt),
                    "operation": str(flt.operation()),
                    "options": [(k, str(v)) for k, v in options] if options else None,
                    "type": flt.data_type,
                }
            )
        return groups or None

    @expose("/")
    def index_view(self):
        scope = request.args.get("show", "active")
        g.crm_contact_scope = scope if scope in LIST_SCOPES else "active"
        self._template_args["list_scopes"] = LIST_SCOPES
        self._template_args["list_scope"] = g.crm_contact_scope
        self._template_args["selection_count"] = selection.count(current_user)
        self._template_args["list_query"] = segments.clean_list_query(
            request.query_string.decode("utf-8", "replace")
        )
        self._template_args["can_save_segment"] = can(current_user, "segment.manage")
        if "col" in request.args:  # the Columns form: one short `cols` argument instead
            return redirect(self._columns_url(request.args.getlist("col")))
        self._template_args["default_columns_url"] = self._columns_url(contact_columns.DEFAULT)
        return super().index_view()

    def _columns_url(self, columns) -> str:
        """This list's URL showing `columns` (sorting and paging start again)."""
        args = [
            (k, v)
            for k, v in request.args.items(multi=True)
            if k not in ("col", "cols", "sort", "desc", "page")
        ]
        cols = contact_columns.argument(columns)
        return url_for(".index_view") + "?" + urlencode(args + ([("cols", cols)] if cols else []))

    # ---- saving ----------------------------------------------------------------------
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
        self._lock_owner_unless_transfer_allowed(form)
        return form

    def edit_form(self, obj: Any = None):
        form = super().edit_form(obj)
        if request.method == "GET" and obj is not None:
            form.expected_version.data = obj.version
            form.tags.data = [tag.name for tag in obj.tags]
            if obj.account is not None and obj.account.is_hidden:
                form.account.data = None  # a B2C contact's own account is not a company
        self._lock_owner_unless_transfer_allowed(form)
        return form

    def create_model(self, form: Any):
        model = self.build_new_instance()
        return model if self._save(form, model, is_new=True) else False

    def update_model(self, form: Any, model: Contact) -> bool:
        return self._save(form, model, is_new=False)

    def _save(self, form: Any, model: Contact, *, is_new: bool) -> bool:
        previous_owner_id = model.owner_id
        try:
            expected = int(form.expected_version.data) if form.expected_version.data else None
        except ValueError:
            expected = -1
        if "owner" not in request.form:
            # A disabled owner field is not posted: keep the owner (the creator for a new one).
            form.owner.data = current_user._get_current_object() if is_new else model.owner
        if "responsible" not in request.form:
            form.responsible.data = None if is_new else model.responsible
        if "access_class" not in request.form:  # not posted: unchanged (or the account's)
            form.access_class.data = None if is_new else model.access_class
        session = db.session
        try:
            with refused_on_conflict("contact"):
                with session.no_autoflush:
                    form.populate_obj(model)
                    if is_new:
                        session.add(model)
                    apply_contact_rules(
                        current_user,
                        model,
                        is_new=is_new,
                        previous_owner_id=previous_owner_id,
                        expected_version=expected,
                    )
                    asked = not request.form.get("save_anyway")
                    if is_new and asked and self._warn_duplicates(model):
                        session.rollback()
                        return False
                    if "tags" in request.form:  # a post without the field leaves tags alone
                        names = form.tags.data or []
                        # After the checks: creating tags flushes, and the contact is complete now.
                        model.tags = tags_for_names(names) if names else []
                session.commit()
        except ValidationFailed as exc:
            self._attach_errors(form, model, exc.errors)
            session.rollback()
            flash("Nothing was saved: please correct the fields marked below.", "error")
            return False
        except StaleEditError as exc:
            session.rollback()
            form.expected_version.errors = [exc.message]
            flash(exc.message, "error")
            return False
        except DomainError as exc:
            session.rollback()
            flash(exc.message, "error")
            return False
        return True

    def _warn_duplicates(self, contact: Contact) -> bool:
        """Whether the new contact looks like existing ones: then they are listed above the
        form (with "Save anyway") and nothing is saved yet."""
        phones = [phone.e164 for phone in live_rows(contact.phones)]
        found = duplicates.matches_for(current_user, contact, phones)
        if not found:
            return False
        self._template_args["duplicate_matches"] = [
            {
                "id": match.id,
                "name": match.full_name,
                "account": match.account.name
                if match.account is not None and not match.account.is_hidden
                else None,
                "email": match.email,
                "reasons": reasons,
            }
            for match, reasons in found
        ]
        flash(
            "Nothing was saved yet: this contact looks like one you already have (see below). "
            "Open it to update it instead, or choose Save anyway.",
            "warning",
        )
        return True

    def _attach_errors(self, form: Any, contact: Contact, errors: dict[str, list[str]]) -> None:
        entries = g.get("crm_inline_entries", {})
        for key, messages in errors.items():
            target = None
            match = re.fullmatch(r"(phones|addresses|social_links)-(\d+)-(\w+)", key)
            if match:
                relation, index, field_name = match.groups()
                rows = live_rows(getattr(contact, relation))
                entry = entries.get(id(rows[int(index)])) if int(index) < len(rows) else None
                target = getattr(entry, field_name, None) if entry is not None else None
                if target is None:
                    target = getattr(form, relation, None)
            else:
                target = getattr(form, key, None)
            if target is None:
                for message in messages:
                    flash(message, "error")
                continue
            target.errors = [*list(target.errors or []), *messages]

    def delete_record(self, model: Contact) -> None:
        delete_contact(current_user, model)

    # ---- actions on the ticked rows ---------------------------------------------------
    @property
    def can_bulk_edit(self) -> bool:
        return can(current_user, "contact.bulk_edit")

    @property
    def can_merge(self) -> bool:
        return can(current_user, "contact.merge")

    def is_action_allowed(self, name: str) -> bool:
        if name in ("select", "unselect", "bulk"):
            return self.can_bulk_edit
        if name == "merge":
            return self.can_merge
        return super().is_action_allowed(name)

    @action("select", "Add to selected contacts")
    def action_select(self, ids: list[str]) -> None:
        added = selection.add(current_user, ids)
        db.session.commit()
        flash(
            f"{added} contact(s) added to your selection ({selection.count(current_user)} "
            "selected).",
            "success",
        )

    @action("unselect", "Remove from selected contacts")
    def action_unselect(self, ids: list[str]) -> None:
        removed = selection.remove(current_user, ids)
        db.session.commit()
        flash(f"{removed} contact(s) removed from your selection.", "success")

    @action("bulk", "Tag, assign, add to a list, export…")
    def action_bulk(self, ids: list[str]):
        wanted = ",".join(str(int(i)) for i in ids if str(i).isdigit())
        return redirect(url_for(".bulk_view", target="ids", ids=wanted))

    @action("merge", "Merge…")
    def action_merge(self, ids: list[str]):
        """The merge page for the ticked contacts (two to ten of those the user sees)."""
        wanted = {int(i) for i in ids if str(i).isdigit()}
        seen = (
            sorted(
                db.session.scalars(
                    select(Contact.id).where(
                        Contact.id.in_(wanted), access.contact_visibility(current_user)
                    )
                )
            )
            if 2 <= len(wanted) <= MERGE_AT_MOST
            else []
        )
        if len(seen) < 2 or len(seen) != len(wanted):
            flash("Tick two to ten contacts to merge.", "error")
            return None
        return redirect(url_for("merge.contacts", ids=seen))

    @action(
        "delete",
        "Delete (to the trash)",
        "Move the selected contacts to the trash? A manager can restore them from there.",
    )
    def action_delete(self, ids: list[str]) -> None:
        wanted = [int(i) for i in ids if str(i).isdigit()]
        target = select(Contact.id).where(Contact.id.in_(wanted))
        self._run_bulk(lambda: bulk.move_to_trash(current_user, target))

    def _run_bulk(self, run) -> bool:
        """One bulk action (or several chosen together), one transaction; their reports (or
        the refusal) as messages."""
        try:
            outcome = run()
            results = outcome if isinstance(outcome, list) else [outcome]
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            for messages in exc.errors.values():
                for message in messages:
                    flash(message, "error")
            return False
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return False
        for result in results:
            flash(result.message, "success")
        return True

    # ---- bulk actions on a selection, ticked rows or everything matching ---------------
    def _bulk_target(self, args) -> tuple[Any, str]:
        """(a select of contact ids, a description) for the bulk page's target."""
        kind = args.get("target", "")
        if kind == "selection":
            return selection.selected_ids(current_user), "your selected contacts"
        if kind == "ids":
            wanted = [int(i) for i in args.get("ids", "").split(",") if i.isdigit()][:1000]
            return select(Contact.id).where(Contact.id.in_(wanted)), "the ticked contacts"
        if kind == "matching":
            scope = args.get("show", "active")
            scope = scope if scope in LIST_SCOPES else "active"
            g.crm_contact_scope = scope
            query = self.matching_query(args.get("search"), self._get_list_filter_args(), scope)
            return query.with_entities(Contact.id).order_by(None), "all contacts matching the list"
        abort(404)

    @expose("/bulk/", methods=("GET", "POST"))
    def bulk_view(self):
        if not self.can_bulk_edit:
            abort(403)
        target, described = self._bulk_target(request.args)
        total = bulk.count(current_user, target)
        form = BulkForm(request.form if request.method == "POST" else None)
        form.fill_choices()
        if request.method == "POST" and form.validate():
            if form.chosen == ["export"]:
                return self._export(target, form.export_format.data, described)
            if self._run_bulk(lambda: form.run(current_user, target)):
                return redirect(self._return_url(request.args))
        return self.render(
            "admin/contact_bulk.html",
            form=form,
            total=total,
            described=described,
            return_url=self._return_url(request.args),
            param_of={key: param for key, (_, _, param) in BULK_OPERATIONS.items()},
        )

    def _return_url(self, args) -> str:
        if args.get("target") == "selection":
            return url_for(".index_view", show="selected")
        kept = {k: v for k, v in args.items() if k not in ("target", "ids")}
        return url_for(".index_view", **kept)

    def _export(self, target, file_format: str, described: str):
        """The download of the target's contacts in the chosen format, streamed as it is read
        (XLSX once written to a temporary file); the export is in the history."""
        if not can(current_user, "contact.export"):
            abort(403)
        chosen = exporting.FORMATS[file_format]
        if request.args.get("target") == "matching":
            kept = {k: v for k, v in request.args.items() if k != "target"}
            described += f" ({urlencode(kept)})" if kept else ""
        total = exporting.count_exported(current_user, target)
        if export_jobs.runs_in_background(total):
            job = export_jobs.start_export(current_user, target, file_format, described)
            db.session.commit()
            try:
                jobs.submit("export", job.id)
            except jobs.JobQueueDown as exc:
                flash(exc.message, "error")
                return redirect(url_for("exports.job", export_id=job.id))
            flash(
                f"Exporting {total:,} contacts to {chosen.name} in the background: the file "
                "will be ready to download on this page (and under Contacts > Exports).",
                "success",
            )
            return redirect(url_for("exports.job", export_id=job.id))
        exporting.record_export(current_user, target, file_format, described)
        db.session.commit()
        body = exporting.streamed(current_user, target, file_format)
        name = f"contacts-{utcnow().strftime('%Y%m%d-%H%M')}.{chosen.key}"
        return streamed_download(body, mimetype=chosen.mimetype, filename=name)

    @expose("/views/save/", methods=("POST",))
    def save_view_view(self):
        query = request.form.get("query", "")
        try:
            saved = segments.save_view(current_user, request.form.get("name", ""), query)
            db.session.commit()
        except ValidationFailed:
            db.session.rollback()
            flash("Give the view a name to save it.", "error")
            return redirect(url_for(".index_view") + "?" + segments.clean_list_query(query))
        flash(f"View '{saved.name}' saved: find it under My views.", "success")
        return redirect(url_for(".index_view") + "?" + saved.query)

    @expose("/views/delete/", methods=("POST",))
    def delete_view_view(self):
        deleted = segments.delete_view(current_user, request.form.get("id", type=int) or 0)
        db.session.commit()
        flash("View deleted." if deleted else "No such view.", "success" if deleted else "error")
        return redirect(url_for(".index_view"))

    @expose("/selection/clear/", methods=("POST",))
    def clear_selection_view(self):
        if not self.can_bulk_edit:
            abort(403)
        removed = selection.clear(current_user)
        db.session.commit()
        flash(f"Selection cleared ({removed} contact(s)).", "success")
        return redirect(url_for(".index_view", show="selected"))
