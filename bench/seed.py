"""Seed a fresh, migrated database with N realistic contacts, fast.

The schema comes from the real migrations. The few small tables (users, tags) are filled
through the app's services and models; the big ones (accounts, contacts, phones, addresses,
links) are generated in chunks as plain tuples and written with bulk inserts (SQLite:
executemany in one transaction; PostgreSQL: COPY), with the tables' secondary indexes and
the search-index triggers dropped during the load and recreated from their stored SQL
afterwards (the FTS5 index is then rebuilt in one pass).
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import phonenumbers

from bench.data import (
    COMPANY_WORDS,
    COUNTRIES,
    DEPARTMENTS,
    JOB_TITLES,
    RARE_SURNAME,
    RARE_SURNAME_COUNT,
    TAGS,
    TAIL_ENDINGS,
    TAIL_SYLLABLES,
    TITLES,
    USERS,
    Country,
)

BENCH_EMAIL = "bench-manager@example.com"
BENCH_PASSWORD = "bench-password-123"  # noqa: S105 - a throwaway user of a throwaway database
HASH_METHOD = "pbkdf2:sha256:1000"
CHUNK = 20_000

# The tables the bulk load writes, in foreign-key order.
LOADED_TABLES = (
    "accounts",
    "account_criteria",
    "contacts",
    "contact_accounts",
    "phones",
    "addresses",
    "social_links",
    "contact_tags",
    "contact_categories",
    "contact_criteria",
    "leads",
    "deals",
    "deal_contacts",
    "orders",
    "order_lines",
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "id",
        "name",
        "is_hidden",
        "website",
        "notes",
        "owner_id",
        "version",
        "created_at",
        "updated_at",
    ),
    "account_criteria": ("account_id", "criterion_id"),
    "contacts": (
        "id",
        "kind",
        "account_id",
        "is_primary",
        "title",
        "first_name",
        "middle_name",
        "last_name",
        "job_title",
        "owner_id",
        "responsible_id",
        "customer_status",
        "prospect_status",
        "birthday",
        "birthday_month",
        "gender",
        "email",
        "email_secondary",
        "website",
        "email_marketing",
        "do_not_email",
        "do_not_call",
        "contact_preference",
        "manager_id",
        "department",
        "certificate",
        "timezone",
        "language",
        "other_contacts",
        "notes",
        "active",
        "deleted_at",
        "deleted_by_id",
        "search_text",
        "name_key",
        "has_phone",
        "version",
        "created_at",
        "updated_at",
    ),
    "contact_accounts": ("contact_id", "account_id"),
    "phones": (
        "id",
        "contact_id",
        "phone_type_id",
        "country_code",
        "number",
        "extension",
        "e164",
        "formatted",
    ),
    "addresses": (
        "id",
        "contact_id",
        "address_type_id",
        "street",
        "street2",
        "city",
        "city_key",
        "region",
        "postal_code",
        "country",
        "latitude",
        "longitude",
        "geocode_source",
    ),
    "social_links": ("id", "contact_id", "platform_id", "handle", "url"),
    "contact_tags": ("contact_id", "tag_id"),
    "contact_categories": ("contact_id", "category_id"),
    "contact_criteria": ("contact_id", "criterion_id"),
    "leads": (
        "id",
        "status",
        "kind",
        "first_name",
        "last_name",
        "company",
        "job_title",
        "email",
        "phone",
        "city",
        "country",
        "source",
        "owner_id",
        "converted_contact_id",
        "converted_at",
        "converted_by_id",
        "version",
        "created_at",
        "updated_at",
    ),
    "deals": (
        "id",
        "title",
        "amount",
        "currency",
        "stage",
        "expected_close",
        "closed_at",
        "owner_id",
        "account_id",
        "version",
        "created_at",
        "updated_at",
    ),
    "deal_contacts": ("deal_id", "contact_id"),
    "orders": (
        "id",
        "number",
        "contact_id",
        "ordered_on",
        "source",
        "external_id",
        "status",
        "currency",
        "total",
        "version",
        "created_at",
        "updated_at",
    ),
    "order_lines": ("id", "order_id", "description", "quantity", "unit_price", "amount"),
}

PRODUCTS = (
    ("Annual licence", 1200),
    ("Support contract", 450),
    ("Consulting days", 900),
    ("Starter kit", 89),
    ("Training seat", 350),
    ("Hardware bundle", 2400),
    ("Spare parts", 45),
    ("Subscription", 29),
)
LEAD_SOURCES = ("Web form", "Trade fair", "Referral", "Cold call", "Newsletter", "Partner")

_EPOCH = datetime(1970, 1, 1)
START = datetime(2016, 1, 1, tzinfo=UTC).timestamp()
NOW = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


def stamp(seconds: float) -> str:
    """A UTC timestamp as SQLAlchemy writes DateTime to SQLite (PostgreSQL reads it too,
    in a session whose time zone is UTC)."""
    return (_EPOCH + timedelta(seconds=seconds)).isoformat(" ", "microseconds")


def ascii_slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum()).lower()


# ---- phone numbers ------------------------------------------------------------------------


@dataclass(frozen=True)
class PhonePattern:
    """A national number pattern ('030 1234####') with what libphonenumber makes of it:
    which typed digits are the national significant number, and the international layout."""

    region: str
    typed: str
    calling_code: int
    nsn_offset: int  # typed digits[offset:] is the national significant number
    mask: str  # international format with '#' for each national digit

    @classmethod
    def learn(cls, region: str, typed: str, rng: random.Random) -> PhonePattern:
        sample = fill(typed, rng)
        parsed = phonenumbers.parse(sample, region)
        nsn = phonenumbers.national_significant_number(parsed)
        shown = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        prefix = f"+{parsed.country_code} "
        body = "".join("#" if ch.isdigit() else ch for ch in shown[len(prefix) :])
        typed_digits = "".join(ch for ch in sample if ch.isdigit())
        return cls(region, typed, parsed.country_code, len(typed_digits) - len(nsn), prefix + body)

    def make(self, rng: random.Random) -> tuple[str, str, str]:
        """(number as typed, E.164, international format)."""
        typed = fill(self.typed, rng)
        nsn = "".join(ch for ch in typed if ch.isdigit())[self.nsn_offset :]
        digits = iter(nsn)
        formatted = "".join(next(digits) if ch == "#" else ch for ch in self.mask)
        return typed, f"+{self.calling_code}{nsn}", formatted


def fill(pattern: str, rng: random.Random) -> str:
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in pattern)


def learn_phone_patterns(rng: random.Random) -> dict[str, dict[str, list[PhonePattern]]]:
    """Every pattern of every country, checked against the app's own phone rule: random
    numbers of the pattern must be valid and come out exactly as the app would store them."""
    from crm.services.platform.validation import clean_phone

    learned: dict[str, dict[str, list[PhonePattern]]] = {}
    for country in COUNTRIES:
        kinds = {"mobile": country.mobile, "landline": country.landline}
        learned[country.code] = {}
        for kind, patterns in kinds.items():
            learned[country.code][kind] = []
            for typed in patterns:
                pattern = PhonePattern.learn(country.code, typed, rng)
                for _ in range(40):
                    number, e164, formatted = pattern.make(rng)
                    clean = clean_phone(f"+{pattern.calling_code}", number, None, "US")
                    if (clean.e164, clean.formatted, clean.number) != (e164, formatted, number):
                        raise SystemExit(
                            f"bench: phone pattern {typed!r} ({country.code}) gives "
                            f"{(e164, formatted)}, the app stores {(clean.e164, clean.formatted)}"
                        )
                learned[country.code][kind].append(pattern)
    return learned


# ---- what the generator needs from the migrated database ---------------------------------


@dataclass
class Lookups:
    user_ids: list[int]
    bench_user_id: int
    phone_types: dict[str, int]
    address_types: dict[str, int]
    linkedin_id: int
    category_ids: list[int]
    contact_criterion_ids: list[int]
    company_criterion_ids: list[int]
    tag_ids: dict[str, int]


def prepare_small_tables(app: Any) -> Lookups:
    """Users (through the app's user service), tags, and the ids of the lookup rows the
    migrations seeded."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.models import (
        AddressType,
        Category,
        Criterion,
        CriterionScope,
        PhoneType,
        SocialPlatform,
        Tag,
        User,
    )
    from crm.services.platform.users import create_user

    with app.app_context():
        bench = create_user(BENCH_EMAIL, BENCH_PASSWORD, ["crm_manager"], "Bench Manager")
        user_ids = []
        for index, (first, last) in enumerate(USERS):
            roles = ["crm_manager"] if index % 5 == 0 else ["crm_sales"]
            user = create_user(
                f"{ascii_slug(first)}.{ascii_slug(last)}@crm.example",
                BENCH_PASSWORD,
                roles,
                f"{first} {last}",
            )
            user_ids.append(user.id)
        for name, _share in TAGS:
            db.session.add(Tag(name=name))
        db.session.commit()

        def ids(model: type) -> dict[str, int]:
            return {row.name: row.id for row in db.session.scalars(select(model))}

        criteria = db.session.scalars(select(Criterion).order_by(Criterion.id)).all()
        lookups = Lookups(
            user_ids=user_ids,
            bench_user_id=bench.id,
            phone_types=ids(PhoneType),
            address_types=ids(AddressType),
            linkedin_id=ids(SocialPlatform)["LinkedIn"],
            category_ids=sorted(ids(Category).values()),
            contact_criterion_ids=[
                c.id for c in criteria if c.applies_to != CriterionScope.COMPANIES
            ],
            company_criterion_ids=[
                c.id for c in criteria if c.applies_to != CriterionScope.INDIVIDUALS
            ],
            tag_ids={t.name: t.id for t in db.session.scalars(select(Tag))},
        )
        assert {u.id for u in db.session.scalars(select(User))} >= set(user_ids)
        db.session.remove()
        db.engine.dispose()
    return lookups


