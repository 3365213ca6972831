"""The demo: a small team, realistic contacts (several countries, B2B and B2C, phones,
addresses and links) spread over its members, with tags, categories, segments, a marketing
list, leads, deals, orders, notes, interactions, tasks and appointments.

Everything goes through the services, as the team member whose work it is (so the history
reads as real work), and through the same rules as what a user types: demo data is valid
data. A seed makes it repeatable.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

import phonenumbers
from sqlalchemy import Select, select

from crm.auth.permissions import can
from crm.errors import DomainError
from crm.extensions import db
from crm.models import (
    Account,
    Contact,
    ContactKind,
    ContactPreference,
    CustomerStatus,
    Gender,
    ProspectStatus,
    Role,
    User,
)
from crm.services.contacts.saving import create_contact
from crm.services.platform.audit import acting_as
from crm.services.platform.users import create_user, generate_password
from crm.services.transfer.demo_campaigns import seed_demo_campaigns


@dataclass(frozen=True)
class Country:
    code: str
    timezone: str
    language: str
    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]  # (city, region)
    streets: tuple[str, ...]
    postcode: str  # pattern: 9 = digit, A = letter
    company_suffix: tuple[str, ...]
    free_mail: tuple[str, ...]


COUNTRIES = (
    Country(
        "US",
        "America/New_York",
        "en",
        ("Emma", "Olivia", "Ava", "Sophia", "Mia", "Abigail", "Emily", "Ana"),
        ("Liam", "Noah", "James", "William", "Benjamin", "Lucas", "Henry", "Michael"),
        (
            "Smith",
            "Johnson",
            "Williams",
            "Brown",
            "Jones",
            "Miller",
            "Davis",
            "Wilson",
            "Anderson",
            "Taylor",
            "Moore",
            "Jackson",
        ),
        (
            ("New York", "NY"),
            ("Chicago", "IL"),
            ("Houston", "TX"),
            ("Phoenix", "AZ"),
            ("Seattle", "WA"),
            ("Boston", "MA"),
        ),
        ("Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Park Road"),
        "99999",
        ("Inc.", "LLC", "Corp."),
        ("gmail.com", "outlook.com", "yahoo.com"),
    ),
    Country(
        "GB",
        "Europe/London",
        "en",
        ("Olivia", "Amelia", "Isla", "Ava", "Grace", "Freya"),
        ("Oliver", "George", "Harry", "Jack", "Charlie", "Thomas"),
        (
            "Smith",
            "Jones",
            "Taylor",
            "Brown",
            "Williams",
            "Wilson",
            "Evans",
            "Griffiths",
            "Whitehead",
            "Blackwood",
        ),
        (
            ("London", "England"),
            ("Manchester", "England"),
            ("Birmingham", "England"),
            ("Leeds", "England"),
            ("Glasgow", "Scotland"),
            ("Bristol", "England"),
        ),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane"),
        "AA9 9AA",
        ("Ltd", "plc", "LLP"),
        ("gmail.com", "outlook.com", "btinternet.com"),
    ),
    Country(
        "DE",
        "Europe/Berlin",
        "de",
        ("Anna", "Lena", "Sophie", "Marie", "Hannah", "Katharina", "Jürgen"),
        ("Lukas", "Jonas", "Leon", "Felix", "Maximilian", "Jürgen", "Stefan"),
        (
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Meyer",
            "Wagner",
            "Becker",
            "Schäfer",
            "Koch",
        ),
        (
            ("Berlin", "Berlin"),
            ("Hamburg", "Hamburg"),
            ("München", "Bayern"),
            ("Köln", "Nordrhein-Westfalen"),
            ("Stuttgart", "Baden-Württemberg"),
        ),
        ("Hauptstraße", "Schulstraße", "Gartenweg", "Bahnhofstraße", "Lindenallee"),
        "99999",
        ("GmbH", "AG", "KG"),
        ("web.de", "gmx.de", "t-online.de"),
    ),
    Country(
        "FR",
        "Europe/Paris",
        "fr",
        ("Camille", "Léa", "Manon", "Chloé", "Inès", "Louise"),
        ("Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules"),
        (
            "Martin",
            "Bernard",
            "Dubois",
            "Thomas",
            "Robert",
            "Richard",
            "Petit",
            "Durand",
            "Lefèvre",
        ),
        (
            ("Paris", "Île-de-France"),
            ("Lyon", "Auvergne-Rhône-Alpes"),
            ("Marseille", "Provence-Alpes-Côte d'Azur"),
            ("Toulouse", "Occitanie"),
            ("Nantes", "Pays de la Loire"),
        ),
        ("Rue de la Paix", "Avenue Victor Hugo", "Rue des Lilas", "Boulevard Voltaire"),
        "99999",
        ("SARL", "SA", "SAS"),
        ("orange.fr", "free.fr", "gmail.com"),
    ),
    Country(
        "ES",
        "Europe/Madrid",
        "es",
        ("Lucía", "Sofía", "Martina", "María", "Paula", "Julia"),
        ("Hugo", "Mateo", "Martín", "Lucas", "Leo", "Daniel"),
        ("García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez"),
        (
            ("Madrid", "Madrid"),
            ("Barcelona", "Cataluña"),
            ("Valencia", "Valencia"),
            ("Sevilla", "Andalucía"),
            ("Bilbao", "País Vasco"),
        ),
        ("Calle Mayor", "Avenida de la Constitución", "Calle del Sol", "Paseo del Prado"),
        "99999",
        ("S.L.", "S.A."),
        ("gmail.com", "hotmail.es", "yahoo.es"),
    ),
    Country(
        "BR",
        "America/Sao_Paulo",
        "pt",
        ("Maria", "Ana", "Júlia", "Beatriz", "Larissa", "Camila"),
        ("João", "Pedro", "Lucas", "Gabriel", "Rafael", "Mateus"),
        ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Ferreira"),
        (
            ("São Paulo", "SP"),
            ("Rio de Janeiro", "RJ"),
            ("Belo Horizonte", "MG"),
            ("Curitiba", "PR"),
            ("Salvador", "BA"),
        ),
        ("Rua das Flores", "Avenida Paulista", "Rua Augusta", "Rua do Comércio"),
        "99999-999",
        ("Ltda.", "S.A."),
        ("gmail.com", "uol.com.br", "hotmail.com"),
    ),
)

COMPANY_WORDS = (
    "Logistics",
    "Consulting",
    "Software",
    "Foods",
    "Design",
    "Energy",
    "Medical",
    "Travel",
    "Media",
    "Textiles",
    "Motors",
    "Analytics",
)
JOB_TITLES = (
    "Sales Manager",
    "CEO",
    "Purchasing Manager",
    "Office Manager",
    "CTO",
    "Marketing Lead",
    "Accountant",
    "Project Manager",
    "Buyer",
    "Engineer",
)
DEPARTMENTS = ("Sales", "Purchasing", "Finance", "IT", "Marketing", "Operations")


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch in ".-"))


def _pattern(rng: random.Random, pattern: str) -> str:
    return "".join(
        str(rng.randint(0, 9))
        if ch == "9"
        else rng.choice("ABCDEFGHJKLMNPRSTUWY")
        if ch == "A"
        else ch
        for ch in pattern
    )


def _phone(rng: random.Random, region: str, mobile: bool) -> str:
    """A number libphonenumber accepts: the region's example with random digits."""
    kind = (
        phonenumbers.PhoneNumberType.MOBILE if mobile else (phonenumbers.PhoneNumberType.FIXED_LINE)
    )
    example = phonenumbers.example_number_for_type(region, kind)
    national = str(example.national_number)
    for _ in range(20):
        candidate = national[:-4] + "".join(str(rng.randint(0, 9)) for _ in range(4))
        parsed = phonenumbers.parse(candidate, region)
        if phonenumbers.is_valid_number(parsed):
            return candidate
    return national


