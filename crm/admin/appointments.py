"""Appointments: the list (Activities > Appointments), the form with participants and the
"Send meeting confirmation by email" box, the page with its confirmation and cancel buttons,
and a contact's Appointments tab. The rules are crm.services.card.appointments'; what a user sees
goes through its `appointment_visibility`, and participants a user may not see are not
shown to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import abort, flash, g, has_request_context, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload
from wtforms.fields import BooleanField, DateTimeLocalField
from wtforms.validators import InputRequired

from crm.admin.base import CrmModelView
from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.list_filters import WhereFilter
from crm.admin.pickers import (
    company_picker,
    contact_picker,
    employees,
    user_choice,
    user_options,
)
from crm.auth.permissions import can
from crm.models import Appointment, AppointmentStatus
from crm.models.base import utcnow
from crm.services.card import appointments, invitations
from crm.services.platform import access, local_time

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def _day(value: str) -> date:
    return date.fromisoformat(value.strip())


def _day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the office's time zone, in UTC."""
    return local_time.from_local(datetime.combine(day, time.min))


def _filters() -> list[WhereFilter]:
    def build_owner(user_id: int | None) -> Any:
        owner = Appointment.owner_id
        return owner.is_(None) if user_id is None else owner == user_id

    def build_status(status: AppointmentStatus) -> Any:
        return Appointment.status == status

    def build_when(when: str) -> Any:
        now = utcnow()
        return Appointment.ends_at >= now if when == "upcoming" else Appointment.ends_at < now

    def when_choice(value: str) -> str:
        if value not in ("upcoming", "past"):
            raise ValueError(value)
        return value

    starts = Appointment.starts_at
    return [
        WhereFilter(Appointment.owner_id, "Organiser", "is", build_owner, clean=user_choice,
                    options=user_options()),
        WhereFilter(Appointment.status, "Status", "is", build_status, clean=AppointmentStatus,
                    options=AppointmentStatus.choices()),
        WhereFilter(Appointment.ends_at, "When", "is", build_when, clean=when_choice,
                    options=[("upcoming", "Upcoming"), ("past", "Past")]),
        WhereFilter(starts, "Date", "on",
                    lambda d: (starts >= _day_start(d)) & (starts < _day_start(d + timedelta(1))),
                    clean=_day),
        WhereFilter(starts, "Date", "from", lambda d: starts >= _day_start(d), clean=_day),
        WhereFilter(starts, "Date", "until",
                    lambda d: starts < _day_start(d + timedelta(1)), clean=_day),
    ]  # fmt: skip


def _when(_view: Any, _context: Any, model: Appointment, _name: str) -> str:
    starts = local_time.to_local(model.starts_at)
    ends = local_time.to_local(model.ends_at)
    if starts.date() == ends.date():
        return f"{starts:%Y-%m-%d %H:%M}–{ends:%H:%M}"
    return f"{starts:%Y-%m-%d %H:%M} – {ends:%Y-%m-%d %H:%M}"


def _local(_view: Any, _context: Any, model: Appointment, name: str) -> str:
    return local_time.local_text(getattr(model, name))


def _participants(_view: Any, _context: Any, model: Appointment, _name: str) -> Any:
    seen = g.get("crm_appointment_participants") or {}
    found = seen.get(model.id)
    if found is None:
        found = appointments.participants_seen_by(current_user, [model])[model.id]
    return participants_markup(found)


def participants_markup(found: appointments.Participants) -> Any:
    """The participants a user sees, linked, and how many others there are."""
    links = [
        Markup('<a href="{}">{}</a>').format(url_for("contact.details_view", id=c.id), c)
        for c in found.contacts
    ]
    links += [
        Markup('<a href="{}">{}</a>').format(url_for("account.details_view", id=a.id), a)
        for a in found.accounts
    ]
    links += [Markup('<span class="text-muted">{}</span>').format(u) for u in found.users]
    if found.hidden:
        links.append(Markup('<span class="text-muted">and {} other(s)</span>').format(found.hidden))
    return Markup(", ").join(links)


def _status_badge(_view: Any, _context: Any, model: Appointment, _name: str) -> Any:
    css = "badge-danger" if model.status == AppointmentStatus.CANCELLED else "badge-success"
    return Markup('<span class="badge {}">{}</span>').format(css, model.status.label)


# The service's field names as the form names them.
_FORM_FIELDS = {"contact_ids": "contacts", "account_ids": "accounts", "user_ids": "users"}


