"""New contacts in bulk, for imports: the contact rules applied to plain values, the
duplicates of a whole batch looked up in three queries, and the rows written with a few
multi-row INSERTs rather than one unit-of-work flush per contact.

The field checks are those of crm.services.contacts.saving and .details (`clean_person_fields`,
`clean_phone_fields`, `clean_address_fields`, `clean_link_fields`), applied to plain
objects: a row refused here is refused by the contact form with the same words, and a row
accepted here is stored as the form would store it (normalised phones and their E.164
form, located addresses, the B2C hidden account, and the derived fields of `derived_fields`).
The owner and the responsible user are checked by the form's own `owner_problems` and
`responsible_problems`. What only an edit can do (change a class, a primary flag) is not
needed for new contacts.

History: each new contact gets one "create" entry naming its values, phones, addresses,
links, tags and categories (rather than one entry per row of each table), and each new
company account its own entry.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, or_, select

from crm.auth.permissions import Actor
from crm.errors import FieldError, ValidationFailed
from crm.extensions import db
from crm.models import (
    Account,
    AddressType,
    Contact,
    ContactKind,
    Phone,
    PhoneType,
    SocialPlatform,
    User,
)
from crm.models.address import Address
from crm.models.audit import AuditEntry
from crm.models.base import utcnow
from crm.models.contact import contact_categories, contact_tags
from crm.models.social_link import SocialLink
from crm.models.tag import Tag
from crm.services.contacts.details import (
    clean_address_fields,
    clean_link_fields,
    clean_phone_fields,
    locate_address,
    phone_region,
)
from crm.services.contacts.geocoding import geocoder_from_config
from crm.services.contacts.saving import (
    PERSON_FIELDS,
    FieldErrors,
    clean_person_fields,
    derived_fields,
    owner_problems,
    responsible_problems,
)
from crm.services.contacts.search import indexed_together, name_key_of
from crm.services.lists.tags import clean_tag_name
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility

# Fields a row may give besides PERSON_FIELDS, stored as they come (the row reader has
# turned them into enum members and booleans already).
OTHER_FIELDS = (
    "gender",
    "customer_status",
    "prospect_status",
    "contact_preference",
    "email_marketing",
    "do_not_email",
    "do_not_call",
)
PHONE_PARTS = ("country_code", "number", "extension")
ADDRESS_PARTS = ("street", "street2", "city", "region", "postal_code", "country")


@dataclass
class NewContact:
    """One row's contact, checked and normalised, not yet stored."""

    number: int  # the file's row number
    fields: dict[str, Any]  # contact columns
    given: set[str]  # the fields the row gave (what an update may copy)
    kind: ContactKind
    company: str | None  # B2B: the company account's name
    owner_id: int | None
    responsible_id: int | None
    phones: list[SimpleNamespace] = field(default_factory=list)
    addresses: list[SimpleNamespace] = field(default_factory=list)
    links: list[SimpleNamespace] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # key -> name
    category_ids: list[int] = field(default_factory=list)
    id: int | None = None  # once stored
    _name_key: str | None = field(default=None, repr=False)  # computed once (see name_key)
    _keys: list[str] | None = field(default=None, repr=False)

    @property
    def full_name(self) -> str:
        parts = (self.fields.get(n) for n in ("first_name", "middle_name", "last_name"))
        return " ".join(p for p in parts if p)

    @property
    def name_key(self) -> str:
        """The name's key (crm.services.contacts.search.name_key), "" without one."""
        if self._name_key is None:
            self._name_key = name_key_of(SimpleNamespace(**self.fields)) or ""
        return self._name_key

    def duplicate_keys(self) -> list[str]:
        """What makes another row of the file the same person: an email, a phone (E.164),
        or the name key in the same company (B2B) or among consumers (B2C)."""
        if self._keys is None:
            keys = [f"email {e.lower()}" for e in self._emails()]
            keys += [f"phone {p.e164}" for p in self.phones if p.e164]
            if self.name_key:
                company = self.company if self.kind == ContactKind.B2B else ""
                keys.append(f"name {self.name_key} @{(company or '').casefold()}")
            self._keys = keys
        return self._keys

    def _emails(self) -> list[str]:
        return [e for e in (self.fields.get("email"), self.fields.get("email_secondary")) if e]

    def absorb(self, other: NewContact, overwrite: bool) -> None:
        """Take in a later row of the same file that is the same person: fill the empty
        fields (or overwrite them) and add the phones, addresses, links, tags and
        categories not already here."""
        for name in other.given:
            value = other.fields.get(name)
            current = self.fields.get(name)
            empty = current is None or current == "" or (name == "email_marketing" and not current)
            if overwrite or empty:
                self.fields[name] = value
                self.given.add(name)
        if self.fields.get("email") and self.fields.get("email") == self.fields.get(
            "email_secondary"
        ):
            self.fields["email_secondary"] = None
        for kind, key in (
            ("phones", _phone_key),
            ("addresses", _address_key),
            ("links", _link_key),
        ):
            mine = getattr(self, kind)
            have = {key(row) for row in mine}
            mine += [row for row in getattr(other, kind) if key(row) not in have]
        self.tags = {**self.tags, **{k: n for k, n in other.tags.items() if k not in self.tags}}
        self.category_ids += [c for c in other.category_ids if c not in self.category_ids]
        self._name_key = self._keys = None  # the names or emails may have changed