def _seeding_user() -> User:
    user = db.session.scalar(
        select(User)
        .join(User.roles)
        .where(Role.name == "crm_admin", User.active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
    if user is None:
        raise DomainError("Create an administrator first (flask --app app crm bootstrap).")
    return user


DUPLICATE_SHARE = 0.02  # contacts entered twice, as in every real address book

# The demo's team besides the first administrator: they own the demo contacts, are
# responsible for them and do the work its history tells (emails under example.com).
DEMO_TEAM = (
    ("maria.keller@example.com", "Maria Keller", "crm_manager"),
    ("tom.baker@example.com", "Tom Baker", "crm_sales"),
    ("sara.lindqvist@example.com", "Sara Lindqvist", "crm_sales"),
    ("lena.ortiz@example.com", "Lena Ortiz", "crm_marketeer"),
)


@dataclass(frozen=True)
class NewUser:
    """A demo user just created, with the password generated for them."""

    email: str
    full_name: str
    role: str
    password: str


def seed_demo_team() -> list[NewUser]:
    """The demo's team (a manager, two sales people, a marketeer), each created when missing
    with a generated password; returned so that the caller shows the passwords once, as it
    does the first administrator's (no demo password is stored or written anywhere)."""
    made = []
    for email, name, role in DEMO_TEAM:
        if db.session.scalar(select(User.id).where(User.email == email)) is None:
            password = generate_password()
            create_user(email, password, [role], full_name=name)
            made.append(NewUser(email, name, role, password))
    return made


@dataclass(frozen=True)
class Cast:
    """Who does what in the demo; a team member who is missing (or inactive) is stood in
    for by the administrator."""

    admin: User
    manager: User
    sales: tuple[User, ...]
    marketeer: User

    @property
    def everyone(self) -> list[User]:
        people = [self.admin, self.manager, *self.sales, self.marketeer]
        return [u for n, u in enumerate(people) if u not in people[:n]]

    def first_who_may(self, permission: str, *people: User) -> User | None:
        """The first of `people` (else of the whole team) holding `permission`."""
        return next((u for u in (*people, *self.everyone) if can(u, permission)), None)


def _cast() -> Cast:
    admin = _seeding_user()
    team = {
        u.email: u
        for u in db.session.scalars(
            select(User).where(User.email.in_([e for e, _, _ in DEMO_TEAM]), User.active)
        )
    }

    def members(role: str) -> list[User]:
        return [team[e] for e, _, r in DEMO_TEAM if r == role and e in team]

    return Cast(
        admin=admin,
        manager=(members("crm_manager") or [admin])[0],
        sales=tuple(members("crm_sales")) or (admin,),
        marketeer=(members("crm_marketeer") or [admin])[0],
    )


def seed_demo_data(count: int, seed: int | None = None) -> int:
    """Add `count` demo contacts in the current transaction; returns how many were added.
    Each is created by its owner, one of the active users who may create contacts."""
    rng = random.Random(seed)
    _seeding_user()
    owners = [
        user
        for user in db.session.scalars(select(User).where(User.active).order_by(User.id))
        if can(user, "contact.create")
    ]
    companies: dict[str, list[Account]] = {c.code: [] for c in COUNTRIES}
    created = 0
    made: list[dict] = []
    for _ in range(count):
        if made and rng.random() < DUPLICATE_SHARE:
            # The same person entered twice (for Possible duplicates): same email and
            # phone, the name typed in capitals, fewer details, another job title.
            base = rng.choice(made)
            twin = {k: v for k, v in base.items() if k not in {"birthday", "department"}}
            twin["first_name"] = base["first_name"].upper()
            if "job_title" in base:
                twin["job_title"] = rng.choice(JOB_TITLES)
            with acting_as(twin["owner"]):
                create_contact(twin["owner"], twin)
            created += 1
            continue
        data = _person(rng, owners, companies)
        with acting_as(data["owner"]):
            create_contact(data["owner"], data)
        made.append(data)
        created += 1
    return created


def _person(rng: random.Random, owners: list[User], companies: dict[str, list[Account]]) -> dict:
    """The values of one demo contact, as create_contact takes them."""
    country = rng.choice(COUNTRIES)
    female = rng.random() < 0.5
    first = rng.choice(country.female if female else country.male)
    last = rng.choice(country.last)
    city, region = rng.choice(country.cities)
    b2b = rng.random() < 0.6
    data: dict = {
        "first_name": first,
        "last_name": last,
        "gender": Gender.FEMALE if female else Gender.MALE,
        "owner": rng.choice(owners),
        "timezone": country.timezone,
        "language": country.language,
        "customer_status": rng.choice(list(CustomerStatus)),
        "prospect_status": rng.choice(list(ProspectStatus)),
        "contact_preference": rng.choice(list(ContactPreference)),
        "email_marketing": rng.random() < 0.4,
        "do_not_call": rng.random() < 0.05,
    }
    if rng.random() < 0.7:
        data["birthday"] = _birthday(rng)
    handle = f"{_ascii(first)}.{_ascii(last)}".lower()
    if b2b:
        pool = companies[country.code]
        if not pool or (len(pool) < 40 and rng.random() < 0.3):
            name = (
                f"{rng.choice(country.last)} {rng.choice(COMPANY_WORDS)} "
                f"{rng.choice(country.company_suffix)}"
            )
            account = db.session.scalar(
                select(Account).where(Account.name == name, Account.is_hidden.is_(False))
            ) or Account(
                name=name,
                owner=data["owner"],
                website=f"https://www.{_ascii(name.split()[0]).lower()}-"
                f"{_ascii(name.split()[1]).lower()}.example",
            )
            pool.append(account)
        account = rng.choice(pool)
        domain = (account.website or "https://www.example.com").split("www.")[-1]
        data.update(
            account=account,
            job_title=rng.choice(JOB_TITLES),
            department=rng.choice(DEPARTMENTS),
            email=f"{handle}@{domain}",
        )
    else:
        data["email"] = f"{handle}{rng.randint(1, 999)}@{rng.choice(country.free_mail)}"
    phones = [
        {
            "type": "Mobile",
            "country_code": country.code,
            "number": _phone(rng, country.code, mobile=True),
        }
    ]
    if b2b or rng.random() < 0.3:
        phones.append(
            {
                "type": "Work",
                "country_code": country.code,
                "number": _phone(rng, country.code, mobile=False),
                "extension": str(rng.randint(10, 999)) if b2b else None,
            }
        )
    data["phones"] = phones
    street = f"{rng.choice(country.streets)} {rng.randint(1, 180)}"
    data["addresses"] = [
        {
            "type": "Main",
            "street": street,
            "city": city,
            "region": region,
            "country": country.code,
            "postal_code": _pattern(rng, country.postcode),
        }
    ]
    if not b2b and rng.random() < 0.3:
        data["addresses"].append({**data["addresses"][0], "type": "Delivery"})
    if rng.random() < 0.4:
        data["social_links"] = [
            {
                "platform": "LinkedIn",
                "handle": f"{handle.replace('.', '-')}-{rng.randint(1, 9999)}",
            }
        ]
    return data


def _birthday(rng: random.Random) -> date:
    return date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))