class AppointmentView(CrmModelView):
    """Appointments: upcoming ones first (the soonest first), then past ones."""

    details_template = "admin/appointment_details.html"
    column_list = ("starts_at", "subject", "place", "contacts", "status", "owner",
                   "confirmation_sent_at")  # fmt: skip
    column_labels = {
        "starts_at": "When",
        "ends_at": "Ends",
        "contacts": "Participants",
        "accounts": "Companies",
        "users": "Employees",
        "owner": "Organiser",
        "confirmation_sent_at": "Confirmation sent",
    }
    column_formatters = {
        "starts_at": _when,
        "ends_at": _local,
        "confirmation_sent_at": _local,
        "contacts": _participants,
        "status": _status_badge,
    }
    column_formatters_detail = column_formatters
    column_sortable_list = ("starts_at", "subject", "status")
    column_searchable_list = ("subject", "place")
    column_details_list = ("subject", "starts_at", "ends_at", "place", "contacts", "status",
                           "owner", "description", "confirmation_sent_at", "sequence",
                           "created_at", "updated_at")  # fmt: skip
    named_filter_urls = True
    # send_confirmation is a box of the form alone (form_extra_fields), not a column.
    form_columns = ("subject", "place", "starts_at", "ends_at", "description", "contacts",
                    "accounts", "users", "send_confirmation")  # fmt: skip
    form_extra_fields = {
        "starts_at": DateTimeLocalField(
            "Starts", [InputRequired()], format=DATETIME_FORMATS,
            render_kw={"class": "form-control"},
        ),
        "ends_at": DateTimeLocalField(
            "Ends", [InputRequired()], format=DATETIME_FORMATS,
            render_kw={"class": "form-control"},
        ),
        "send_confirmation": BooleanField(
            "Send meeting confirmation by email",
            description="After saving: one email to the participants with an address, with "
            "the invitation (.ics) attached",
        ),
    }  # fmt: skip
    form_args = {
        "users": {"query_factory": employees, "label": "Employees"},
        "contacts": {"label": "Contacts"},
        "accounts": {"label": "Companies"},
    }

    def __init__(self, **kwargs: Any):
        self.column_filters = _filters()
        self.form_ajax_refs = {
            "contacts": contact_picker("contacts"),
            "accounts": company_picker("accounts"),
        }  # fmt: skip
        super().__init__(
            Appointment, name="Appointments", endpoint="appointment", url="/admin/appointments",
            category="Activities", **kwargs,
        )  # fmt: skip

    def _allowed(self, verb: str) -> bool:
        if verb == "view":
            return can(current_user, "contact.view")
        # Cancelled, never deleted: the history of meetings stays.
        return verb != "delete" and can(current_user, "appointment.edit")

    # ---- the list -------------------------------------------------------------------------
    def get_query(self):
        query = super().get_query().filter(appointments.appointment_visibility(current_user))
        return query.options(
            selectinload(Appointment.contacts),
            selectinload(Appointment.accounts),
            selectinload(Appointment.users),
            selectinload(Appointment.owner),
        )

    def get_count_query(self):
        visible = appointments.appointment_visibility(current_user)
        return super().get_count_query().filter(visible)

    def _get_default_order(self):
        for term in appointments.upcoming_first():
            yield term, [], False

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, rows = super().get_list(
            page, sort_column, sort_desc, search, filters, execute, page_size
        )
        if execute:  # the participants each row may show, for the whole page at once
            g.crm_appointment_participants = appointments.participants_seen_by(
                current_user, list(rows)
            )
        return count, rows

    # ---- the form -------------------------------------------------------------------------
    def create_form(self, obj: Any = None):
        form = super().create_form(obj)
        if request.method == "GET":  # "New appointment" from a contact's page
            contact = access.get_visible_contact(current_user, request.args.get("contact_id"))
            if contact is not None:
                form.contacts.data = [contact]
            account = access.get_visible_account(current_user, request.args.get("account_id"))
            if account is not None and not account.is_hidden:
                form.accounts.data = [account]
        return form

    def edit_form(self, obj: Any = None):
        form = super().edit_form(obj)
        if request.method == "GET" and obj is not None:
            # Office time in the boxes; only the participants the user may see.
            form.starts_at.data = local_time.to_local(obj.starts_at).replace(tzinfo=None)
            form.ends_at.data = local_time.to_local(obj.ends_at).replace(tzinfo=None)
            seen = appointments.participants_seen_by(current_user, [obj])[obj.id]
            form.contacts.data = seen.contacts
            form.accounts.data = seen.accounts
        return form

    def _form_data(self, form: Any) -> dict[str, Any]:
        return {
            "subject": form.subject.data,
            "place": form.place.data,
            "description": form.description.data,
            "starts_at": form.starts_at.data,
            "ends_at": form.ends_at.data,
            "contact_ids": form.contacts.data or [],
            "account_ids": form.accounts.data or [],
            "user_ids": form.users.data or [],
        }

    def create_model(self, form: Any):
        saved: list[Appointment] = []

        def change() -> None:
            saved.append(appointments.save_appointment(current_user, None, self._form_data(form)))

        if not self.save_and_commit(form, change):
            return False
        self._send_if_asked(form, saved[0])
        return saved[0]

    def update_model(self, form: Any, model: Appointment) -> bool:
        if not self.save_and_commit(
            form, lambda: appointments.save_appointment(current_user, model, self._form_data(form))
        ):
            return False
        self._send_if_asked(form, model)
        return True

    def _send_if_asked(self, form: Any, model: Appointment) -> None:
        """The form's "Send meeting confirmation" box: sent after the save (which stays
        whatever the mail server says)."""
        if form.send_confirmation.data:
            _send(model, "The appointment is saved, but")

    def attach_errors(self, form: Any, errors: dict[str, list[str]]) -> None:
        super().attach_errors(form, {_FORM_FIELDS.get(k, k): v for k, v in errors.items()})

    # ---- the page and its buttons -----------------------------------------------------------
    def render(self, template: str, **kwargs: Any):
        if template == self.details_template:
            kwargs["may_edit"] = can(current_user, "appointment.edit")
            model = kwargs.get("model")
            if model is not None:  # who the mail goes to, as far as the user may see
                everyone = invitations.attendees_of(model)
                seen = appointments.participants_seen_by(current_user, [model])[model.id]
                shown = {id(p) for p in (*seen.contacts, *model.users)}
                kwargs["recipients"] = [r for r in everyone if id(r[2]) in shown]
                kwargs["other_recipients"] = len(everyone) - len(kwargs["recipients"])
                kwargs["sent_at"] = local_time.local_text(model.confirmation_sent_at)
        return super().render(template, **kwargs)

    def _appointment(self, appointment_id: int) -> Appointment:
        if not can(current_user, "appointment.edit"):
            abort(403)
        return self.get_one(appointment_id)

    @expose("/<int:appointment_id>/confirm/", methods=("POST",))
    def confirm(self, appointment_id: int):
        """Send the meeting confirmation (the cancellation, for a cancelled appointment)."""
        appointment = self._appointment(appointment_id)
        _send(appointment, "Not sent:")
        return redirect(url_for(".details_view", id=appointment_id))

    @expose("/<int:appointment_id>/cancel/", methods=("POST",))
    def cancel(self, appointment_id: int):
        """Cancel the appointment; with `notify`, mail the participants the cancellation."""
        appointment = self._appointment(appointment_id)
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            appointments.cancel_appointment(current_user, appointment)
        if not outcome:
            return redirect(url_for(".details_view", id=appointment_id))
        flash(f"Appointment {appointment.subject!r} cancelled.", "success")
        if request.form.get("notify"):
            _send(appointment, "The appointment is cancelled, but")
        return redirect(url_for(".details_view", id=appointment_id))