def _phone_key(row: SimpleNamespace) -> tuple:
    return (row.e164, row.extension or None)


def _address_key(row: SimpleNamespace) -> tuple:
    return tuple(getattr(row, part) for part in Address.__merge_key__)


def _link_key(row: SimpleNamespace) -> tuple:
    return (row.platform_id, row.handle)


@dataclass
class _Kind:
    id: int
    name: str
    active: bool
    platform: SocialPlatform | None = None


class ContactBatch:
    """The look-ups of one import (types, platforms, company accounts, the geocoder) and
    the steps of each batch: `prepare` each row, `existing` for the batch's duplicates,
    `insert` what is new."""

    def __init__(self, actor: Actor):
        self.actor = actor
        self.actor_id = getattr(actor, "id", None)
        self.region = current_app.config.get("CRM_DEFAULT_PHONE_REGION", "US")
        self.phone_types = _kinds(PhoneType)
        self.address_types = _kinds(AddressType)
        self.platforms = {
            p.name.casefold(): _Kind(p.id, p.name, p.active, p)
            for p in db.session.scalars(select(SocialPlatform))
        }
        # company name (case-folded) -> (account id, its access class id); None: to create
        self.companies: dict[str, tuple[int, int | None] | None] = {}
        self.geocoder = None

    # ---- checking one row ---------------------------------------------------------------
    def prepare(self, number: int, data: dict[str, Any], region: str | None = None) -> NewContact:
        """The row's contact, checked as the contact form checks one; ValidationFailed
        (with the form's field names) when the rules refuse it. `data` holds what
        crm.services.transfer.importing.rows reads: fields, `account` (a company name), `owner` and
        `responsible` (users), `phones`, `addresses`, `social_links`, `tags` (names) and
        `categories` (Category rows). Numbers without a country code are read in the
        country of the row's first address, else in `region` (the import's default)."""
        errors = FieldErrors({})
        person = SimpleNamespace(**{name: data.get(name) for name in PERSON_FIELDS})
        clean_person_fields(person, errors)
        fields = vars(person)
        fields.update({name: data[name] for name in OTHER_FIELDS if name in data})
        given = {name for name in (*PERSON_FIELDS, *OTHER_FIELDS) if data.get(name) is not None}
        owner_id, responsible_id = self._people(data, errors)
        company = None
        kind = data.get("kind") or (ContactKind.B2B if data.get("account") else ContactKind.B2C)
        if kind == ContactKind.B2B:
            company = errors.check(
                "account", v.clean_limited, data.get("account"), Account.name.type.length
            )
            if not company:
                errors.add("account", "Choose the account this contact works for, or choose B2C.")
        item = NewContact(number, fields, given, kind, company, owner_id, responsible_id)
        self._addresses(item, data.get("addresses") or [], errors)
        self._phones(item, data.get("phones") or [], region or self.region, errors)
        self._links(item, data.get("social_links") or [], errors)
        for name in data.get("tags") or []:
            try:
                cleaned = clean_tag_name(name)
            except ValidationFailed as exc:
                for message in exc.errors.get("tags", []):
                    errors.add("tags", message)
                continue
            item.tags.setdefault(cleaned.lower(), cleaned)
        item.category_ids = [c.id for c in data.get("categories") or []]
        if errors.found:
            raise ValidationFailed(errors.found)
        return item

    def _people(self, data: dict[str, Any], errors: FieldErrors) -> tuple[int | None, int | None]:
        owner = data.get("owner") or (self.actor if isinstance(self.actor, User) else None)
        owner_id = getattr(owner, "id", None)
        for message in owner_problems(self.actor, owner_id, owner, self.actor_id):
            errors.add("owner", message)
        responsible = data.get("responsible")
        for message in responsible_problems(self.actor, responsible, responsible is not None):
            errors.add("responsible", message)
        return owner_id, getattr(responsible, "id", None)

    def _kind(self, kinds: dict[str, _Kind], name: str | None, field_name: str, errors) -> int:
        found = kinds.get((v.clean_text(name) or "").casefold())
        if found is None:
            return 0
        if not found.active:
            errors.add(field_name, f"{found.name!r} is no longer in use: choose another type.")
        return found.id

    def _phones(self, item: NewContact, phones: list[dict], region: str, errors) -> None:
        seen: set[str] = set()
        region = phone_region(item.addresses, region) if phones else region
        for index, given in enumerate(phones):
            type_id = self._kind(
                self.phone_types, given.get("type", "Mobile"), f"phones-{index}-phone_type", errors
            )
            if not type_id:
                errors.add(f"phones-{index}-phone_type", "Choose the type of phone number.")
            phone = SimpleNamespace(
                phone_type_id=type_id, e164=None, formatted=None,
                **{part: given.get(part) for part in PHONE_PARTS},
            )  # fmt: skip
            clean_phone_fields(phone, index, region, errors, seen)
            item.phones.append(phone)

    def _addresses(self, item: NewContact, addresses: list[dict], errors: FieldErrors) -> None:
        for index, given in enumerate(addresses):
            type_id = self._kind(
                self.address_types,
                given.get("type", "Main"),
                f"addresses-{index}-address_type",
                errors,
            )
            if not type_id:
                errors.add(f"addresses-{index}-address_type", "Choose the type of address.")
            address = SimpleNamespace(
                address_type_id=type_id, city_key=None, latitude=None, longitude=None,
                geocode_source=None, **{part: given.get(part) for part in ADDRESS_PARTS},
            )  # fmt: skip
            if clean_address_fields(address, index, errors):
                if self.geocoder is None:
                    self.geocoder = geocoder_from_config(current_app.config)
                locate_address(address, self.geocoder)
            item.addresses.append(address)

    def _links(self, item: NewContact, links: list[dict], errors: FieldErrors) -> None:
        for index, given in enumerate(links):
            platform = self.platforms.get((v.clean_text(given.get("platform")) or "").casefold())
            if platform is None:
                errors.add(f"social_links-{index}-platform", "Choose the platform.")
                continue
            if not platform.active:
                errors.add(
                    f"social_links-{index}-platform",
                    f"{platform.name!r} is no longer in use: choose another type.",
                )
            link = SimpleNamespace(platform_id=platform.id, handle=given.get("handle"), url=None)
            clean_link_fields(link, platform.platform, index, errors)
            item.links.append(link)

    def region_of_match(self, data: dict[str, Any], refused: ValidationFailed) -> str | None:
        """When only the row's phone numbers were refused and its email is a contact's the
        actor can see that has an address in a country: that country, to read the numbers
        in (the row updates that contact, whose address the file need not repeat)."""
        if not refused.errors or not all(
            key.startswith("phones-") and key.endswith("-number") for key in refused.errors
        ):
            return None
        try:
            email = v.clean_email(data.get("email"))
        except FieldError:
            return None
        if email is None:
            return None
        countries = db.session.execute(
            select(Address.country)
            .join(Contact, Contact.id == Address.contact_id)
            .where(contact_visibility(self.actor), Contact.email == email)
            .where(Address.country.is_not(None))
            .order_by(Contact.id, Address.id)
            .limit(1)
        ).scalars()
        region = phone_region([SimpleNamespace(country=c) for c in countries], "")
        return region or None

    # ---- duplicates -----------------------------------------------------------------------
    def existing(self, items: list[NewContact]) -> dict[int, int]:
        """For each row (by number) that looks like a contact the actor can see, that
        contact's id: the one with most reasons (the same email, either field; the same
        phone; the same name key in the same company or among consumers), then the oldest,
        as crm.services.contacts.duplicates.matches_for chooses for one contact."""
        self.find_companies(items)
        # Not driven by the "live" part of the gate: with a thousand values in an IN list,
        # SQLite would otherwise walk every live contact rather than the keys' indexes.
        visible = contact_visibility(self.actor, use_index=False)
        reasons: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        by_email: dict[str, list[int]] = defaultdict(list)
        by_phone: dict[str, list[int]] = defaultdict(list)
        by_name: dict[str, list[NewContact]] = defaultdict(list)
        for item in items:
            for email in item._emails():
                by_email[email.lower()].append(item.number)
            for phone in item.phones:
                if phone.e164:
                    by_phone[phone.e164].append(item.number)
            if item.name_key:
                by_name[item.name_key].append(item)
        if by_email:
            emails = list(by_email)
            for contact_id, email, secondary in db.session.execute(
                select(Contact.id, Contact.email, Contact.email_secondary).where(
                    visible, or_(Contact.email.in_(emails), Contact.email_secondary.in_(emails))
                )
            ):
                for address in {email, secondary}:
                    for number in by_email.get(address, ()):
                        reasons[number][contact_id] += 1
        if by_phone:
            for contact_id, e164 in db.session.execute(
                select(Phone.contact_id, Phone.e164)
                .join(Contact, Contact.id == Phone.contact_id)
                .where(visible, Phone.e164.in_(list(by_phone)))
                .distinct()
            ):
                for number in by_phone[e164]:
                    reasons[number][contact_id] += 1
        if by_name:
            self._same_names(visible, by_name, reasons)
        return {
            number: min(found, key=lambda contact_id: (-found[contact_id], contact_id))
            for number, found in reasons.items()
        }

    def _same_names(self, visible, by_name: dict[str, list[NewContact]], reasons) -> None:
        for contact_id, key, account_id, hidden in db.session.execute(
            select(Contact.id, Contact.name_key, Contact.account_id, Account.is_hidden)
            .join(Account, Account.id == Contact.account_id)
            .where(visible, Contact.name_key.in_(list(by_name)))
        ):
            for item in by_name[key]:
                if item.kind == ContactKind.B2B:
                    company = self.companies.get((item.company or "").casefold())
                    same = company is not None and company[0] == account_id
                else:
                    same = bool(hidden)
                if same:
                    reasons[item.number][contact_id] += 1

    def brings_nothing_new(
        self, pairs: list[tuple[NewContact, int]], fields: tuple[str, ...], overwrite: bool
    ) -> set[int]:
        """The rows (by number) that would change nothing in the existing contact they match
        (`pairs`: row, contact id): no field of `fields` to fill (or, with `overwrite`, to
        change), no phone, address, link, tag or category the contact lacks. Compared on the
        checked values, as the rules would store them; six queries for the batch."""
        ids = sorted({contact_id for _item, contact_id in pairs})
        if not ids:
            return set()
        columns = [Contact.__table__.c[name] for name in fields]
        stored = {
            row[0]: dict(zip(fields, row[1:], strict=True))
            for row in db.session.execute(select(Contact.id, *columns).where(Contact.id.in_(ids)))
        }
        have = _what_they_have(ids)
        quiet = set()
        for item, contact_id in pairs:
            current = stored.get(contact_id)
            if current is None:
                continue
            if any(
                self._would_set(current[name], item.fields.get(name), name, overwrite)
                for name in fields
                if name in item.given
            ):
                continue
            if any(
                (p.e164, p.extension or None)
                not in {(e, x or None) for e, x in have["phones"][contact_id]}
                for p in item.phones
            ):
                continue
            if any(_address_key(a) not in have["addresses"][contact_id] for a in item.addresses):
                continue
            if any(_link_key(link) not in have["links"][contact_id] for link in item.links):
                continue
            if set(item.tags) - have["tags"][contact_id]:
                continue
            if set(item.category_ids) - have["categories"][contact_id]:
                continue
            quiet.add(item.number)
        return quiet

    @staticmethod
    def _would_set(current: Any, new: Any, name: str, overwrite: bool) -> bool:
        if new is None or new == "" or new == current:
            return False
        empty = current is None or current == "" or (name == "email_marketing" and not current)
        return overwrite or empty

    def find_companies(self, items: list[NewContact]) -> None:
        """Look up the company accounts the rows name (once per name in an import)."""
        wanted = {
            item.company.casefold()
            for item in items
            if item.company and item.company.casefold() not in self.companies
        }
        if not wanted:
            return
        found: dict[str, tuple[int, int | None]] = {}
        for account_id, name, class_id in db.session.execute(
            select(Account.id, Account.name, Account.access_class_id)
            .where(
                func.lower(Account.name).in_(wanted),
                Account.is_hidden.is_(False),
                Account.merged_into_id.is_(None),
            )
            .order_by(Account.id)
        ):
            found.setdefault(name.casefold(), (account_id, class_id))
        for key in wanted:
            self.companies[key] = found.get(key)

    # ---- storing ------------------------------------------------------------------------
    def insert(self, items: list[NewContact]) -> None:
        """Store the contacts (with their accounts, phones, addresses, links, tags,
        categories and history) in the session's transaction; sets each item's id."""
        if not items:
            return
        now = utcnow()
        user_id, user_email = audit.current_actor(db.session)
        history: list[dict] = []
        self._insert_companies(items, now, (user_id, user_email), history)
        hidden_ids = self._insert_rows(
            Account,
            [
                {
                    "name": (item.full_name or "Consumer")[:200],
                    "is_hidden": True,
                    "owner_id": item.owner_id,
                    "access_class_id": None,
                    "created_at": now,
                    "updated_at": now,
                }
                for item in items
                if item.kind == ContactKind.B2C
            ],
        )
        hidden = iter(hidden_ids)
        rows = []
        for item in items:
            if item.kind == ContactKind.B2C:
                account_id, class_id, account_name = next(hidden), None, None
            else:
                account_id, class_id = self.companies[item.company.casefold()]
                account_name = item.company
            rows.append(self._contact_row(item, account_id, class_id, account_name, now))
        with indexed_together():
            ids = self._insert_rows(Contact, rows)
        for item, contact_id in zip(items, ids, strict=True):
            item.id = contact_id
        self._insert_children(items)
        tag_ids = self._tag_ids(items)
        links = [
            {"contact_id": item.id, "tag_id": tag_ids[key]} for item in items for key in item.tags
        ]
        if links:
            db.session.execute(insert(contact_tags), links)
        categories = [
            {"contact_id": item.id, "category_id": category_id}
            for item in items
            for category_id in item.category_ids
        ]
        if categories:
            db.session.execute(insert(contact_categories), categories)
        for item, row in zip(items, rows, strict=True):
            history.append(self._history(item, row, tag_ids, (user_id, user_email), now))
        db.session.execute(insert(AuditEntry.__table__), history)

    def _insert_rows(self, model: type, rows: list[dict]) -> list[int]:
        """Insert rows of `model`'s table; their new ids, in the rows' order. The ids are
        taken first (the table's sequence on PostgreSQL; past the largest id on SQLite,
        whose write lock the batch holds), so that the rows go in one executemany: SQLite
        would otherwise insert a RETURNING statement per row to keep them in order."""
        if not rows:
            return []
        table = model.__table__
        ids = _new_ids(table, len(rows))
        if ids is None:
            result = db.session.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            )
            return list(result.scalars())
        with_ids = [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)]
        db.session.execute(insert(table), with_ids)
        return ids

    def _insert_companies(self, items, now, who, history: list[dict]) -> None:
        new: dict[str, str] = {}
        for item in items:
            if item.kind == ContactKind.B2B and self.companies.get(item.company.casefold()) is None:
                new.setdefault(item.company.casefold(), item.company)
        rows = [
            {
                "name": name,
                "is_hidden": False,
                "owner_id": self.actor_id,
                "access_class_id": None,
                "created_at": now,
                "updated_at": now,
            }
            for name in new.values()
        ]
        for (key, name), account_id in zip(
            new.items(), self._insert_rows(Account, rows), strict=True
        ):
            self.companies[key] = (account_id, None)
            history.append(
                {
                    "at": now, "user_id": who[0], "user_email": who[1], "action": "create",
                    "entity_type": "account", "entity_id": account_id, "contact_id": None,
                    "account_id": account_id, "summary": f"Create account {name}"[:300],
                    "changes": {"name": [None, name], "owner_id": [None, self.actor_id]},
                }
            )  # fmt: skip

    def _contact_row(self, item, account_id, class_id, account_name, now) -> dict:
        fields = item.fields
        shown = SimpleNamespace(
            **fields,
            account=SimpleNamespace(is_hidden=account_name is None, name=account_name),
        )
        row = {
            **fields,
            "kind": item.kind,
            "account_id": account_id,
            "is_primary": item.kind == ContactKind.B2C,
            "owner_id": item.owner_id,
            "responsible_id": item.responsible_id,
            "access_class_id": class_id,
            "active": True,
            **derived_fields(shown, item.phones),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for name in OTHER_FIELDS:  # the columns' defaults, so that every row has every key
            if name not in row:
                default = Contact.__table__.c[name].default
                row[name] = default.arg if default is not None else None
        return row

    def _insert_children(self, items: list[NewContact]) -> None:
        phones = [
            {"contact_id": item.id, **{k: getattr(p, k) for k in _PHONE_COLUMNS}}
            for item in items
            for p in item.phones
        ]
        addresses = [
            {"contact_id": item.id, **{k: getattr(a, k) for k in _ADDRESS_COLUMNS}}
            for item in items
            for a in item.addresses
        ]
        links = [
            {"contact_id": item.id, "platform_id": link.platform_id, "handle": link.handle,
             "url": link.url}
            for item in items
            for link in item.links
        ]  # fmt: skip
        for model, rows in ((Phone, phones), (Address, addresses), (SocialLink, links)):
            if rows:
                db.session.execute(insert(model.__table__), rows)

    def _tag_ids(self, items: list[NewContact]) -> dict[str, int]:
        wanted: dict[str, str] = {}
        for item in items:
            for key, name in item.tags.items():
                wanted.setdefault(key, name)
        if not wanted:
            return {}
        found = dict(db.session.execute(select(Tag.key, Tag.id).where(Tag.key.in_(wanted))).all())
        missing = [{"name": name, "key": key} for key, name in wanted.items() if key not in found]
        for row, tag_id in zip(missing, self._insert_rows(Tag, missing), strict=True):
            found[row["key"]] = tag_id
        return found

    def _history(self, item, row, tag_ids, who, now) -> dict:
        changes = {
            name: [None, audit.jsonable(value)]
            for name, value in row.items()
            if name not in audit.IGNORED_FIELDS and value is not None and value != ""
        }
        for name, values in (
            ("phones", [p.formatted or p.number for p in item.phones]),
            ("addresses", [_one_line(a) for a in item.addresses]),
            ("social_links", [link.url or link.handle for link in item.links]),
            ("tags", sorted(tag_ids[key] for key in item.tags)),
            ("categories", sorted(item.category_ids)),
        ):
            if values:
                changes[name] = [[] if name in ("tags", "categories") else None, values]
        return {
            "at": now, "user_id": who[0], "user_email": who[1], "action": "create",
            "entity_type": "contact", "entity_id": item.id, "contact_id": item.id,
            "account_id": row["account_id"],
            "summary": f"Create contact {item.full_name or f'#{item.id}'}"[:300],
            "changes": changes,
        }  # fmt: skip


_PHONE_COLUMNS = ("phone_type_id", "country_code", "number", "extension", "e164", "formatted")
_ADDRESS_COLUMNS = (
    "address_type_id", "street", "street2", "city", "city_key", "region", "postal_code",
    "country", "latitude", "longitude", "geocode_source",
)  # fmt: skip


def _new_ids(table: Any, count: int) -> list[int] | None:
    """`count` ids for new rows of `table` (an integer key, no AUTOINCREMENT on SQLite),
    or None where the database cannot hand them out."""
    connection = db.session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        begin_for_savepoints()  # the write lock: nobody else takes an id meanwhile
        last = connection.execute(select(func.max(table.c.id))).scalar() or 0
        return list(range(last + 1, last + 1 + count))
    if dialect == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        return list(
            connection.execute(
                select(func.nextval(sequence)).select_from(func.generate_series(1, count))
            ).scalars()
        )
    return None


def begin_for_savepoints() -> None:
    """Start the session's transaction explicitly on SQLite, so that savepoints nest in it:
    Python's sqlite3 module begins a transaction only before its first write, and a
    savepoint released outside a transaction would commit. IMMEDIATE takes the write lock
    now, rather than failing to upgrade a read later. Call it with nothing pending."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _one_line(address: SimpleNamespace) -> str:
    city = " ".join(p for p in (address.postal_code, address.city) if p)
    parts = (address.street, address.street2, city, address.region, address.country)
    return ", ".join(p for p in parts if p)


def _what_they_have(ids: list[int]) -> dict[str, dict[int, set]]:
    """For each of these contacts: its phones, addresses and links by their merge keys, its
    tags by key and its categories by id."""
    merge_columns = [getattr(Address, name) for name in Address.__merge_key__]
    tag = contact_tags.c
    category = contact_categories.c
    queries = {
        "phones": select(Phone.contact_id, Phone.e164, Phone.extension),
        "addresses": select(Address.contact_id, *merge_columns),
        "links": select(SocialLink.contact_id, SocialLink.platform_id, SocialLink.handle),
        "tags": select(tag.contact_id, Tag.key).join(Tag, Tag.id == tag.tag_id),
        "categories": select(category.contact_id, category.category_id),
    }
    have: dict[str, dict[int, set]] = {}
    for kind, query in queries.items():
        found: dict[int, set] = defaultdict(set)
        owner = query.selected_columns[0]
        for row in db.session.execute(query.where(owner.in_(ids))):
            if kind == "phones":
                found[row[0]].add((row[1], row[2] or None))
            else:
                found[row[0]].add(tuple(row[1:]) if len(row) > 2 else row[1])
        have[kind] = found
    return have


def _kinds(model: type) -> dict[str, _Kind]:
    return {
        row.name.casefold(): _Kind(row.id, row.name, row.active)
        for row in db.session.scalars(select(model))
    }
