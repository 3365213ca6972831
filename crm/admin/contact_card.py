"""The contact card: the tabs of a contact's page (24SevenOffice's upper and lower tabs) and the
small forms on them. `card_of` gathers what each tab shows to the user; `ContactCardView`
takes the forms' POSTs (notes, comments, interactions, connections) and answers the activity
feed's request for new comments. Every route checks its right and the contact's visibility;
the work is crm.services'.

A form refused by the rules comes back filled in, with its messages on the fields: the
POST keeps what was typed in the session for the next page view of the card."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import flash, jsonify, redirect, request, session, url_for
from flask_admin import expose
from flask_login import current_user

from crm.admin.appointments import appointments_tab
from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.contact_emails import campaigns_tab, emails_tab
from crm.admin.contact_files import files_tab
from crm.admin.maps import places_of
from crm.admin.pages import ContactPageActions
from crm.admin.pickers import active_users
from crm.admin.tasks_tab import tasks_tab
from crm.auth.permissions import can
from crm.models import Contact, Direction, InteractionStatus, Medium, User
from crm.services.card import activity, connections, history, interactions, messages, notes
from crm.services.platform import access
from crm.services.platform.local_time import local_text

TABS = (
    ("profile", "Profile"),
    ("activity", "Activity"),
    ("history", "History"),
    ("notes", "Notes"),
    ("interactions", "Interactions"),
    ("tasks", "Tasks"),
    ("appointments", "Appointments"),
    ("files", "Files"),
    ("emails", "Emails"),
    ("campaigns", "Campaigns"),
    ("connections", "Connections"),
    ("sales", "Deals & orders"),
)
_KEPT_FORM = "contact_card_form"
# At most this much typed text is kept for a refused form (in the session cookie). Longer
# texts are refused by the browser first: the fields carry the rules' maxlength.
KEPT_CHARACTERS = 2_000


@dataclass
class KeptForm:
    """A refused form's values and messages, shown again on the card."""

    name: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def value(self, form: str, name: str, default: str = "") -> str:
        return self.values.get(name, default) if form == self.name else default

    def error(self, form: str, name: str) -> list[str]:
        return self.errors.get(name, []) if form == self.name else []


@dataclass
class ContactCard:
    tab: str
    tabs: tuple[tuple[str, str], ...]
    kept: KeptForm
    history: history.HistoryPage | None = None
    notes: list[Any] = field(default_factory=list)
    changeable_notes: set[int] = field(default_factory=set)
    may_write_note: bool = False
    feed: list[activity.FeedItem] = field(default_factory=list)
    last_comment_id: int = 0
    may_comment: bool = False
    interactions: list[Any] = field(default_factory=list)
    may_register: bool = False
    connections: list[connections.Link] = field(default_factory=list)
    connection_types: list[Any] = field(default_factory=list)
    may_connect: bool = False
    users: list[User] = field(default_factory=list)
    files: Any = None
    tasks: Any = None
    appointments: Any = None
    emails: Any = None
    campaigns: Any = None
    reach: dict[str, Any] = field(default_factory=dict)
    initials: str = ""
    places: list[dict[str, Any]] = field(default_factory=list)
    media: list[Medium] = field(default_factory=lambda: list(Medium))
    directions: list[Direction] = field(default_factory=lambda: list(Direction))
    statuses: list[InteractionStatus] = field(default_factory=lambda: list(InteractionStatus))


def card_of(user: Any, contact: Contact, args: Any) -> ContactCard:
    """What the contact's tabs show to `user`; `args` are the page's query arguments (the
    open tab, the history's date range and page)."""
    tab = args.get("tab", "profile")
    card = ContactCard(tab if tab in dict(TABS) else "profile", TABS, _kept_form())
    since, until = history.parse_day(args.get("since")), history.parse_day(args.get("until"))
    page = access.record_id(args.get("history_page")) or 1
    card.history = history.contact_history(user, contact.id, since, until, min(page, 10_000))
    card.notes = notes.notes_of_contact(user, contact.id)
    card.may_write_note = can(user, "note.write")
    card.changeable_notes = {n.id for n in card.notes if notes.may_change(user, n)}
    card.feed = activity.feed(user, contact.id, card.history)
    card.last_comment_id = max((i.comment_id or 0 for i in card.feed), default=0)
    card.may_comment = can(user, "activity.comment")
    card.interactions = interactions.interactions_of_contact(user, contact.id)
    card.may_register = can(user, "interaction.edit")
    card.connections = connections.connections_of(user, contact)
    card.may_connect = can(user, "connection.edit")
    if card.may_connect:
        card.connection_types = connections.active_types()
    if card.may_register:
        card.users = active_users()
    card.reach = messages.reach_of(user, contact)
    card.initials = initials_of(contact)
    card.places = places_of(contact.addresses)
    card.files = files_tab(user, contact)
    card.tasks = tasks_tab(user, contact)
    card.appointments = appointments_tab(user, contact)
    card.emails = emails_tab(user, contact)
    card.campaigns = campaigns_tab(user, contact)
    return card


def initials_of(contact: Contact) -> str:
    """What the avatar shows without a picture: the first letters of the first and last
    names ("AS")."""
    letters = [
        name.strip()[0] for name in (contact.first_name, contact.last_name) if name and name.strip()
    ]
    return "".join(letters).upper() or "?"