def check_columns(app: Any) -> None:
    """Fail loudly when the models gained a required column the generator does not fill."""
    from crm.extensions import db

    with app.app_context():
        for table_name, columns in COLUMNS.items():
            table = db.metadata.tables[table_name]
            unknown = set(columns) - set(table.c.keys())
            if unknown:
                raise SystemExit(f"bench: {table_name} has no column(s) {sorted(unknown)}")
            missing = [
                c.name
                for c in table.c
                if c.name not in columns
                and not c.nullable
                and c.server_default is None
                and not (c.primary_key and c.autoincrement in (True, "auto"))
            ]
            if missing:
                raise SystemExit(
                    f"bench: the generator does not fill the required column(s) "
                    f"{table_name}.{', '.join(missing)}: update bench/seed.py"
                )


# ---- the generator ----------------------------------------------------------------------


def _skewed(n: int, power: float) -> list[float]:
    """Cumulative weights 1/(i+1)^power: the first items are picked most often."""
    total, cumulative = 0.0, []
    for i in range(n):
        total += 1.0 / (i + 1) ** power
        cumulative.append(total)
    return cumulative


@dataclass
class Company:
    id: int
    name: str
    country: Country
    domain: str
    primary_id: int | None = None


@dataclass
class Chunk:
    rows: dict[str, list[tuple]] = field(default_factory=dict)

    def add(self, table: str, row: tuple) -> None:
        self.rows.setdefault(table, []).append(row)