@dataclass(frozen=True)
class _Row:
    id: int
    kind: ContactKind
    owner_id: int | None
    responsible_id: int | None
    email_marketing: bool
    customer_status: CustomerStatus


def _demo_rows(limit: int = 2000) -> list[_Row]:
    """The first live contacts, as the list steps pick among them."""
    rows = db.session.execute(
        select(
            Contact.id,
            Contact.kind,
            Contact.owner_id,
            Contact.responsible_id,
            Contact.email_marketing,
            Contact.customer_status,
        )
        .where(Contact.deleted_at.is_(None))
        .order_by(Contact.id)
        .limit(limit)
    )
    return [_Row(*row) for row in rows]


def _ids(rows: list[_Row]) -> Select:
    return select(Contact.id).where(Contact.id.in_([r.id for r in rows]))


def _some(rng: random.Random, rows: list[_Row], share: float) -> list[_Row]:
    return [r for r in rows if rng.random() < share]


TAGS = (  # (tag, who adds it, which contacts, share of them)
    ("Newsletter", "marketeer", "email_marketing", 1.0),
    ("VIP", "manager", "all", 0.08),
    ("Trade fair 2026", "sales", "all", 0.12),
    ("Tea lover", "marketeer", "b2c", 0.2),
    ("Key account", "manager", "b2b", 0.12),
    ("Call back", "sales", "all", 0.06),
)
CATEGORIES = (  # (category, which contacts, share of them)
    ("Customer", "customers", 1.0),
    ("Partner", "b2b", 0.08),
    ("Reseller", "b2b", 0.06),
    ("Supplier", "b2b", 0.05),
    ("Press", "all", 0.03),
)