def _kept_form() -> KeptForm:
    kept = session.pop(_KEPT_FORM, None)
    if not isinstance(kept, dict):
        return KeptForm()
    return KeptForm(str(kept.get("name", "")), dict(kept.get("values", {})),
                    dict(kept.get("errors", {})))  # fmt: skip


class ContactCardView(ContactPageActions):
    """The POSTs of the card's forms, and the feed's poll for new comments."""

    def __init__(self, **kwargs: Any):
        super().__init__(name="Contact card", endpoint="contact_card",
                         url="/admin/contact-card", **kwargs)  # fmt: skip

    def _do(self, contact_id: int, permission: str, tab: str, form: str, work) -> Any:
        """Run `work(contact)` (a success message back) and commit once; a refusal rolls
        back, and a refused form is kept to be shown again with its messages."""
        contact = self.contact(contact_id, permission)
        with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
            message = work(contact)
        if outcome:
            flash(message, "success")
        elif outcome.errors:
            values = {k: v for k, v in request.form.items() if k != "csrf_token"}
            if sum(len(v) for v in values.values()) > KEPT_CHARACTERS:
                values = {}  # the session is a cookie: browsers drop one over 4 KB
            session[_KEPT_FORM] = {"name": form, "values": values, "errors": outcome.errors}
            flash("Not saved: see the messages on the form.", "error")
        else:
            flash(outcome.message, "error")
        return redirect(url_for("contact.details_view", id=contact_id, tab=tab) + f"#tab-{tab}")

    # ---- notes ----------------------------------------------------------------------------
    @expose("/<int:contact_id>/notes/", methods=("POST",))
    def add_note(self, contact_id: int):
        def work(contact: Contact) -> str:
            note = notes.add_note(current_user, contact, request.form.get("body"),
                                  bool(request.form.get("private")))  # fmt: skip
            return "Private note saved: only you see it." if note.private else "Note saved."

        return self._do(contact_id, "note.write", "notes", "note", work)

    @expose("/<int:contact_id>/notes/<int:note_id>/", methods=("POST",))
    def edit_note(self, contact_id: int, note_id: int):
        def work(_contact: Contact) -> str:
            form = request.form
            notes.update_note(
                current_user, note_id, form.get("body"), bool(form.get("private")),
                form.get("version"),
            )  # fmt: skip
            return "Note changed."

        return self._do(contact_id, "note.write", "notes", f"note-{note_id}", work)

    @expose("/<int:contact_id>/notes/<int:note_id>/delete/", methods=("POST",))
    def delete_note(self, contact_id: int, note_id: int):
        def work(_contact: Contact) -> str:
            notes.delete_note(current_user, note_id)
            return "Note deleted."

        return self._do(contact_id, "note.write", "notes", "", work)

    # ---- the activity feed ------------------------------------------------------------------
    @expose("/<int:contact_id>/comments/", methods=("POST",))
    def comment(self, contact_id: int):
        def work(contact: Contact) -> str:
            activity.post_comment(current_user, contact, request.form.get("body"))
            return "Comment posted."

        return self._do(contact_id, "activity.comment", "activity", "comment", work)

    @expose("/<int:contact_id>/comments.json")
    def comments_since(self, contact_id: int):
        """The comments after `?after=<id>`, for the feed to add without a reload (JSON;
        the page inserts them as text)."""
        contact = self.contact(contact_id, "contact.view")
        after = access.record_id(request.args.get("after")) or 0
        found = activity.comments_after(current_user, contact.id, after)
        return jsonify(
            comments=[
                {"id": c.id, "author": str(c.author) if c.author else "someone",
                 "at": local_text(c.created_at), "body": c.body}
                for c in found
            ]
        )  # fmt: skip

    # ---- interactions -------------------------------------------------------------------
    @expose("/<int:contact_id>/interactions/", methods=("POST",))
    def register_interaction(self, contact_id: int):
        def work(contact: Contact) -> str:
            done = interactions.register(current_user, contact, request.form.to_dict())
            return f"{done.medium.label} registered."

        return self._do(contact_id, "interaction.edit", "interactions", "interaction", work)

    @expose("/<int:contact_id>/interactions/<int:interaction_id>/status/", methods=("POST",))
    def interaction_status(self, contact_id: int, interaction_id: int):
        def work(contact: Contact) -> str:
            done = interactions.set_status(
                current_user, interaction_id, request.form.get("status"), contact.id
            )
            return f"Interaction {done.status.label.lower()}."

        return self._do(contact_id, "interaction.edit", "interactions", "", work)

    # ---- connections --------------------------------------------------------------------
    @expose("/<int:contact_id>/connections/", methods=("POST",))
    def connect(self, contact_id: int):
        def work(contact: Contact) -> str:
            form = request.form
            made = connections.connect(
                current_user, contact, form.get("other_id"), form.get("type_id"), form.get("note")
            )
            return f"Connected: {made.type.name} {made.other}."

        return self._do(contact_id, "connection.edit", "connections", "connection", work)

    @expose("/<int:contact_id>/connections/<int:connection_id>/delete/", methods=("POST",))
    def disconnect(self, contact_id: int, connection_id: int):
        def work(_contact: Contact) -> str:
            connections.disconnect(current_user, connection_id)
            return "Connection removed."

        return self._do(contact_id, "connection.edit", "connections", "", work)