class Generator:
    """Yields chunks of rows for `n` contacts; deterministic for a given seed."""

    B2B_SHARE = 0.4
    EMAIL_SHARE = 0.8

    def __init__(self, n: int, lookups: Lookups, seed: int = 1):
        from crm.services.contacts.search import fold, name_key_of, search_text_for

        self._fold = fold
        self._search_text_for = search_text_for
        self._name_key_of = name_key_of
        self.n = n
        self.lk = lookups
        self.rng = random.Random(seed)
        self.phones = learn_phone_patterns(random.Random(seed))
        self.country_cw = list(_cumulate(c.weight for c in COUNTRIES))  # cumulative country weights
        self.owner_cw = _skewed(len(lookups.user_ids), 0.7)
        self.city_cw = {c.code: _skewed(len(c.cities), 1.0) for c in COUNTRIES}
        self.last_cw = {c.code: _skewed(len(c.last), 0.9) for c in COUNTRIES}
        self.tail_names = self._tail_names(20_000)
        self.fold_cache: dict[str, str] = {}
        self.companies = self._companies(max(1, n // 20))
        self.company_cw = _skewed(len(self.companies), 0.8)
        shuffled = list(range(len(self.companies)))
        self.rng.shuffle(shuffled)  # big companies spread over the id range
        self.company_order = shuffled
        self.next_account_id = len(self.companies) + 1
        self.next_phone_id = 1
        self.next_address_id = 1
        self.next_link_id = 1
        self.next_deal_id = 1
        self.next_order_id = 1
        self.next_line_id = 1
        self.next_lead_id = 1
        rare = self.rng.sample(range(1, n + 1), min(n, RARE_SURNAME_COUNT))
        self.rare_ids = set(rare)
        self.trash_deleter = lookups.user_ids[0]

    # -- set-up
    def _tail_names(self, count: int) -> list[str]:
        rng, names = self.rng, set()
        while len(names) < count:
            syllables = "".join(rng.choice(TAIL_SYLLABLES) for _ in range(rng.randint(1, 3)))
            names.add((syllables + rng.choice(TAIL_ENDINGS)).capitalize())
        return sorted(names)

    def _companies(self, count: int) -> list[Company]:
        rng, result, seen = self.rng, [], set()
        for index in range(count):
            country = COUNTRIES[_pick(rng, self.country_cw)]
            for attempt in range(50):
                a, b = rng.choice(country.last), rng.choice(country.last)
                word = rng.choice(COMPANY_WORDS)
                base = f"{a} {word}" if a == b or attempt % 2 else f"{a} & {b} {word}"
                if attempt >= 10:
                    base = f"{base} {rng.choice(country.cities).name}"
                name = f"{base} {rng.choice(country.company_suffix)}"
                if name not in seen:
                    break
            else:
                name = f"{name} {index}"
            seen.add(name)
            slug = "-".join(ascii_slug(w) for w in base.split() if ascii_slug(w))
            result.append(Company(index + 1, name, country, f"{slug}.{country.tld}"))
        return result

    def company_rows(self) -> Chunk:
        """The company accounts (ids 1..C) and their criteria."""
        chunk, rng = Chunk(), self.rng
        span = (NOW - START) * 0.3
        for company in self.companies:
            created = START + rng.random() * span
            chunk.add(
                "accounts",
                (
                    company.id,
                    company.name,
                    0,
                    f"https://www.{company.domain}",
                    None,
                    self._owner(),
                    1,
                    stamp(created),
                    stamp(created + rng.random() * (NOW - created)),
                ),
            )
            if rng.random() < 0.1:
                chunk.add(
                    "account_criteria", (company.id, rng.choice(self.lk.company_criterion_ids))
                )
        return chunk

    # -- helpers
    def _owner(self) -> int:
        return self.lk.user_ids[_pick(self.rng, self.owner_cw)]

    def _phone(self, country: Country, kind: str) -> tuple[str, str, str]:
        return self.rng.choice(self.phones[country.code][kind]).make(self.rng)

    def _last_name(self, country: Country, contact_id: int) -> str:
        if contact_id in self.rare_ids:
            return RARE_SURNAME
        if self.rng.random() < 0.15:
            return self.rng.choice(self.tail_names)
        return country.last[_pick(self.rng, self.last_cw[country.code])]

    # -- contacts
    def chunks(self) -> Iterator[Chunk]:
        for start in range(1, self.n + 1, CHUNK):
            yield self._chunk(start, min(self.n + 1, start + CHUNK))

    def _chunk(self, start: int, stop: int) -> Chunk:
        chunk = Chunk()
        for contact_id in range(start, stop):
            self._contact(chunk, contact_id)
        self._spread_links(chunk, start, stop)
        for _ in range((stop - start) // 10):  # a lead for every ten contacts
            self._lead(chunk, stop - 1)
        return chunk

    def _contact(self, chunk: Chunk, cid: int) -> None:
        rng, lk = self.rng, self.lk
        b2b = rng.random() < self.B2B_SHARE
        company = None
        if b2b:
            company = self.companies[self.company_order[_pick(rng, self.company_cw)]]
            country = company.country
        else:
            country = COUNTRIES[_pick(rng, self.country_cw)]
        female = rng.random() < 0.5
        first = rng.choice(country.female if female else country.male)
        middle = (
            rng.choice(country.female if female else country.male) if rng.random() < 0.08 else None
        )
        last = self._last_name(country, cid)
        owner = self._owner()
        responsible = self._owner() if rng.random() < 0.6 else None
        # Ids grow with time: a contact's creation date follows its id, with some jitter.
        created = START + (NOW - START) * ((cid - 1) / self.n) + rng.random() * 86_400 * 3
        created = min(created, NOW - 60)
        updated = created if rng.random() < 0.5 else created + rng.random() * (NOW - created)
        handle = f"{ascii_slug(first)}.{ascii_slug(last)}"
        email = email2 = None
        if rng.random() < self.EMAIL_SHARE:
            if company is not None:
                email = f"{handle}@{company.domain}"
            else:
                email = f"{handle}{rng.randint(1, 999)}@{rng.choice(country.free_mail)}"
            if rng.random() < 0.1:
                email2 = f"{handle}.{rng.randint(10, 99)}@{rng.choice(country.free_mail)}"
        birthday = None
        if rng.random() < 0.6:
            birthday = datetime(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        status = rng.random()
        customer = "customer" if status < 0.25 else "prospect" if status < 0.45 else "non_customer"
        prospect = rng.random()
        prospect = (
            "prospect" if prospect < 0.3 else "lost_prospect" if prospect < 0.4 else "non_prospect"
        )
        deleted = rng.random() < 0.003
        full_name = " ".join(p for p in (first, middle, last) if p)

        if company is None:
            account_id = self.next_account_id
            self.next_account_id += 1
            chunk.add(
                "accounts",
                (
                    account_id,
                    full_name,
                    1,
                    None,
                    None,
                    owner,
                    1,
                    stamp(created),
                    stamp(updated),
                ),
            )
            account = SimpleNamespace(is_hidden=True, name=full_name)
            is_primary, manager = 1, None
        else:
            account_id = company.id
            account = SimpleNamespace(is_hidden=False, name=company.name)
            if company.primary_id is None:
                company.primary_id = cid
                is_primary, manager = 1, None
            else:
                is_primary = 0
                manager = company.primary_id if rng.random() < 0.1 else None
            if rng.random() < 0.02:
                other = self.companies[rng.randrange(len(self.companies))]
                if other.id != company.id:
                    chunk.add("contact_accounts", (cid, other.id))

        phones = []
        kinds = ["mobile"] if company is None else ["landline"]
        if rng.random() < 0.06:  # no phone at all
            kinds = []
        elif rng.random() < 0.35:
            kinds.append("landline" if kinds[0] == "mobile" else "mobile")
        for kind in kinds:
            number, e164, formatted = self._phone(country, kind)
            ext = (
                str(rng.randint(10, 999))
                if kind == "landline" and company and rng.random() < 0.3
                else None
            )
            type_name = "Mobile" if kind == "mobile" else ("Work" if company else "Home")
            chunk.add(
                "phones",
                (
                    self.next_phone_id,
                    cid,
                    lk.phone_types[type_name],
                    f"+{self.phones[country.code][kind][0].calling_code}",
                    number,
                    ext,
                    e164,
                    formatted,
                ),
            )
            self.next_phone_id += 1
            phones.append(SimpleNamespace(e164=e164, number=number))

        city = country.cities[_pick(rng, self.city_cw[country.code])]
        city_key = self.fold_cache.get(city.name)
        if city_key is None:
            city_key = self.fold_cache[city.name] = self._fold(city.name)
        chunk.add(
            "addresses",
            (
                self.next_address_id,
                cid,
                lk.address_types["Main"],
                f"{rng.choice(country.streets)} {rng.randint(1, 180)}",
                None,
                city.name,
                city_key,
                city.region,
                fill(country.postcode.replace("9", "#"), rng).replace(
                    "A", rng.choice("ABDEHLMNPRSTW")
                ),
                country.code,
                city.latitude,
                city.longitude,
                "gazetteer:city",
            ),
        )
        self.next_address_id += 1
        if rng.random() < 0.2:
            slug = f"{handle.replace('.', '-')}-{rng.randint(1, 9999)}"
            chunk.add(
                "social_links",
                (
                    self.next_link_id,
                    cid,
                    lk.linkedin_id,
                    slug,
                    f"https://www.linkedin.com/in/{slug}",
                ),
            )
            self.next_link_id += 1

        person = SimpleNamespace(
            first_name=first,
            middle_name=middle,
            last_name=last,
            email=email,
            email_secondary=email2,
            account=account,
        )
        chunk.add(
            "contacts",
            (
                cid,
                "b2b" if company else "b2c",
                account_id,
                is_primary,
                rng.choice(TITLES) if rng.random() < 0.2 else None,
                first,
                middle,
                last,
                rng.choice(JOB_TITLES) if company else None,
                owner,
                responsible,
                customer,
                prospect,
                birthday.date().isoformat() if birthday else None,
                birthday.month if birthday else None,
                "female" if female else "male",
                email,
                email2,
                None,
                1 if rng.random() < 0.4 else 0,
                1 if rng.random() < 0.05 else 0,
                1 if rng.random() < 0.03 else 0,
                rng.choice(("any", "any", "email", "mobile_phone", "work_phone")),
                manager,
                rng.choice(DEPARTMENTS) if company else None,
                None,
                country.timezone,
                country.language,
                None,
                "Met at the trade fair; call back in spring." if rng.random() < 0.05 else None,
                0 if rng.random() < 0.04 else 1,
                stamp(updated) if deleted else None,
                self.trash_deleter if deleted else None,
                self._search_text_for(person, phones),
                self._name_key_of(person),
                1 if phones else 0,
                1,
                stamp(created),
                stamp(updated),
            ),
        )
        self._sales(chunk, cid, customer, account_id, owner, created)

    def _sales(
        self, chunk: Chunk, cid: int, customer: str, account_id: int, owner: int, created: float
    ) -> None:
        """Deals (about one contact in eight; won ones for customers) and orders (customers
        buy one to four times), with their lines."""
        rng = self.rng
        if rng.random() < (0.35 if customer != "non_customer" else 0.03):
            product, price = rng.choice(PRODUCTS)
            opened = created + rng.random() * (NOW - created)
            stage = "won" if customer == "customer" else rng.choice(("open", "open", "lost"))
            closed = stamp(opened + rng.random() * (NOW - opened)) if stage != "open" else None
            close_on = datetime.fromtimestamp(opened + 86_400 * rng.randint(14, 180), UTC)
            chunk.add(
                "deals",
                (
                    self.next_deal_id,
                    f"{product} #{self.next_deal_id}",
                    f"{price * rng.randint(1, 20)}.00",
                    "EUR",
                    stage,
                    close_on.date().isoformat(),
                    closed,
                    owner,
                    account_id,
                    1,
                    stamp(opened),
                    stamp(opened),
                ),
            )
            chunk.add("deal_contacts", (self.next_deal_id, cid))
            self.next_deal_id += 1
        if customer != "customer":
            return
        for _ in range(rng.randint(1, 4)):
            ordered = created + rng.random() * (NOW - created)
            online = rng.random() < 0.6
            order_id = self.next_order_id
            self.next_order_id += 1
            lines, total = [], 0
            for _ in range(rng.randint(1, 3)):
                product, price = rng.choice(PRODUCTS)
                quantity = rng.randint(1, 5)
                total += price * quantity
                lines.append(
                    (
                        self.next_line_id,
                        order_id,
                        product,
                        f"{quantity}.000",
                        f"{price}.00",
                        f"{price * quantity}.00",
                    )
                )
                self.next_line_id += 1
            chunk.add(
                "orders",
                (
                    order_id,
                    f"SO-{order_id:08d}",
                    cid,
                    datetime.fromtimestamp(ordered, UTC).date().isoformat(),
                    "online_store" if online else "manual",
                    f"shop-{order_id}" if online else None,
                    rng.choice(("paid", "paid", "paid", "placed", "cancelled")),
                    "EUR",
                    f"{total}.00",
                    1,
                    stamp(ordered),
                    stamp(ordered),
                ),
            )
            for line in lines:
                chunk.add("order_lines", line)

    def _lead(self, chunk: Chunk, newest_contact: int) -> None:
        rng = self.rng
        country = COUNTRIES[_pick(rng, self.country_cw)]
        b2b = rng.random() < 0.6
        first = rng.choice(country.female if rng.random() < 0.5 else country.male)
        last = country.last[_pick(rng, self.last_cw[country.code])]
        company = self.companies[rng.randrange(len(self.companies))].name if b2b else None
        created = START + rng.random() * (NOW - START)
        status = rng.choice(("new", "new", "working", "qualified", "disqualified", "converted"))
        converted = status == "converted"
        lead_id = self.next_lead_id
        self.next_lead_id += 1
        chunk.add(
            "leads",
            (
                lead_id,
                status,
                "b2b" if b2b else "b2c",
                first,
                last,
                company,
                rng.choice(JOB_TITLES) if b2b else None,
                f"{ascii_slug(first)}.{ascii_slug(last)}{lead_id}@{rng.choice(country.free_mail)}",
                self._phone(country, "mobile")[0],
                rng.choice(country.cities).name,
                country.code,
                rng.choice(LEAD_SOURCES),
                self._owner(),
                rng.randint(1, newest_contact) if converted else None,
                stamp(created + 86_400) if converted else None,
                self._owner() if converted else None,
                1,
                stamp(created),
                stamp(created),
            ),
        )

    def _spread_links(self, chunk: Chunk, start: int, stop: int) -> None:
        """Tags, categories and criteria over the chunk's contacts, each with its share."""
        rng, size = self.rng, stop - start
        ids = range(start, stop)

        def sample(share: float) -> list[int]:
            expected = share * size
            k = int(expected) + (rng.random() < expected - int(expected))
            return rng.sample(ids, min(size, k))

        for name, share in TAGS:
            tag_id = self.lk.tag_ids[name]
            for cid in sample(share):
                chunk.add("contact_tags", (cid, tag_id))
        categories = self.lk.category_ids
        cat_cw = _skewed(len(categories), 0.8)
        for cid in sample(0.35):
            first = _pick(rng, cat_cw)
            chunk.add("contact_categories", (cid, categories[first]))
            if rng.random() < 0.15:
                second = rng.randrange(len(categories))
                if second != first:
                    chunk.add("contact_categories", (cid, categories[second]))
        for cid in sample(0.12):
            chunk.add("contact_criteria", (cid, rng.choice(self.lk.contact_criterion_ids)))


def _cumulate(values) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    """An index drawn with the given cumulative weights."""
    from bisect import bisect

    return min(bisect(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


# ---- the writers ------------------------------------------------------------------------


class SqliteLoader:
    """Bulk writes into an SQLite file, secondary indexes and FTS triggers dropped meanwhile."""

    def __init__(self, path: Path):
        self.path = path
        self.con = sqlite3.connect(path, isolation_level=None)
        self.saved: list[tuple[str, str, str]] = []

    def schema(self) -> set[tuple[str, str, str]]:
        return set(
            self.con.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
            ).fetchall()
        )

    def begin(self) -> None:
        con = self.con
        self.before = self.schema()
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-400000")
        con.execute("PRAGMA temp_store=MEMORY")
        con.execute("PRAGMA foreign_keys=OFF")
        marks = ",".join("?" * len(LOADED_TABLES))
        self.saved = con.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "  # noqa: S608
            f"AND sql IS NOT NULL AND tbl_name IN ({marks}) ORDER BY type, name",
            LOADED_TABLES,
        ).fetchall()
        for kind, name, _sql in self.saved:
            con.execute(f'DROP {kind.upper()} "{name}"')
        con.execute("BEGIN")

    def write(self, chunk: Chunk) -> None:
        for table in LOADED_TABLES:
            rows = chunk.rows.get(table)
            if rows:
                cols = COLUMNS[table]
                self.con.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) "  # noqa: S608 - our own names
                    f"VALUES ({', '.join('?' * len(cols))})",
                    rows,
                )

    def finish(self, log) -> None:
        con = self.con
        con.execute("COMMIT")
        started = time.perf_counter()
        for kind, _name, sql in self.saved:
            if kind == "index":
                con.execute(sql)
        log(f"indexes rebuilt in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for fts in ("contact_search", "order_search"):  # migrations 0002 and 0017
            con.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")  # noqa: S608
        log(f"FTS5 search indexes rebuilt in {time.perf_counter() - started:.1f} s")
        for kind, _name, sql in self.saved:
            if kind == "trigger":
                con.execute(sql)
        after = self.schema()
        if after != self.before:
            raise SystemExit(
                f"bench: schema differs after the load: {sorted(after ^ self.before)[:5]}"
            )
        started = time.perf_counter()
        con.execute("ANALYZE")
        log(f"ANALYZE in {time.perf_counter() - started:.1f} s")
        con.execute("PRAGMA journal_mode=WAL")
        con.close()


class PostgresLoader:
    """COPY into PostgreSQL, with the loaded tables' secondary indexes dropped meanwhile."""

    def __init__(self, url: str):
        import psycopg

        plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.con = psycopg.connect(plain, autocommit=True)
        self.saved: list[tuple[str, str]] = []

    def begin(self) -> None:
        con = self.con
        con.execute("SET TIME ZONE 'UTC'")
        con.execute("SET maintenance_work_mem = '512MB'")
        self.saved = con.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint) "
            "ORDER BY indexname",
            (list(LOADED_TABLES),),
        ).fetchall()
        for name, _sql in self.saved:
            con.execute(f'DROP INDEX "{name}"')

    def write(self, chunk: Chunk) -> None:
        with self.con.transaction(), self.con.cursor() as cur:
            for table in LOADED_TABLES:
                rows = chunk.rows.get(table)
                if rows:
                    cols = ", ".join(COLUMNS[table])
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)

    def finish(self, log) -> None:
        con = self.con
        started = time.perf_counter()
        for _name, sql in self.saved:
            con.execute(sql)
        log(f"indexes rebuilt in {time.perf_counter() - started:.1f} s")
        for table in LOADED_TABLES:
            if "id" in COLUMNS[table]:
                con.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
        started = time.perf_counter()
        con.execute("VACUUM ANALYZE")
        log(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
        con.close()


# ---- the whole seeding --------------------------------------------------------------------


@dataclass
class SeedReport:
    """How many contacts and rows were seeded, and how long it took (None: not known)."""

    contacts: int
    seconds: float | None
    rows: dict[str, int]
    reused: bool = False

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def of_existing(cls, database: Path) -> SeedReport:
        """The report saved next to a seeded SQLite file, else its row counts."""
        sidecar = database.with_name(database.name + ".seed.json")
        if sidecar.exists():
            return cls(**{**json.loads(sidecar.read_text()), "reused": True})
        con = sqlite3.connect(database)
        try:
            rows = {
                t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                for t in LOADED_TABLES
            }
        finally:
            con.close()
        return cls(rows["contacts"], None, rows, reused=True)


def bench_config(database_url: str, instance: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret-key",
        "CRM_PASSWORD_HASH_METHOD": HASH_METHOD,
        "CRM_DEFAULT_PHONE_REGION": "US",
        "CRM_GEOCODER": "none",
        "FLASK_ADMIN_RAISE_ON_VIEW_EXCEPTION": True,
    }


def seed(database_url: str, instance: Path, n: int, seed_value: int = 1, log=print) -> SeedReport:
    """Migrate the (empty) database, then fill it with `n` contacts."""
    from flask_migrate import upgrade

    from crm import create_app
    from crm.extensions import db

    started = time.perf_counter()
    app = create_app(bench_config(database_url, instance))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    check_columns(app)
    log(f"migrated in {time.perf_counter() - started:.1f} s")
    lookups = prepare_small_tables(app)

    generator = Generator(n, lookups, seed_value)
    if database_url.startswith("sqlite"):
        loader: SqliteLoader | PostgresLoader = SqliteLoader(
            Path(database_url.removeprefix("sqlite:///"))
        )
    else:
        loader = PostgresLoader(database_url)
    loader.begin()
    counts: dict[str, int] = {}

    def tally(chunk: Chunk) -> None:
        for table, rows in chunk.rows.items():
            counts[table] = counts.get(table, 0) + len(rows)

    chunk = generator.company_rows()
    loader.write(chunk)
    tally(chunk)
    load_started = time.perf_counter()
    done = 0
    for chunk in generator.chunks():
        loader.write(chunk)
        tally(chunk)
        done += len(chunk.rows["contacts"])
        if done % 200_000 == 0 or done == n:
            rate = done / (time.perf_counter() - load_started)
            log(f"{done:,} contacts written ({rate:,.0f}/s)")
    loader.finish(log)
    seconds = time.perf_counter() - started
    log(f"seeded {n:,} contacts in {seconds:.1f} s")
    report = SeedReport(n, round(seconds, 1), counts)
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        report.save(path.with_name(path.name + ".seed.json"))
    return report
