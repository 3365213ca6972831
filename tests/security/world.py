"""Builds one database full of hostile values, through the real admin forms, and records
what became of each (field, payload): stored (as what), refused (with which message), or
crashed. The tests then read these outcomes and every page showing the values.

Each post is checked on the spot: a refused form must name the field and change nothing
(the whole database is compared before and after), a saved one may only change the tables
of what it saves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    AddressType,
    AuditEntry,
    Category,
    Contact,
    Criterion,
    MarketingList,
    PhoneType,
    Segment,
    SocialPlatform,
)
from tests.admin.helpers import contact_form, lookup_id
from tests.conftest import csrf_from
from tests.db_state import changed_tables, snapshot
from tests.security.checks import errors_by_field, flashed_errors, page_problems
from tests.security.payloads import (
    CONTACT_FIELDS,
    LOOKUP_FORMS,
    PAYLOADS,
    URL_PAYLOADS,
)

LOOKUP_MODELS: dict[str, type] = {
    "phone type name": PhoneType,
    "address type name": AddressType,
    "social platform name": SocialPlatform,
    "category name": Category,
    "criterion name": Criterion,
    "access class name": AccessClass,
    "segment name": Segment,
    "marketing list name": MarketingList,
}
LOOKUP_FORM_DATA: dict[str, dict[str, Any]] = {
    "phone type name": {"active": "y", "position": "0"},
    "address type name": {"active": "y", "position": "0"},
    "social platform name": {
        "hosts": "",
        "url_template": "https://social.example/{handle}",
        "handle_pattern": "",
        "active": "y",
        "position": "0",
    },
    "category name": {"active": "y", "position": "0"},
    "criterion name": {"applies_to": "both", "active": "y", "position": "0"},
    "access class name": {"active": "y", "position": "0"},
    "segment name": {"description": "", "kind": "static", "query": ""},
    "marketing list name": {"description": "", "active": "y"},
}

# The tables a saved form may change, besides the history.
CONTACT_TABLES = {
    "contacts",
    "accounts",
    "phones",
    "addresses",
    "social_links",
    "tags",
    "contact_tags",
    "contact_categories",
    "contact_criteria",
    "audit_entries",
    "audit_bulk_contacts",  # the contacts a bulk action's history entry names
}
LOOKUP_TABLES = {
    "phone type name": {"phone_types"},
    "address type name": {"address_types"},
    "social platform name": {"social_platforms"},
    "category name": {"categories"},
    "criterion name": {"criteria"},
    "access class name": {"access_classes"},
    "segment name": {"segments"},
    "marketing list name": {"marketing_lists"},
}

# What a contact-form field falls back to once the server refused the hostile value.
CONTACT_FALLBACK: dict[str, str] = {
    "first_name": "Ana",
    "middle_name": "",
    "last_name": "Smith",
    "title": "",
    "job_title": "",
    "department": "",
    "certificate": "",
    "email": "",
    "email_secondary": "",
    "website": "",
    "notes": "",
    "other_contacts": "",
    "phones-0-number": "7400 123456",
    "phones-0-extension": "",
    "addresses-0-street": "221B Baker Street",
    "addresses-0-street2": "",
    "addresses-0-city": "London",
    "addresses-0-region": "",
    "addresses-0-postal_code": "NW1 6XE",
    "social_links-0-handle": "safe-handle",
    "social_links-1-handle": "safe-handle",
}


def form(drop: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    """contact_form() with one phone, one address and one social link (or, with `drop`,
    without the rows of those relations), then `overrides`."""
    data = contact_form()
    for key in list(data):
        if key.startswith(("phones-1-", "addresses-1-", "social_links-1-", *drop)):
            del data[key]
    data.update(overrides)
    return data


@dataclass
class Outcome:
    """What became of one hostile value in one field."""

    status: str  # "stored", "refused", "crashed" (a 500) or "broken" (refused wrongly)
    message: str = ""  # the refusal shown on the field, or what went wrong
    stored: Any = None  # the value as saved
    changed: list[str] = field(default_factory=list)  # tables the post changed
    allowed: set[str] = field(default_factory=set)  # tables it may change


@dataclass
class Submission:
    saved: bool = False
    refused: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    failure: str = ""  # a crash, or a refusal without a message on a field
    crashed: bool = False
    live: set[str] = field(default_factory=set)  # fields still hostile at the end


@dataclass
class World:
    client: FlaskClient
    token: str = ""
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    url_outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)  # payload -> its contact
    tagged: dict[str, int] = field(default_factory=dict)  # payload -> contact with its tags
    accounts: dict[str, int] = field(default_factory=dict)
    lookups: dict[str, dict[str, int]] = field(default_factory=dict)  # payload -> field -> id
    url_contacts: dict[str, int] = field(default_factory=dict)
    url_accounts: dict[str, int] = field(default_factory=dict)
    url_platform: int = 0  # a platform turning handles into URLs, with no handle pattern
    state: dict[str, Any] | None = None  # the database after the last post

    # ---- posting --------------------------------------------------------------------
    def submit(
        self,
        url: str,
        base: dict[str, Any],
        hostile: dict[str, str],
        fallback: dict[str, str],
        *,
        flashed_refusal: bool = False,
    ) -> Submission:
        """Post the form with the hostile values; each refused field gets its fallback and
        the form goes again, until it is saved. A refusal must show a message on the
        field (or, for the bulk page, a flashed one) and change nothing."""
        current = {**base, **hostile}
        result = Submission(live=set(hostile))
        for _ in range(len(hostile) + 2):
            # Only these posts write: the state after one is the state before the next.
            before = self.state if self.state is not None else snapshot()
            try:
                response = self.client.post(url, data={"csrf_token": self.token, **current})
            except Exception as exc:  # the test client raises the server's error (a 500)
                db.session.rollback()
                self.state = None
                result.crashed = True
                result.failure = f"server error {type(exc).__name__}: {str(exc)[:300]}"
                return result
            self.state = snapshot()
            result.changed = changed_tables(before, self.state)
            if response.status_code in (301, 302, 303):
                result.saved = True
                return result
            html = response.get_data(as_text=True)
            errors = errors_by_field(html)
            if flashed_refusal and not errors:
                errors = {name: " ".join(flashed_errors(html)) for name in result.live}
            problems = page_problems(html)
            unexpected = sorted(set(errors) - result.live)
            if response.status_code != 200 or not errors or unexpected or problems:
                result.failure = (
                    f"status {response.status_code}; errors on fields {errors}; "
                    f"unexpected fields {unexpected}; unsafe form: {problems}; "
                    f"flashed: {flashed_errors(html)}"
                )
                return result
            if result.changed:
                result.failure = f"refused, but changed {result.changed}"
                return result
            for name, message in errors.items():
                result.refused[name] = message
                current[name] = fallback[name]
                result.live.discard(name)
        result.failure = "never saved"
        return result

    def record(
        self,
        outcomes: dict[tuple[str, str], Outcome],
        key: str,
        labels: dict[str, str],
        done: Submission,
        allowed: set[str],
        stored: dict[str, Any],
    ) -> None:
        """Outcomes of one submission: `labels` maps form fields to the names the tests
        use; `stored` the saved values of the fields that stayed hostile."""
        for form_field, label in labels.items():
            if form_field in done.refused:
                outcome = Outcome("refused", done.refused[form_field])
            elif done.failure:
                outcome = Outcome("crashed" if done.crashed else "broken", done.failure)
            else:
                outcome = Outcome("stored", stored=stored.get(form_field))
            history = {"audit_entries", "audit_bulk_contacts"}
            outcome.changed, outcome.allowed = done.changed, allowed | history
            outcomes[(label, key)] = outcome

    # ---- building -------------------------------------------------------------------
    def build(self) -> None:
        self.token = csrf_from(self.client.get("/admin/contact/new/").get_data(as_text=True))
        self.url_platform = self._platform("Profiles (URL pattern)")
        for index, (key, payload) in enumerate(PAYLOADS.items()):
            self._lookups(index, key, payload)
            self._account(index, key, payload)
            self._contact(index, key, payload)
            self._tags(index, key, payload)
        for index, (key, payload) in enumerate(URL_PAYLOADS.items()):
            self._url_inputs(index, key, payload)

    def _newest(self, model: type) -> Any:
        db.session.rollback()
        return db.session.scalars(select(model).order_by(model.id.desc()).limit(1)).one()

    def _platform(self, name: str) -> int:
        data = {"name": name, **LOOKUP_FORM_DATA["social platform name"]}
        done = self.submit("/admin/social-platforms/new/", data, {}, {})
        assert done.saved, done.failure
        return self._newest(SocialPlatform).id

    def _lookups(self, index: int, key: str, payload: str) -> None:
        ids: dict[str, int] = {}
        for label, url in LOOKUP_FORMS.items():
            model = LOOKUP_MODELS[label]
            hostile = {"name": payload}
            fallback = {"name": f"Safe {label} {index}"}
            labels = {"name": label}
            if model is AccessClass:
                hostile["description"] = payload
                fallback["description"] = ""
                labels["description"] = "access class description"
            done = self.submit(url, LOOKUP_FORM_DATA[label], hostile, fallback)
            stored: dict[str, Any] = {}
            if done.saved:
                row = self._newest(model)
                ids[label] = row.id
                stored = {"name": row.name, "description": getattr(row, "description", None)}
            self.record(self.outcomes, key, labels, done, LOOKUP_TABLES[label], stored)
        self.lookups[key] = ids

    def _account(self, index: int, key: str, payload: str) -> None:
        fields = {"name": "account name", "website": "account website", "notes": "account notes"}
        base = {"owner": "__None", "access_class": "__None"}
        fallback = {"name": f"Safe account {index}", "website": "", "notes": ""}
        done = self.submit("/admin/account/new/", base, dict.fromkeys(fields, payload), fallback)
        stored: dict[str, Any] = {}
        if done.saved:
            account = self._newest(Account)
            self.accounts[key] = account.id
            stored = {f: getattr(account, f) for f in fields}
        self.record(self.outcomes, key, fields, done, {"accounts"}, stored)

    def _contact(self, index: int, key: str, payload: str) -> None:
        ids = self.lookups.get(key, {})
        base = form(
            kind="b2b" if key in self.accounts else "b2c",
            account=str(self.accounts.get(key, "")),
        )
        base.update(
            {
                "phones-0-phone_type": ids.get("phone type name") or lookup_id(PhoneType, "Mobile"),
                "addresses-0-address_type": ids.get("address type name")
                or lookup_id(AddressType, "Main"),
                "social_links-0-platform": ids.get("social platform name") or self.url_platform,
                "categories": [str(ids["category name"])] if "category name" in ids else [],
                "criteria": [str(ids["criterion name"])] if "criterion name" in ids else [],
                "access_class": str(ids.get("access class name", "__None")),
                # Every contact here is the same Ana Smith: save past the duplicate warning.
                "save_anyway": "1",
            }
        )
        hostile = dict.fromkeys(CONTACT_FIELDS, payload)
        done = self.submit("/admin/contact/new/", base, hostile, CONTACT_FALLBACK)
        stored: dict[str, Any] = {}
        if done.saved:
            contact = self._newest(Contact)
            self.contacts[key] = contact.id
            stored = self._contact_values(contact)
            self._into_lists(contact.id, ids)
        labels = {f: f for f in CONTACT_FIELDS}
        self.record(self.outcomes, key, labels, done, CONTACT_TABLES, stored)

    @staticmethod
    def _contact_values(contact: Contact) -> dict[str, Any]:
        """The saved value of each contact-form field ("phones-0-number": the phone's)."""
        values: dict[str, Any] = {}
        for name in CONTACT_FIELDS:
            prefix, _, column = name.rpartition("-")
            if not prefix:
                values[name] = getattr(contact, name)
                continue
            rows = getattr(contact, prefix.split("-")[0])
            values[name] = getattr(rows[0], column) if rows else None
        return values

    def _bulk(self, contact_id: int, data: dict[str, Any]) -> Submission:
        url = f"/admin/contact/bulk/?target=ids&ids={contact_id}"
        base = {"confirm": "y", **{k: v for k, v in data.items() if k != "tags"}}
        hostile = {"tags": data["tags"]} if "tags" in data else {}
        return self.submit(url, base, hostile, {"tags": ""}, flashed_refusal=True)

    def _into_lists(self, contact_id: int, ids: dict[str, int]) -> None:
        """The contact joins the payload's static segment and marketing list."""
        operations = []
        data: dict[str, Any] = {}
        if "segment name" in ids:
            operations.append("add_to_segment")
            data["segment"] = str(ids["segment name"])
        if "marketing list name" in ids:
            operations.append("add_to_marketing_list")
            data["marketing_list"] = str(ids["marketing list name"])
        if operations:
            done = self._bulk(contact_id, {"operation": operations, **data})
            assert done.saved, done.failure

    def _tags(self, index: int, key: str, payload: str) -> None:
        """Tags typed on a contact's form, then added in bulk."""
        base = form(
            ("phones-", "addresses-", "social_links-"),
            first_name="Tagged",
            last_name=f"Contact {index}",
            email="",
            website="",
        )
        done = self.submit("/admin/contact/new/", base, {"tags": payload}, {"tags": ""})
        stored: dict[str, Any] = {}
        if done.saved:
            contact = self._newest(Contact)
            self.tagged[key] = contact.id
            stored = {"tags": {tag.name for tag in contact.tags}}
        tables = {"contacts", "accounts", "tags", "contact_tags"}
        self.record(self.outcomes, key, {"tags": "tags (contact form)"}, done, tables, stored)
        if key not in self.contacts:
            return
        contact_id = self.contacts[key]
        done = self._bulk(contact_id, {"operation": ["add_tags"], "tags": payload})
        stored = {}
        if done.saved:
            contact = db.session.get(Contact, contact_id)
            stored = {"tags": {tag.name for tag in contact.tags}}
        tables = {"contacts", "tags", "contact_tags"}
        self.record(self.outcomes, key, {"tags": "tags (bulk action)"}, done, tables, stored)

    def _url_inputs(self, index: int, key: str, url: str) -> None:
        fallback = {"name": "", "website": "", "notes": ""}
        done = self.submit(
            "/admin/account/new/",
            {"name": f"URL account {index}", "owner": "__None", "access_class": "__None"},
            {"website": url},
            fallback,
        )
        stored: dict[str, Any] = {}
        if done.saved:
            account = self._newest(Account)
            self.url_accounts[key] = account.id
            stored = {"website": account.website}
        self.record(
            self.url_outcomes, key, {"website": "account website"}, done, {"accounts"}, stored
        )
        base = form(
            ("phones-", "addresses-"),
            first_name="Url",
            last_name=f"Contact {index}",
            email="",
        )
        base["social_links-0-platform"] = lookup_id(SocialPlatform, "Website")
        base["social_links-1-platform"] = self.url_platform
        hostile = {
            "website": url,
            "social_links-0-handle": url,
            "social_links-1-handle": url,
        }
        fallback = dict(CONTACT_FALLBACK, **{"social_links-0-handle": "https://example.com/"})
        done = self.submit("/admin/contact/new/", base, hostile, fallback)
        stored = {}
        if done.saved:
            contact = self._newest(Contact)
            self.url_contacts[key] = contact.id
            links = sorted(contact.social_links, key=lambda link: link.id)
            stored = {
                "website": contact.website,
                "social_links-0-handle": links[0].url,
                "social_links-1-handle": links[1].url,
            }
        labels = {
            "website": "website",
            "social_links-0-handle": "social_links-0-handle (Website platform)",
            "social_links-1-handle": "social_links-1-handle (platform with a URL pattern)",
        }
        tables = {"contacts", "accounts", "social_links"}
        self.record(self.url_outcomes, key, labels, done, tables, stored)

    # ---- reading --------------------------------------------------------------------
    def history_pages(self) -> int:
        db.session.rollback()
        entries = db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0
        return max(1, -(-entries // 100))