def seed_demo_lists(seed: int | None = None) -> None:
    """Responsible users, tags, categories, segments, a marketing list and a contact in the
    trash, among the demo contacts, each set by the team member whose work it is."""
    from crm.models import Category, MarketingList, Segment, SegmentKind
    from crm.services.contacts import bulk
    from crm.services.contacts.trash import delete_contact
    from crm.services.lists import segments

    rng = random.Random(seed)
    cast = _cast()
    rows = _demo_rows()
    if not rows:
        return
    # Responsible users: the manager puts a sales person (or herself) in charge of most
    # contacts, the owner when a sales person owns it.
    assigner = cast.first_who_may("contact.assign_responsible", cast.manager)
    if assigner is not None:
        helpers = [*cast.sales, cast.manager]
        sales_ids = {u.id for u in cast.sales}
        chosen: dict[int, list[_Row]] = {}
        for row in rows:
            if rng.random() < 0.7:
                user = next((u for u in cast.sales if u.id == row.owner_id), None)
                if user is None or row.owner_id not in sales_ids or rng.random() < 0.2:
                    user = rng.choice(helpers)
                chosen.setdefault(user.id, []).append(row)
        with acting_as(assigner):
            for user_id, group in chosen.items():
                bulk.set_responsible(assigner, _ids(group), user_id)
        # Bulk updates go around the session: what it holds of those contacts is stale.
        db.session.expire_all()
    groups = {
        "all": rows,
        "b2b": [r for r in rows if r.kind is ContactKind.B2B],
        "b2c": [r for r in rows if r.kind is ContactKind.B2C],
        "email_marketing": [r for r in rows if r.email_marketing],
        "customers": [r for r in rows if r.customer_status is CustomerStatus.CUSTOMER],
    }
    tagged: dict[str, list[_Row]] = {}
    for n, (tag, who, among, share) in enumerate(TAGS):
        actor = {"marketeer": cast.marketeer, "manager": cast.manager}.get(who)
        actor = actor or cast.sales[n % len(cast.sales)]
        tagged[tag] = _some(rng, groups[among], share) or groups["all"][:1]
        with acting_as(actor):
            bulk.add_tags(actor, _ids(tagged[tag]), [tag])
    for name, among, share in CATEGORIES:
        category = db.session.scalar(select(Category).where(Category.name == name))
        members = _some(rng, groups[among], share)
        if category is not None and category.active and members:
            with acting_as(cast.marketeer):
                bulk.add_category(cast.marketeer, _ids(members), category.id)
    # Segments: a hand-picked one by a sales person, a saved filter by the manager.
    fair = Segment(
        name="Spring trade fair invitations",
        kind=SegmentKind.STATIC,
        description="People to invite to our stand at the spring trade fair.",
    )
    vip = Segment(
        name="VIP customers",
        kind=SegmentKind.DYNAMIC,
        description="Customers tagged VIP, as the contact list finds them now.",
        query="flt0_tag_is=VIP&flt1_customer_status_is=customer",
    )
    for segment, actor, members in (
        (fair, cast.sales[0], tagged["Trade fair 2026"] + _some(rng, rows, 0.05)),
        (vip, cast.manager, []),
    ):
        with acting_as(actor):
            db.session.add(segment)
            segments.save_segment(actor, segment)
            db.session.flush()
            if members:
                bulk.add_to_segment(actor, _ids(members), segment.id)
    # A marketing list made by the marketeer, filled by whoever may add members.
    newsletter = MarketingList(name="Autumn newsletter", active=True,
                               description="Tea news and offers, sent in October.")  # fmt: skip
    with acting_as(cast.marketeer):
        db.session.add(newsletter)
        segments.save_marketing_list(cast.marketeer, newsletter)
        db.session.flush()
    filler = cast.first_who_may("marketing_list.add_members", cast.manager, *cast.sales)
    if filler is not None:
        with acting_as(filler):
            bulk.add_to_marketing_list(filler, _ids(tagged["Newsletter"]), newsletter.id)
    # A test entry a sales person typed, which the manager moved to the trash.
    tester = cast.sales[-1]
    remover = cast.first_who_may("contact.delete", cast.manager)
    with acting_as(tester):
        trial = create_contact(tester, {"first_name": "Test", "last_name": "Entry",
                                        "email": "test.entry@example.com"})  # fmt: skip
    if remover is not None:
        with acting_as(remover):
            delete_contact(remover, trial)


