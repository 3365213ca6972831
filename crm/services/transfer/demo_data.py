"""Realistic demo contacts: several countries, B2B and B2C, phones, addresses and links.

Every value goes through the same rules as a contact typed into the form
(services.contacts.create_contact), so demo data is valid data.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select

from crm.errors import DomainError
from crm.extensions import db
from crm.models import (
    Account,
    ContactPreference,
    CustomerStatus,
    Gender,
    ProspectStatus,
    Role,
    User,
)
from crm.services.contacts.saving import create_contact
from crm.services.platform.audit import acting_as


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


def seed_demo_data(count: int, seed: int | None = None) -> int:
    """Add `count` demo contacts in the current transaction; returns how many were added."""
    rng = random.Random(seed)
    admin = _seeding_user()
    owners = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    companies: dict[str, list[Account]] = {c.code: [] for c in COUNTRIES}
    created = 0
    made: list[dict] = []
    with acting_as(admin):
        for _ in range(count):
            if made and rng.random() < DUPLICATE_SHARE:
                # The same person entered twice (for Possible duplicates): same email and
                # phone, the name typed in capitals, fewer details, another job title.
                base = rng.choice(made)
                twin = {k: v for k, v in base.items() if k not in {"birthday", "department"}}
                twin["first_name"] = base["first_name"].upper()
                if "job_title" in base:
                    twin["job_title"] = rng.choice(JOB_TITLES)
                create_contact(admin, twin)
                created += 1
                continue
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
            create_contact(admin, data)
            made.append(data)
            created += 1
    return created


def _birthday(rng: random.Random):
    from datetime import date, timedelta

    return date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))


LEAD_SOURCES = ("Web form", "Trade fair", "Referral", "Cold call", "Newsletter")
DEAL_TITLES = ("Website relaunch", "Annual licence", "Support contract", "Pilot project",
               "Hardware refresh", "Training days", "Consulting")  # fmt: skip
PRODUCTS = (("Tea pot", "19.90"), ("Green tea 250 g", "8.50"), ("Cups (set of 4)", "24.00"),
            ("Gift card", "50.00"), ("Kettle", "39.90"))  # fmt: skip


def seed_demo_sales(seed: int | None = None, leads: int = 25, deals: int = 40) -> None:
    """Leads, deals (open, won, lost), orders from the shop and by hand, and payments, among
    the demo contacts, in the current transaction; the status rules follow them."""
    from datetime import date, timedelta
    from decimal import Decimal

    from crm.models import Contact, Deal, DealStage, Lead, LeadStatus
    from crm.services.sales import deals as deal_service
    from crm.services.sales import leads as lead_service
    from crm.services.sales import orders

    rng = random.Random(seed)
    admin = _seeding_user()
    contacts = db.session.scalars(
        select(Contact).where(Contact.deleted_at.is_(None)).order_by(Contact.id).limit(400)
    ).all()
    if not contacts:
        return
    with acting_as(admin):
        for _ in range(leads):
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
            lead_service.save_lead(admin, lead, is_new=True)
        for _ in range(deals):
            deal = Deal(
                title=rng.choice(DEAL_TITLES),
                amount=Decimal(rng.randint(5, 200) * 100),
                currency=rng.choice(("EUR", "EUR", "USD", "GBP")),
                expected_close=date.today() + timedelta(days=rng.randint(-60, 120)),
                stage=rng.choice((DealStage.OPEN, DealStage.OPEN, DealStage.WON, DealStage.LOST)),
            )
            deal.contacts = [rng.choice(contacts)]
            deal_service.save_deal(admin, deal, is_new=True)
        for n in range(30):
            lines = [
                {"description": name, "quantity": rng.randint(1, 3), "unit_price": price}
                for name, price in rng.sample(PRODUCTS, rng.randint(1, 3))
            ]
            day = (date.today() - timedelta(days=rng.randint(0, 365))).isoformat()
            if n % 3 == 0:
                buyer = rng.choice(contacts)
                if buyer.email:
                    orders.post_store_order(admin, {
                        "external_id": f"shop-{1000 + n}", "ordered_on": day, "lines": lines,
                        "customer": {"email": buyer.email},
                    })  # fmt: skip
                continue
            buyer = rng.choice(contacts)
            order = orders.create_order(admin, buyer, {"ordered_on": day, "lines": lines})
            if rng.random() < 0.7:
                orders.record_payment(admin, buyer, {"amount": order.total, "order_id": order.id,
                                                     "method": rng.choice(("card", "transfer")),
                                                     "paid_on": day})  # fmt: skip


CALL_SUBJECTS = ("Asked for a quote", "Question about an invoice", "Follow-up call",
                 "Complaint about a delivery", "Renewal of the contract")  # fmt: skip
NOTE_TEXTS = ("Prefers calls in the morning.", "Met at the trade fair in spring.",
              "Decides with her partner; send both the offer.", "Budget review in Q3.")  # fmt: skip


def seed_demo_card(seed: int | None = None) -> None:
    """What the contact card shows among the first demo contacts: notes (one private),
    comments, interactions, tasks (some overdue), appointments and connections."""
    from datetime import date, timedelta

    from crm.models import Connection, ConnectionType, Contact
    from crm.models.base import utcnow
    from crm.services.card import activity, appointments, connections, interactions, notes, tasks

    rng = random.Random(seed)
    admin = _seeding_user()
    people = db.session.scalars(
        select(Contact).where(Contact.deleted_at.is_(None)).order_by(Contact.id).limit(60)
    ).all()
    kinds = db.session.scalars(select(ConnectionType).order_by(ConnectionType.position)).all()
    if len(people) < 2:
        return
    with acting_as(admin):
        for n, person in enumerate(people[:40]):
            notes.add_note(admin, person, rng.choice(NOTE_TEXTS), private=n % 7 == 0)
            if n % 2 == 0:
                activity.post_comment(admin, person, "Sent the new price list.")
            when = utcnow() - timedelta(days=rng.randint(0, 90), hours=rng.randint(0, 8))
            interactions.register(admin, person, {
                "medium": rng.choice(("call", "call", "email", "meeting", "letter")),
                "direction": rng.choice(("in", "out")),
                "status": rng.choice(("open", "closed", "closed", "archived")),
                "subject": rng.choice(CALL_SUBJECTS), "occurred_at": when,
            })  # fmt: skip
            if n % 3 == 0:
                due = date.today() + timedelta(days=rng.randint(-10, 20))
                tasks.save_task(admin, None, {"title": f"Call {person.first_name} back",
                                              "contact_id": person.id, "due_on": due})  # fmt: skip
            if n % 8 == 0:
                start = (utcnow() + timedelta(days=rng.randint(-20, 30))).replace(
                    hour=9 + rng.randint(0, 7), minute=0, second=0, microsecond=0
                )
                appointments.save_appointment(admin, None, {
                    "subject": f"Meeting with {person}", "place": "Office",
                    "starts_at": start, "ends_at": start + timedelta(hours=1),
                    "contact_ids": [person.id], "user_ids": [admin.id],
                })  # fmt: skip
        for a, b in zip(people[40:50], people[50:60], strict=False):
            if kinds and not db.session.scalar(
                select(Connection.id).where(Connection.contact_id == a.id)
            ):
                connections.connect(admin, a, b.id, rng.choice(kinds).id)