def _send(appointment: Appointment, refused: str) -> None:
    """Mail the confirmation and commit; a refusal is flashed after `refused`."""
    prefix = f"{refused} the confirmation was not sent: "
    with commit_or_explain(prefix=prefix, conflict_message=CHANGED_MEANWHILE) as outcome:
        report = invitations.send_confirmation(current_user, appointment)
    if not outcome:
        return
    flash(report.summary(), "success" if report.sent_to else "warning")


# ---- the contact's Appointments tab -----------------------------------------------------------
@dataclass
class AppointmentRow:
    appointment: Appointment
    when: str
    participants: Any  # Markup: those the user may see, linked


@dataclass
class AppointmentsTab:
    """What the contact's Appointments tab shows: upcoming ones, then past ones."""

    upcoming: list[AppointmentRow] = field(default_factory=list)
    past: list[AppointmentRow] = field(default_factory=list)
    may_edit: bool = False
    new_url: str = ""
    time_zone: str = "UTC"


def appointments_tab(user: Any, contact: Any) -> Any:
    """What the Appointments tab of the contact's page shows to `user`."""
    if not can(user, "contact.view"):
        return None
    found = appointments.appointments_of_contact(user, contact.id)
    seen = appointments.participants_seen_by(user, found)
    now = utcnow()
    tab = AppointmentsTab(may_edit=can(user, "appointment.edit"), time_zone=local_time.zone_name())
    for appointment in found:
        row = AppointmentRow(
            appointment,
            _when(None, None, appointment, "starts_at"),
            participants_markup(seen[appointment.id]),
        )
        (tab.upcoming if appointments.is_upcoming(appointment, now) else tab.past).append(row)
    if has_request_context():
        back = url_for("contact.details_view", id=contact.id, tab="appointments")
        back += "#tab-appointments"
        tab.new_url = url_for("appointment.create_view", contact_id=contact.id, url=back)
    return tab