LEAD_SOURCES = ("Web form", "Trade fair", "Referral", "Cold call", "Newsletter")
DEAL_TITLES = ("Website relaunch", "Annual licence", "Support contract", "Pilot project",
               "Hardware refresh", "Training days", "Consulting")  # fmt: skip
PRODUCTS = (("Tea pot", "19.90"), ("Green tea 250 g", "8.50"), ("Cups (set of 4)", "24.00"),
            ("Gift card", "50.00"), ("Kettle", "39.90"))  # fmt: skip


def _worker(cast: Cast, contact: Contact, permission: str) -> User:
    """Who works on `contact`: its responsible user, else its owner, else a sales person
    (the first of them who holds `permission`)."""
    people = {u.id: u for u in cast.everyone}
    candidates = [people.get(contact.responsible_id), people.get(contact.owner_id), *cast.sales]
    found = cast.first_who_may(permission, *[u for u in candidates if u is not None])
    return found or cast.admin


def seed_demo_sales(seed: int | None = None, leads: int = 25, deals: int = 40) -> None:
    """Leads, deals (open, won, lost), orders from the shop and by hand, and payments, among
    the demo contacts, in the current transaction; the status rules follow them. Leads come
    from the marketeer and the sales people, deals from whoever works on the contact, orders
    and payments are entered by the manager (the shop's by the administrator)."""
    from decimal import Decimal

    from crm.models import Deal, DealStage, Lead, LeadStatus
    from crm.services.sales import deals as deal_service
    from crm.services.sales import leads as lead_service
    from crm.services.sales import orders

    rng = random.Random(seed)
    cast = _cast()
    contacts = db.session.scalars(
        select(Contact).where(Contact.deleted_at.is_(None)).order_by(Contact.id).limit(400)
    ).all()
    if not contacts:
        return
    lead_makers = [cast.marketeer, *cast.sales]
    for n in range(leads):
        country = rng.choice(COUNTRIES)
        first, last = rng.choice(country.female + country.male), rng.choice(country.last)
        b2b = rng.random() < 0.6
        lead = Lead(
            first_name=first, last_name=last, kind="b2b" if b2b else "b2c",
            company=f"{rng.choice(country.last)} {rng.choice(COMPANY_WORDS)}" if b2b else None,
            email=f"{_ascii(first).lower()}.{_ascii(last).lower()}@{rng.choice(country.free_mail)}",
            phone=_phone(rng, country.code, mobile=True), country=country.code,
            city=rng.choice(country.cities)[0], source=rng.choice(LEAD_SOURCES),
            status=rng.choice([s for s in LeadStatus if s != LeadStatus.CONVERTED]),
        )  # fmt: skip
        actor = cast.first_who_may("lead.edit", lead_makers[n % len(lead_makers)])
        with acting_as(actor):
            lead_service.save_lead(actor, lead, is_new=True)
    by_account: dict[int, list[Contact]] = {}
    for contact in contacts:
        by_account.setdefault(contact.account_id, []).append(contact)
    for _ in range(deals):
        contact = rng.choice(contacts)
        actor = _worker(cast, contact, "deal.edit")
        deal = Deal(
            title=rng.choice(DEAL_TITLES),
            amount=Decimal(rng.randint(5, 200) * 100),
            currency=rng.choice(("EUR", "EUR", "USD", "GBP")),
            expected_close=date.today() + timedelta(days=rng.randint(-60, 120)),
            stage=rng.choice((DealStage.OPEN, DealStage.OPEN, DealStage.WON, DealStage.LOST)),
        )
        deal.contacts = [contact]
        if not contact.account.is_hidden:
            deal.account = contact.account
            colleagues = [c for c in by_account[contact.account_id] if c is not contact]
            if colleagues and rng.random() < 0.5:
                deal.contacts.append(rng.choice(colleagues))
        with acting_as(actor):
            deal_service.save_deal(actor, deal, is_new=True)
    clerk = cast.first_who_may("order.edit", cast.manager)
    if clerk is None:
        return
    for n in range(30):
        lines = [
            {"description": name, "quantity": rng.randint(1, 3), "unit_price": price}
            for name, price in rng.sample(PRODUCTS, rng.randint(1, 3))
        ]
        day = (date.today() - timedelta(days=rng.randint(0, 365))).isoformat()
        buyer = rng.choice(contacts)
        if n % 3 == 0:
            if buyer.email:
                with acting_as(cast.admin):
                    orders.post_store_order(cast.admin, {
                        "external_id": f"shop-{1000 + n}", "ordered_on": day, "lines": lines,
                        "customer": {"email": buyer.email},
                    })  # fmt: skip
            continue
        with acting_as(clerk):
            order = orders.create_order(clerk, buyer, {"ordered_on": day, "lines": lines})
            if rng.random() < 0.7:
                orders.record_payment(clerk, buyer, {"amount": order.total, "order_id": order.id,
                                                     "method": rng.choice(("card", "transfer")),
                                                     "paid_on": day})  # fmt: skip


