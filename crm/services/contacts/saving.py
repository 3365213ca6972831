"""Saving a contact, whatever the entry point: `save_contact` is the one function the admin
form, the API, imports (updates), lead conversion and merge call (`create_contact` builds a
new one from plain values and saves it with it).

`apply_contact_rules`, which it runs after the new values are set on the ORM object and
before the boundary commits, normalises, validates, keeps the B2C hidden account and the
primary flags in step, fills phone E.164 forms, address coordinates and the derived fields
(`derived_fields`), and raises ValidationFailed (nothing is saved) or StaleEditError.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect, select

from crm.auth.permissions import Actor, can
from crm.errors import (
    DomainError,
    FieldError,
    PermissionDenied,
    StaleEditError,
    ValidationFailed,
)
from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    Address,
    AddressType,
    Contact,
    ContactKind,
    Phone,
    PhoneType,
    SocialLink,
    SocialPlatform,
    User,
)
from crm.models.base import utcnow
from crm.services.contacts import duplicates, lifecycle
from crm.services.contacts.details import (
    apply_addresses,
    apply_phones,
    apply_social_links,
    column_limit,
    live_rows,
)
from crm.services.contacts.search import name_key_of, search_text_for
from crm.services.lists.tags import tags_for_names
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import class_change_error
from crm.services.platform.validation import FieldErrors


def _stored_row(contact: Contact) -> Any:
    """(account_id, owner_id, access_class_id) as stored before this edit, or None for a new
    contact.

    Read from the database: after a commit every attribute is expired, so the ORM's own
    history of a replaced many-to-one does not know what it replaced.
    """
    if contact.id is None or inspect(contact).key is None:
        return None
    with db.session.no_autoflush:
        return db.session.execute(
            select(Contact.account_id, Contact.owner_id, Contact.access_class_id).where(
                Contact.id == contact.id
            )
        ).one_or_none()


def _previous_account(contact: Contact) -> Account | None:
    """The account the contact was stored in before this edit (None when new)."""
    hist = inspect(contact).attrs["account"].history
    if hist.deleted and hist.deleted[0] is not None:
        return hist.deleted[0]
    stored = _stored_row(contact)
    if stored is None or stored.account_id is None:
        return None
    with db.session.no_autoflush:
        return db.session.get(Account, stored.account_id)


def _owner_id(contact: Contact) -> int | None:
    """The owner the contact is being given: a newly set `owner`, else `owner_id` (which a
    form may set directly while a stale `owner` is still loaded)."""
    added = inspect(contact).attrs["owner"].history.added
    if added:
        return added[0].id if added[0] is not None else None
    return contact.owner_id


class LooksLikeExisting(DomainError):
    """A new contact looks like contacts the actor already has: `matches` lists them, each
    with why (crm.services.contacts.duplicates.matches_for). Nothing is saved."""

    def __init__(self, matches: list[tuple[Contact, list[str]]]):
        super().__init__(
            "Nothing was saved yet: this contact looks like one you already have (see below). "
            "Open it to update it instead, or choose Save anyway."
        )
        self.matches = matches


def save_contact(
    actor: Actor,
    contact: Contact,
    *,
    is_new: bool,
    expected_version: int | None = None,
    previous_owner_id: int | None = None,
    tag_names: list[str] | None = None,
    allow_duplicates: bool = True,
) -> Contact:
    """Save `contact`, whose new values the caller has set, in the session (the caller
    commits). It is added to the session when new; the contact rules give the fields not
    sent their defaults (the actor as owner, the company's access class), check every field
    and fill the derived ones; an `expected_version` other than the stored one raises
    StaleEditError; a new contact that looks like existing ones raises LooksLikeExisting
    unless `allow_duplicates`; `tag_names`, when given, become its tags (an empty list
    clears them); then it is flushed.

    `previous_owner_id` is the owner before the caller changed anything, when the caller
    set `owner_id` directly (the stored one counts otherwise)."""
    with db.session.no_autoflush:
        if is_new:
            db.session.add(contact)
        apply_contact_rules(
            actor,
            contact,
            is_new=is_new,
            previous_owner_id=previous_owner_id,
            expected_version=expected_version,
        )
        if is_new and not allow_duplicates:
            phones = [phone.e164 for phone in live_rows(contact.phones)]
            found = duplicates.matches_for(actor, contact, phones)
            if found:
                raise LooksLikeExisting(found)
        if tag_names is not None:
            # After the checks: creating tags flushes, and the contact is complete now.
            contact.tags = tags_for_names(tag_names) if tag_names else []
    db.session.flush()
    return contact


def derived_fields(contact: Any, phones: Iterable[Any]) -> dict[str, Any]:
    """The columns kept from the others for lists and searches (search_text, name_key,
    has_phone), of a Contact or of any object with its attributes (the rows a bulk import
    inserts); `phones` are its live phones."""
    phones = list(phones)
    return {
        "search_text": search_text_for(contact, phones),
        "name_key": name_key_of(contact),
        "has_phone": bool(phones),
    }


def refresh_derived_fields(contact: Contact) -> None:
    """Recompute the contact's derived fields from what it holds now (after a merge moved
    rows to it, or an import's undo took them back)."""
    for name, value in derived_fields(contact, live_rows(contact.phones)).items():
        setattr(contact, name, value)


def apply_contact_rules(
    actor: Actor,
    contact: Contact,
    *,
    is_new: bool,
    previous_owner_id: int | None = None,
    expected_version: int | None = None,
) -> None:
    """Validate and complete `contact` in the session; raise instead of saving bad data."""
    audit.note_actor(db.session, actor)  # history names the actor, also outside a request
    # The rules query the database; a flush of the half-checked contact must not happen first.
    with db.session.no_autoflush:
        _apply_contact_rules(actor, contact, is_new, previous_owner_id, expected_version)


def _apply_contact_rules(
    actor: Actor,
    contact: Contact,
    is_new: bool,
    previous_owner_id: int | None,
    expected_version: int | None,
) -> None:
    if not can(actor, "contact.create" if is_new else "contact.edit"):
        raise PermissionDenied("You may not " + ("create" if is_new else "edit") + " contacts.")
    audit.note_actor(db.session, actor)
    if not is_new and expected_version is not None and expected_version != contact.version:
        raise StaleEditError(
            "Someone else saved this contact after you opened it. Your changes were not "
            "saved: reload the page to see the current version, then make your changes again."
        )
    errors = FieldErrors({})
    c = contact
    clean_person_fields(c, errors)
    if c.manager is not None and c.manager is c:
        errors.add("manager", "A contact cannot be their own manager.")

    _apply_customer_settings(c, is_new, errors)
    _apply_owner(actor, c, is_new, previous_owner_id, errors)
    _check_responsible(actor, c, errors)
    _apply_access_class(actor, c, is_new, errors)
    _apply_kind_and_account(c, errors)
    apply_phones(c, errors)
    apply_addresses(c, errors)
    apply_social_links(c, errors)

    if errors.found:
        raise ValidationFailed(errors.found)
    refresh_derived_fields(c)
    if c.active is None:
        c.active = True
    if not is_new:
        # Any saved edit (child rows included) moves the version, so stale forms are caught.
        c.updated_at = utcnow()
    _apply_primary_flag(c)


# The contact's own fields that clean_person_fields checks.
PERSON_FIELDS = (
    "first_name", "last_name", "middle_name", "title", "job_title", "department", "certificate",
    "other_contacts", "notes", "email", "email_secondary", "website", "timezone", "language",
    "birthday", "birthday_month",
)  # fmt: skip


def clean_person_fields(c: Any, errors: FieldErrors) -> None:
    """Check and normalise the contact's own fields (PERSON_FIELDS) in place, on a Contact or
    on any object with those attributes (bulk imports check plain values with it)."""
    c.first_name = errors.check("first_name", v.clean_required_name, c.first_name, "First name")
    c.last_name = errors.check("last_name", v.clean_required_name, c.last_name, "Last name")
    for field in ("middle_name", "title", "job_title", "department", "certificate"):
        setattr(
            c, field, errors.check(field, v.clean_limited, getattr(c, field), column_limit(field))
        )
    for field in ("other_contacts", "notes"):
        setattr(c, field, v.clean_text(getattr(c, field)))
    c.email = errors.check("email", v.clean_email, c.email)
    c.email_secondary = errors.check("email_secondary", v.clean_email, c.email_secondary)
    if c.email and c.email_secondary and c.email == c.email_secondary:
        errors.add("email_secondary", "The secondary email repeats the primary one.")
    c.website = errors.check("website", v.clean_url, c.website)
    c.timezone = errors.check("timezone", v.clean_timezone, c.timezone)
    c.language = errors.check("language", v.clean_language, c.language)
    c.birthday = errors.check("birthday", v.clean_birthday, c.birthday)
    c.birthday_month = c.birthday.month if c.birthday else None


def _apply_customer_settings(c: Contact, is_new: bool, errors: FieldErrors) -> None:
    """A consumer's settings, and the status rule a hand-made change may not break (an
    online-store buyer stays a Customer: crm.services.contacts.lifecycle)."""
    c.customer_currency = errors.check("customer_currency", v.clean_currency, c.customer_currency)
    terms = c.payment_terms_days
    if terms is not None and not 0 <= terms <= 365:
        errors.add("payment_terms_days", "Give the payment terms in days, from 0 to 365.")
    if not is_new and inspect(c).attrs.customer_status.history.has_changes():
        refusal = lifecycle.manual_status_error(c, c.customer_status)
        if refusal:
            errors.add("customer_status", refusal)


def _apply_owner(
    actor: Actor, c: Contact, is_new: bool, previous_owner_id: int | None, errors: FieldErrors
) -> None:
    actor_id = getattr(actor, "id", None)
    if is_new and c.owner is None and c.owner_id is None and isinstance(actor, User):
        c.owner = actor
    new_owner = _owner_id(c)
    if is_new:
        before = actor_id
    elif previous_owner_id is not None:
        before = previous_owner_id
    else:  # not given by the caller: the stored owner counts
        stored = _stored_row(c)
        before = stored.owner_id if stored is not None else None
    missing = False
    if (c.owner.id if c.owner is not None else None) != new_owner:
        # owner_id was set directly: keep `owner` in step, or the flush would restore it.
        c.owner = db.session.get(User, new_owner) if new_owner is not None else None
        missing = new_owner is not None and c.owner is None
    for message in owner_problems(actor, new_owner, c.owner, before):
        errors.add("owner", message)
    if missing:
        errors.add("owner", "No such user.")


def owner_problems(
    actor: Actor, owner_id: int | None, owner: User | None, before_id: int | None
) -> list[str]:
    """Why the user `owner_id` cannot own the contact, owned by `before_id` until now: giving
    a contact to someone else needs contact.transfer, and the owner must be active. The
    form, the API and imports (bulk inserts included) all check an owner with it."""
    problems = []
    if owner_id != before_id and not can(actor, "contact.transfer"):
        problems.append("You do not have permission to transfer contacts to another owner.")
    if owner is not None and not owner.active:
        problems.append(f"{owner} is not an active user.")
    return problems


def responsible_problems(actor: Actor, responsible: User | None, changed: bool) -> list[str]:
    """Why `responsible` cannot be responsible for the contact (`changed`: chosen now):
    choosing needs contact.assign_responsible, and the user must be active."""
    problems = []
    if changed and not can(actor, "contact.assign_responsible"):
        problems.append("You do not have permission to assign responsible users.")
    if responsible is not None and not responsible.active:
        problems.append(f"{responsible} is not an active user.")
    return problems


def _check_responsible(actor: Actor, c: Contact, errors: FieldErrors) -> None:
    """Choosing who is responsible for a contact needs contact.assign_responsible."""
    history = inspect(c).attrs["responsible"].history
    before = history.deleted[0] if history.deleted else None
    after = history.added[0] if history.added else None
    changed = history.has_changes() and before is not after
    for message in responsible_problems(actor, c.responsible, changed):
        errors.add("responsible", message)


def _apply_access_class(actor: Actor, c: Contact, is_new: bool, errors: FieldErrors) -> None:
    """Putting a contact in an access class needs contact.set_class and a class the actor
    sees; a new contact without one takes its company account's class."""
    if inspect(c).attrs["access_class"].history.has_changes():
        new_id = c.access_class.id if c.access_class is not None else None
    else:  # unchanged, or access_class_id set directly: keep the relationship in step
        new_id = c.access_class_id
        if (c.access_class.id if c.access_class is not None else None) != new_id:
            c.access_class = db.session.get(AccessClass, new_id) if new_id is not None else None
            if new_id is not None and c.access_class is None:
                errors.add("access_class", "No such access class.")
                return
    if is_new and new_id is None and c.account is not None and not c.account.is_hidden:
        c.access_class = c.account.access_class
        return
    stored = _stored_row(c)
    refused = class_change_error(actor, new_id, stored.access_class_id if stored else None)
    if refused:
        errors.add("access_class", refused)


def _apply_kind_and_account(c: Contact, errors: FieldErrors) -> None:
    """B2C: a hidden account named after the person, and primary. B2B: a chosen account."""
    if c.kind is not None and not isinstance(c.kind, ContactKind):  # given as text (API, CLI)
        try:
            c.kind = ContactKind(str(c.kind).strip().lower())
        except ValueError:
            errors.add("kind", "Choose B2B (works for an account) or B2C (a consumer).")
            return
    if c.kind is None:
        c.kind = (
            ContactKind.B2B
            if c.account is not None and not c.account.is_hidden
            else (ContactKind.B2C)
        )
    previous = _previous_account(c)
    if c.kind == ContactKind.B2C:
        # The person's own hidden account; never one that holds somebody else.
        hidden = next(
            (
                a
                for a in (c.account, previous)
                if a is not None and a.is_hidden and not _other_contacts_in(a, c)
            ),
            None,
        )
        if hidden is None:
            hidden = Account(name=c.full_name or "Consumer", is_hidden=True)
            db.session.add(hidden)
        hidden.name = (c.full_name or hidden.name)[:200]
        if c.owner is not None:
            hidden.owner = c.owner
        hidden.access_class = c.access_class  # the person's own account: the same class
        c.account = hidden
        c.is_primary = True
        c.linked_accounts = [a for a in c.linked_accounts if not a.is_hidden]
        return
    own = c.account is not None and c.account.is_hidden and c.account is previous
    if own and not _other_contacts_in(c.account, c):
        # A consumer becoming B2B keeps their own account, which shows from now on (it was
        # hidden from view only while they were B2C).
        c.account.is_hidden = False
    if c.account is None or c.account.is_hidden:
        errors.add("account", "Choose the account this contact works for, or choose B2C.")
        return
    c.linked_accounts = [a for a in c.linked_accounts if a.id != c.account.id and not a.is_hidden]
    if previous is not None and previous.is_hidden and previous is not c.account:
        # Switched from B2C to B2B. Being primary in a personal account says nothing about
        # the company: do not take the flag from the company's primary contact.
        if c.is_primary and _other_contacts_in(c.account, c, primary=True):
            c.is_primary = False
        # The personal account belonged to this person only.
        if not _other_contacts_in(previous, c):
            db.session.delete(previous)


def _other_contacts_in(account: Account, c: Contact, *, primary: bool = False) -> int:
    """How many contacts other than `c` are stored in `account` (only primary ones)."""
    if account.id is None:
        return 0
    query = (
        select(db.func.count())
        .select_from(Contact)
        .where(
            Contact.account_id == account.id,
            Contact.id != (c.id or 0),
            Contact.merged_into_id.is_(None),  # merged ones keep their account: not holders
        )
    )
    if primary:
        query = query.where(Contact.is_primary.is_(True))
    return db.session.scalar(query)


def _apply_primary_flag(c: Contact) -> None:
    """One primary contact per account: setting it clears it on the account's others."""
    if not c.is_primary or c.account is None or c.account.id is None:
        return
    others = db.session.scalars(
        select(Contact).where(
            Contact.account_id == c.account.id,
            Contact.is_primary.is_(True),
            Contact.id != (c.id or 0),
        )
    ).all()
    for other in others:
        other.is_primary = False


def lookup_by_name(model: type, name: str | None):
    """A lookup entry by its name (case-insensitive), or None. Whether an inactive entry may
    be chosen is decided when the contact is checked."""
    name = v.clean_text(name)
    if name is None:
        return None
    return db.session.scalar(select(model).where(db.func.lower(model.name) == name.lower()))


def _company_account(actor: Actor, name: str, owner: User | None) -> Account | None:
    """The company account with this name (case and spaces ignored), or a new one."""
    try:
        name = v.clean_limited(name, column_limit("name", Account))
    except FieldError as exc:
        raise ValidationFailed({"account": [str(exc)]}) from None
    if name is None:
        return None
    found = db.session.scalar(
        select(Account)
        .where(db.func.lower(Account.name) == name.lower(), Account.is_hidden.is_(False))
        .order_by(Account.id)
        .limit(1)
    )
    if found is not None:
        return found
    return Account(name=name, owner=owner or (actor if isinstance(actor, User) else None))


def create_contact(actor: Actor, data: dict[str, Any], *, allow_duplicates: bool = True) -> Contact:
    """Create a contact from plain values (CLI, demo data, API, quick create, tests), in the
    session.

    `data` holds contact fields plus optional `account` (an Account or a name, making the
    contact B2B), `phones` [{type, country_code, number, extension}], `addresses`
    [{type, street, city, postal_code, country, ...}] and `social_links` [{platform, handle}].
    With `allow_duplicates=False` a contact that looks like existing ones raises
    LooksLikeExisting (see save_contact).
    """
    with db.session.no_autoflush:
        data = dict(data)
        phones = data.pop("phones", [])
        addresses = data.pop("addresses", [])
        links = data.pop("social_links", [])
        account = data.pop("account", None)
        contact = Contact(**data)
        if isinstance(account, str):
            account = _company_account(actor, account, contact.owner)
        if account is not None:
            contact.account = account
            contact.kind = contact.kind or ContactKind.B2B
        for row in phones:
            row = dict(row)
            kind = lookup_by_name(PhoneType, row.pop("type", "Mobile"))
            contact.phones.append(Phone(phone_type=kind, **row))
        for row in addresses:
            row = dict(row)
            kind = lookup_by_name(AddressType, row.pop("type", "Main"))
            contact.addresses.append(Address(address_type=kind, **row))
        for row in links:
            row = dict(row)
            platform = lookup_by_name(SocialPlatform, row.pop("platform"))
            contact.social_links.append(SocialLink(platform=platform, **row))
    return save_contact(actor, contact, is_new=True, allow_duplicates=allow_duplicates)