CALL_SUBJECTS = ("Asked for a quote", "Question about an invoice", "Follow-up call",
                 "Complaint about a delivery", "Renewal of the contract")  # fmt: skip
NOTE_TEXTS = ("Prefers calls in the morning.", "Met at the trade fair in spring.",
              "Decides with her partner; send both the offer.", "Budget review in Q3.")  # fmt: skip
OWN_TASKS = ("Send the offer to {}", "Check the invoice of {}", "Prepare the meeting with {}")


def seed_demo_card(seed: int | None = None) -> None:
    """What the contact card shows among the first demo contacts, each by whoever works on
    the contact: notes (one private), comments, interactions, edits, tasks (some done, some
    overdue, and for every member of the team one due today and one overdue), a task for a
    company, appointments and connections."""
    from crm.models import Connection, ConnectionType, TaskStatus
    from crm.models.base import utcnow
    from crm.services.card import activity, appointments, connections, interactions, notes, tasks
    from crm.services.contacts.saving import save_contact
    from crm.services.platform import local_time

    rng = random.Random(seed)
    cast = _cast()
    people = db.session.scalars(
        select(Contact).where(Contact.deleted_at.is_(None)).order_by(Contact.id).limit(60)
    ).all()
    kinds = db.session.scalars(select(ConnectionType).order_by(ConnectionType.position)).all()
    if len(people) < 2:
        return
    today = local_time.today()  # "due today" on the home page is the office's today
    for a, b in zip(people[40:50], people[50:60], strict=False):
        if kinds and not db.session.scalar(
            select(Connection.id).where(Connection.contact_id == a.id)
        ):
            actor = _worker(cast, a, "connection.edit")
            with acting_as(actor):
                connections.connect(actor, a, b.id, rng.choice(kinds).id)
    # Every member of the team finds something due today and something overdue at home.
    for n, user in enumerate(cast.everyone):
        if not can(user, "task.edit"):
            continue
        for days, person in ((0, people[(2 * n) % len(people)]),
                             (-3 - n, people[(2 * n + 1) % len(people)])):  # fmt: skip
            with acting_as(user):
                tasks.save_task(user, None, {
                    "title": OWN_TASKS[(n + days) % len(OWN_TASKS)].format(person.first_name),
                    "contact_id": person.id, "due_on": today + timedelta(days=days),
                })  # fmt: skip
    for n, person in enumerate(people[:40]):
        actor = _worker(cast, person, "note.write")
        with acting_as(actor):
            notes.add_note(actor, person, rng.choice(NOTE_TEXTS), private=n % 7 == 0)
            if n % 2 == 0:
                activity.post_comment(actor, person, "Sent the new price list.")
            when = utcnow() - timedelta(days=rng.randint(0, 90), hours=rng.randint(0, 8))
            interactions.register(actor, person, {
                "medium": rng.choice(("call", "call", "email", "meeting", "letter")),
                "direction": rng.choice(("in", "out")),
                "status": rng.choice(("open", "closed", "closed", "archived")),
                "subject": rng.choice(CALL_SUBJECTS), "occurred_at": when,
            })  # fmt: skip
            if n % 5 == 1:  # after the call, the status moves on
                person.prospect_status = rng.choice(
                    [s for s in ProspectStatus if s != person.prospect_status]
                )
                save_contact(actor, person, is_new=False)
            if n % 3 == 0:
                due = today + timedelta(days=rng.randint(-10, 20))
                task = tasks.save_task(
                    actor,
                    None,
                    {"title": f"Call {person.first_name} back", "contact_id": person.id,
                     "due_on": due},
                )  # fmt: skip
                if n % 4 == 0:
                    tasks.set_status(actor, task, TaskStatus.DONE)
            if n % 8 == 0:
                start = (utcnow() + timedelta(days=rng.randint(-20, 30))).replace(
                    hour=9 + rng.randint(0, 7), minute=0, second=0, microsecond=0
                )
                appointments.save_appointment(actor, None, {
                    "subject": f"Meeting with {person}", "place": "Office",
                    "starts_at": start, "ends_at": start + timedelta(hours=1),
                    "contact_ids": [person.id], "user_ids": [actor.id],
                })  # fmt: skip
    company = next((p.account for p in people if not p.account.is_hidden), None)
    if company is not None:
        with acting_as(cast.manager):
            tasks.save_task(cast.manager, None, {
                "title": f"Review the contract with {company.name}",
                "account_id": company.id, "due_on": today + timedelta(days=7),
            })  # fmt: skip


@dataclass(frozen=True)
class DemoLoad:
    """What load_demo added: the contacts, and the team members it created."""

    contacts: int
    new_users: list[NewUser]


def load_demo(contacts: int, seed: int = 1) -> DemoLoad:
    """The whole demo, in the current transaction: the team, `contacts` contacts spread
    over its members, then lists, sales and the cards' activity. DomainError when there is
    no active administrator (nothing is added then)."""
    _seeding_user()
    team = seed_demo_team()
    created = seed_demo_data(contacts, seed=seed)
    seed_demo_lists(seed=seed)
    seed_demo_sales(seed=seed)
    seed_demo_card(seed=seed)
    seed_demo_campaigns(_cast().marketeer, seed=seed)
    return DemoLoad(created, team)
