"""Which column goes where: known column sets recognised by their headers, and a guess for
any other file.

`recognise(headers)` knows our own export, Google Contacts (the current "First Name" /
"Phone 1 - Value" export and the older "Given Name" / "E-mail 1 - Type" one) and Outlook
("E-mail Address", "Business Phone", "Home Street", ...), whatever the order of the columns,
their case and surrounding spaces, and with a few columns more or fewer than the version
it was written against. `guess_mapping(headers)` maps any other header row by the names
people give columns in English, German, French, Spanish, Italian, Dutch and Portuguese;
what it does not know is ignored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from crm.services.transfer.importing.targets import (
    IGNORE,
    MAX_SLOT,
    OWN_FIELDS,
    Mapping,
    own_format_mapping,
)

KNOWN_SHARE = 0.8  # of a file's headers a column set must know to be recognised


OWN_EXPORT = "Contacts CRM export"  # the name of our own format


@dataclass(frozen=True)
class Recognised:
    name: str  # "Google Contacts", "Outlook", ...
    mapping: Mapping


def recognise(headers: list[str]) -> Recognised | None:
    """The known column set these headers are, with its mapping; None for any other file."""
    own = _own_export(headers)
    if own is not None:
        return Recognised(OWN_EXPORT, own)
    names = [_plain(h) for h in headers]
    found = []
    for column_set in COLUMN_SETS:
        known = sum(1 for n in names if column_set.target(n) is not None)
        signature = len(column_set.signature & set(names))
        if signature >= column_set.needed and known >= KNOWN_SHARE * len(headers):
            found.append((known, column_set))
    if not found:
        return None
    _known, best = max(found, key=lambda item: item[0])
    return Recognised(best.name, best.mapping(headers))


def _plain(header: str) -> str:
    """A header as known column sets compare it: spaces collapsed, case folded."""
    return " ".join(header.split()).casefold()


# ---- our own export -------------------------------------------------------------------------
_OWN_SIGNATURE = {_plain(header) for header, _ in OWN_FIELDS}


def _own_export(headers: list[str]) -> Mapping | None:
    """Our own format (targets.own_format_mapping); a few columns it does not know (added in
    a spreadsheet) are ignored. It must carry "CRM id" or most of our field columns."""
    exact = own_format_mapping(headers)
    names = {_plain(h) for h in headers}
    if "crm id" not in names and len(names & _OWN_SIGNATURE) < len(_OWN_SIGNATURE) // 2:
        return None
    if exact is not None:
        return exact
    columns = []
    for header in headers:
        alone = own_format_mapping([header, "First name", "Last name"])
        columns.append(alone.columns[0] if alone is not None else IGNORE)
    unknown = columns.count(IGNORE)
    if unknown > max(2, len(headers) // 10) or not {"first_name", "last_name"} <= set(columns):
        return None
    return Mapping(columns)


# ---- the known column sets ------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """A column of a repeated kind whose slot number depends on the other columns: Outlook's
    "Home Phone" is a phone slot of its own, its "Home City" shares the home address's."""

    kind: str  # "phone", "address"
    group: str  # columns of a group share a slot; "" for a slot of its own
    part: str  # "" for the main value, else "city", "street", ...
    type: str  # the slot's type ("Work", "Main")
    rank: int  # slots are numbered in this order (then in the file's order)


@dataclass(frozen=True)
class ColumnSet:
    name: str
    signature: frozenset[str]  # headers this set always writes and others rarely do
    needed: int  # of the signature that must be there
    fields: dict[str, str]  # header -> target (IGNORE for columns known but not imported)
    slots: Callable[[str], str | Slot | None]  # the other headers it knows

    def target(self, name: str) -> str | Slot | None:
        return self.fields.get(name) or self.slots(name)

    def mapping(self, headers: list[str]) -> Mapping:
        """Targets per column, slots numbered by rank, and the types of the slots."""
        found = [self.target(_plain(header)) or IGNORE for header in headers]
        groups: dict[tuple[str, str], tuple[int, int]] = {}  # (kind, group) -> (rank, index)
        for index, item in enumerate(found):
            if isinstance(item, Slot):
                key = (item.kind, item.group or f"#{index}")
                groups[key] = min(groups.get(key, (item.rank, index)), (item.rank, index))
        numbers: dict[tuple[str, str], int] = {}
        for kind, group in sorted(groups, key=lambda key: groups[key]):
            numbers[(kind, group)] = 1 + sum(1 for k, _ in numbers if k == kind)
        columns: list[str] = []
        types: dict[str, str] = {}
        for index, item in enumerate(found):
            if isinstance(item, Slot):
                slot = numbers[(item.kind, item.group or f"#{index}")]
                if slot > MAX_SLOT:
                    item = IGNORE
                else:
                    types[f"{item.kind}.{slot}"] = item.type
                    item = f"{item.kind}.{slot}" + (f".{item.part}" if item.part else "")
            columns.append(item)
        return Mapping(columns, types)


_GOOGLE_SLOT = re.compile(
    r"^(e-mail|phone|address|website|organization|im|relation|event|custom field|external id)"
    r" (\d+) - (.+)$"
)
_GOOGLE_PARTS = {
    "e-mail": {"value": "", "label": "type", "type": "type"},
    "phone": {"value": "", "label": "type", "type": "type"},
    "address": {
        "label": "type",
        "type": "type",
        "formatted": "formatted",
        "street": "street",
        "city": "city",
        "region": "region",
        "postal code": "postal_code",
        "country": "country",
        "extended address": "street2",
    },
}


def _google_slots(name: str) -> str | None:
    """ "Phone 2 - Value" is phone.2, "Address 1 - City" address.1.city, ...; the columns
    Google numbers but we do not import (IM, Event, Relation, ...) are ignored."""
    match = _GOOGLE_SLOT.match(name)
    if not match:
        return None
    kind, slot, part = match.group(1), int(match.group(2)), match.group(3)
    if kind == "website":
        return "website" if slot == 1 and part == "value" else IGNORE
    if kind == "organization":  # the older export numbers organisations
        fields = {"name": "account", "title": "job_title", "department": "department"}
        return fields.get(part, IGNORE) if slot == 1 else IGNORE
    parts = _GOOGLE_PARTS.get(kind)
    if parts is None or part == "po box" or slot > MAX_SLOT:
        return IGNORE  # IM, Event, Relation, ...: known, not imported
    if part not in parts:
        return None
    target = "email" if kind == "e-mail" else kind
    return f"{target}.{slot}" + (f".{parts[part]}" if parts[part] else "")


def _names(text: str) -> frozenset[str]:
    """Headers written "nickname | file as | photo"."""
    return frozenset(n.strip() for n in text.split("|"))


def _ignored(text: str) -> dict[str, str]:
    """Columns known but not imported."""
    return dict.fromkeys(_names(text), IGNORE)


GOOGLE = ColumnSet(
    "Google Contacts",
    _names(
        "first name | middle name | last name | phonetic first name | name prefix | file as | "
        "organization name | organization title | labels"
    ),
    6,
    {
        "first name": "first_name",
        "middle name": "middle_name",
        "last name": "last_name",
        "name prefix": "title",
        "organization name": "account",
        "organization title": "job_title",
        "organization department": "department",
        "birthday": "birthday",
        "notes": "notes",
        "labels": "tags",
        **_ignored(
            "phonetic first name | phonetic middle name | phonetic last name | name suffix | "
            "nickname | file as | photo | organization phonetic name | organization yomi name"
        ),
    },
    _google_slots,
)

GOOGLE_LEGACY = ColumnSet(
    "Google Contacts (older export)",
    _names(
        "name | given name | additional name | family name | yomi name | given name yomi | "
        "family name yomi | initials | maiden name | group membership"
    ),
    6,
    {
        "name": "full_name",
        "given name": "first_name",
        "additional name": "middle_name",
        "family name": "last_name",
        "name prefix": "title",
        "birthday": "birthday",
        "gender": "gender",
        "notes": "notes",
        "language": "language",
        "group membership": "tags",
        **_ignored(
            "yomi name | given name yomi | additional name yomi | family name yomi | "
            "name suffix | initials | nickname | short name | maiden name | location | "
            "billing information | directory server | mileage | occupation | hobby | "
            "sensitivity | priority | subject | photo"
        ),
    },
    _google_slots,
)

# Outlook: each phone column is a slot of its own, each address prefix (Business, ...) one.
_OUTLOOK_PHONES = {  # in the order their slots are numbered
    "business phone": "Work",
    "mobile phone": "Mobile",
    "home phone": "Home",
    "business phone 2": "Work",
    "home phone 2": "Home",
    "company main phone": "Work",
    "primary phone": "Other",
    "other phone": "Other",
    "business fax": "Fax",
    "home fax": "Fax",
    "other fax": "Fax",
    "car phone": "Other",
    "assistant's phone": "Other",
    "callback": "Other",
    "pager": "Other",
    "radio phone": "Other",
    "isdn": "Other",
    "tty/tdd phone": "Other",
}
_OUTLOOK_ADDRESSES = {"business": "Main", "home": "Home", "other": "Other"}
_OUTLOOK_ADDRESS_PARTS = {
    "street": "street",
    "street 2": "street2",
    "street 3": IGNORE,
    "city": "city",
    "state": "region",
    "postal code": "postal_code",
    "country/region": "country",
    "country": "country",
    "address po box": IGNORE,
}


def _outlook_slots(name: str) -> str | Slot | None:
    if name in _OUTLOOK_PHONES:
        return Slot("phone", "", "", _OUTLOOK_PHONES[name], list(_OUTLOOK_PHONES).index(name))
    prefix, _, part = name.partition(" ")
    if prefix in _OUTLOOK_ADDRESSES and part in _OUTLOOK_ADDRESS_PARTS:
        target = _OUTLOOK_ADDRESS_PARTS[part]
        if target == IGNORE:
            return IGNORE
        rank = list(_OUTLOOK_ADDRESSES).index(prefix)
        return Slot("address", prefix, target, _OUTLOOK_ADDRESSES[prefix], rank)
    return None


OUTLOOK = ColumnSet(
    "Outlook",
    _names(
        "first name | last name | e-mail address | e-mail 2 address | business phone | "
        "mobile phone | home phone | business fax | business street | home street | job title | "
        "company"
    ),
    6,
    {
        "title": "title",
        "first name": "first_name",
        "middle name": "middle_name",
        "last name": "last_name",
        "company": "account",
        "department": "department",
        "job title": "job_title",
        "e-mail address": "email.1",
        "e-mail 2 address": "email.2",
        "e-mail 3 address": "email.3",
        "birthday": "birthday",
        "gender": "gender",
        "language": "language",
        "notes": "notes",
        "web page": "website",
        "categories": "tags",
        **_ignored(
            "suffix | nickname | given yomi | surname yomi | company yomi | telex | account | "
            "anniversary | assistant's name | billing information | children | directory server | "
            "e-mail type | e-mail display name | e-mail 2 type | e-mail 2 display name | "
            "e-mail 3 type | e-mail 3 display name | government id number | hobby | initials | "
            "internet free busy | keywords | location | manager's name | mileage | "
            "office location | organizational id number | priority | private | profession | "
            "referred by | sensitivity | spouse | user 1 | user 2 | user 3 | user 4 | "
            "personal web page | schools | im address | imaddress"
        ),
    },
    _outlook_slots,
)

COLUMN_SETS = (GOOGLE, GOOGLE_LEGACY, OUTLOOK)


# ---- guessing -------------------------------------------------------------------------------
def words(header: str) -> list[str]:
    """A header's words, case and accents dropped: "E-Mail-Adresse" is e, mail, adresse."""
    text = unicodedata.normalize("NFKD", header.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.findall(r"[a-z]+|[0-9]+", text.replace("ø", "o").replace("æ", "ae"))


def _keys(names: str) -> set[str]:
    """The keys of headers written "first name | vorname | prénom": their words joined."""
    return {"".join(words(name)) for name in names.split("|")}


def _synonyms(table: dict[str, str]) -> dict[str, str]:
    """Header key -> target."""
    return {key: target for target, names in table.items() for key in _keys(names)}


_FIELD_SYNONYMS = _synonyms(
    {
        "first_name": (
            "first name | first | given name | forename | christian name | vorname | rufname | "
            "prénom | nombre | nombre de pila | nome | primeiro nome | voornaam | roepnaam"
        ),
        "middle_name": (
            "middle name | middle names | additional name | second name | weitere vornamen | "
            "zweiter vorname | deuxième prénom | segundo nombre | secondo nome | nome do meio"
        ),
        "last_name": (
            "last name | last | surname | family name | nachname | familienname | zuname | "
            "nom de famille | apellido | apellidos | apellido(s) | primer apellido | cognome | "
            "achternaam | familienaam | sobrenome | apelido | último nome"
        ),
        "full_name": (
            "full name | display name | contact name | contact person | person | "
            "ansprechpartner | vollständiger name | nom complet | nombre completo | "
            "nome completo | volledige naam"
        ),
        "title": (
            "title | salutation | name prefix | prefix | honorific | anrede | titel | "
            "akademischer titel | civilité | titre | tratamiento | título | titolo | aanhef | "
            "saudação"
        ),
        "job_title": (
            "job title | job | position | function | role | occupation | profession | funktion | "
            "beruf | berufsbezeichnung | stellung | stellenbezeichnung | poste | fonction | "
            "intitulé du poste | cargo | puesto | ruolo | qualifica | mansione | functie | "
            "functietitel | função"
        ),
        "department": (
            "department | dept | abteilung | bereich | service | département | departamento | "
            "área | reparto | dipartimento | afdeling | setor"
        ),
        "account": (
            "company | company name | business name | organization | organisation | "
            "organization name | employer | account | account name | firm | firma | firmenname | "
            "unternehmen | arbeitgeber | société | entreprise | raison sociale | empresa | "
            "compañía | azienda | società | ditta | bedrijf | bedrijfsnaam | organisatie | "
            "companhia"
        ),
        "website": (
            "website | web site | web | web page | webpage | web address | homepage | url | "
            "internet | webseite | internetseite | site web | site internet | site | sitio web | "
            "página web | sito web | sito internet | webadres"
        ),
        "birthday": (
            "birthday | birth date | birthdate | date of birth | dob | born | geburtstag | "
            "geburtsdatum | date de naissance | naissance | anniversaire | fecha de nacimiento | "
            "cumpleaños | nacimiento | data di nascita | compleanno | geboortedatum | "
            "verjaardag | data de nascimento | aniversário"
        ),
        "gender": (
            "gender | sex | geschlecht | sexe | genre | sexo | género | sesso | genere | geslacht"
        ),
        "notes": (
            "notes | note | comments | comment | remarks | remark | description | memo | "
            "notizen | notiz | bemerkung | bemerkungen | anmerkungen | kommentar | kommentare | "
            "remarques | remarque | commentaire | commentaires | observations | notas | nota | "
            "observaciones | comentarios | annotazioni | osservazioni | commenti | opmerkingen | "
            "opmerking | notities | observações"
        ),
        "tags": (
            "tags | tag | labels | label | keywords | schlagwörter | schlagworte | schlagwort | "
            "stichwörter | étiquettes | étiquette | mots-clés | etiquetas | etiqueta | "
            "etichette | parole chiave | trefwoorden | groups | gruppen | groupes | grupos | "
            "gruppi | groepen"
        ),
        "categories": (
            "categories | category | kategorie | kategorien | catégorie | catégories | "
            "categoría | categorías | categoria | categorie | categorieën | categorias"
        ),
        "language": "language | sprache | langue | idioma | lingua | taal",
        "timezone": (
            "time zone | timezone | zeitzone | fuseau horaire | zona horaria | fuso orario | "
            "tijdzone | fuso horário"
        ),
        "owner": (
            "owner | contact owner | record owner | besitzer | eigentümer | propriétaire | "
            "propietario | proprietario | eigenaar"
        ),
        "responsible": (
            "responsible | responsible user | verantwortlich | zuständig | responsable | "
            "responsabile | verantwoordelijke"
        ),
    }
) | {"".join(words(header)): target for header, target in OWN_FIELDS}
# Fields several columns may fill (their values are joined); others keep the first column.
_REPEATABLE = {"notes", "other_contacts", "tags", "categories"}
_NAME_ALONE = _keys("name | nom | naam")  # the last name beside a first name column

_EMAIL = _keys(
    "email | e-mail | mail | email address | e-mail address | e-mail-adresse | emailadresse | "
    "mailadresse | adresse email | adresse e-mail | courriel | adresse électronique | correo | "
    "correo electrónico | dirección de correo | posta elettronica | indirizzo email | "
    "e-mailadres | endereço de email"
)
_PHONE_STEMS = ("phone", "telefon", "telefoon", "fax")
_PHONE_WORDS = {
    "tel", "fon", "telephone", "telefono", "telefone", "cell", "cellular", "mobile", "mobil",
    "mobiel", "handy", "portable", "movil", "celular", "cellulare", "gsm", "natel",
    "telemovel", "iphone",
}  # fmt: skip
_MOBILE_STEMS = ("mobil", "handy", "cell", "portable", "movil", "celular", "gsm", "natel")
_EXTENSION = _keys("extension | ext | durchwahl | nebenstelle | extensión | interno")
_QUALIFIERS = {
    "Work": (
        "work | business | office | main | büro | buero | geschäftlich | dienstlich | arbeit | "
        "firma | travail | bureau | professionnel | professionnelle | pro | trabajo | oficina | "
        "laboral | lavoro | ufficio | werk | zakelijk | kantoor | trabalho | comercial | "
        "escritório"
    ),
    "Home": (
        "home | private | personal | privat | zuhause | wohnung | domicile | maison | perso | "
        "personnel | personnelle | casa | particular | personale | privato | abitazione | thuis | "
        "privé | residencial | residência"
    ),
    "Delivery": (
        "delivery | shipping | lieferung | liefer | versand | livraison | envío | entrega | "
        "consegna | spedizione | levering | bezorging"
    ),
    "Invoice": (
        "billing | invoice | rechnung | rechnungs | facturation | factura | facturación | "
        "fatturazione | fattura | factuur | facturatie | faturamento | cobrança"
    ),
    "Other": "other | andere | weitere | sonstige | autre | otro | otra | altro",
}
_QUALIFIER_OF = _synonyms(_QUALIFIERS)
# German compounds: "Geschäftstelefon", "Privatadresse", "Lieferanschrift", "Firmenstraße".
_COMPOUND_PREFIXES = {
    "geschafts": "Work", "buro": "Work", "firmen": "Work", "dienst": "Work",
    "privat": "Home", "liefer": "Delivery", "versand": "Delivery", "rechnungs": "Invoice",
}  # fmt: skip
_ADDRESS_PARTS = _synonyms(
    {
        "street": (
            "street | street address | address | address line 1 | addr | straße | strasse | str | "
            "straße und hausnummer | straße/nr | anschrift | adresse | rue | adresse postale | "
            "calle | dirección | domicilio | via | indirizzo | straat | adres | rua | endereço | "
            "logradouro"
        ),
        "street2": (
            "street 2 | address line 2 | address 2 | adresszusatz | zusatz | "
            "complément d'adresse | complément | complemento | adresse 2"
        ),
        "city": (
            "city | town | locality | stadt | ort | wohnort | ville | localité | commune | "
            "ciudad | localidad | población | municipio | città | comune | località | plaats | "
            "woonplaats | stad | cidade | localidade"
        ),
        "postal_code": (
            "postal code | postcode | post code | zip | zip code | zipcode | plz | postleitzahl | "
            "code postal | cp | código postal | c.p. | cap | postcode | cep | código postal"
        ),
        "region": (
            "state | region | province | county | state/province | bundesland | kanton | "
            "provinz | département | provincia | estado | comunidad autónoma | regione | "
            "provincie | distrito"
        ),
        "country": (
            "country | country/region | land | land/region | pays | país | paese | nazione | "
            "país/región"
        ),
    }
)
_PLATFORMS = {
    "linkedin": "LinkedIn",
    "xing": "Xing",
    "twitter": "X (Twitter)",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "github": "GitHub",
    "youtube": "YouTube",
    "tiktok": "TikTok",
}


@dataclass
class _Guess:
    """What guessing has handed out so far."""

    used: set[str]
    phones: int = 0
    emails: int = 0
    socials: int = 0
    has_first_name: bool = False
    has_last_name: bool = False


def guess_mapping(headers: list[str]) -> Mapping:
    """A mapping for a file of no known column set: each header matched by its name (in
    seven languages), phones numbered in order with their type from the header ("Handy",
    "Business Phone", "Fax privat"), address columns grouped by their qualifier ("Straße
    geschäftlich", "Home City") or number; anything else ignored."""
    parsed = [_parse(h) for h in headers]
    keys = [_field_key(p) for p in parsed]
    state = _Guess(
        used=set(),
        has_first_name=any(_FIELD_SYNONYMS.get(k) == "first_name" for k in keys),
        has_last_name=any(_FIELD_SYNONYMS.get(k) == "last_name" for k in keys),
    )
    address_numbers = {
        p.number
        for p in parsed
        if p.address_part not in (None, "street", "street2") and p.number is not None
    }
    address_slots: dict[tuple[str | None, int], int] = {}
    columns: list[str] = []
    types: dict[str, str] = {}
    for item, key in zip(parsed, keys, strict=True):
        target, kind = _guess_one(item, key, state, address_numbers, address_slots)
        if target.startswith(("phone.", "address.", "social.")) and kind:
            types[".".join(target.split(".")[:2])] = kind
        columns.append(target)
    return Mapping(columns, types)


@dataclass
class _Header:
    text: str  # as written
    words: list[str]  # without the number
    number: int | None  # "Telefon 2", "Address 1 - City"
    qualifier: str | None  # Work, Home, Delivery, Invoice, Other
    core: str  # the words but qualifiers and number, joined
    address_part: str | None


def _parse(header: str) -> _Header:
    found = words(header)
    numbers = [w for w in found if w.isdigit()]
    plain = [w for w in found if not w.isdigit()]
    qualifier = None
    core = []
    for word in plain:
        kind = _QUALIFIER_OF.get(word) or _compound_qualifier(word)
        if kind and qualifier is None:
            qualifier = kind
            rest = _compound_rest(word)
            if rest:
                core.append(rest)
        else:
            core.append(word)
    joined = "".join(core)
    number = int(numbers[0]) if numbers else None
    part = _ADDRESS_PARTS.get(joined)
    if part is None and number is not None:
        part = _ADDRESS_PARTS.get(joined + str(number))  # "Address line 2", "Straße 2"
        if part is not None:
            number = None
    return _Header(header, plain, number, qualifier, joined, part)


def _compound_qualifier(word: str) -> str | None:
    for prefix, kind in _COMPOUND_PREFIXES.items():
        if word.startswith(prefix) and len(word) > len(prefix) + 2:
            return kind
    return None


def _compound_rest(word: str) -> str:
    for prefix in _COMPOUND_PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix) + 2:
            return word[len(prefix) :]
    return ""


def _field_key(item: _Header) -> str:
    return "".join(item.words)


def _guess_one(
    item: _Header,
    key: str,
    state: _Guess,
    address_numbers: set[int | None],
    address_slots: dict[tuple[str | None, int], int],
) -> tuple[str, str | None]:
    """The target of one header, and the type of its slot when the header gives one."""
    own = own_format_mapping([item.text, "First name", "Last name"])
    if own is not None and "." in own.columns[0]:  # our "Phone 1 type", "Address 2 city"
        kind, slot = own.columns[0].split(".")[:2]
        if kind == "phone":
            state.phones = max(state.phones, int(slot))
        elif kind == "social":
            state.socials = max(state.socials, int(slot))
        return _take_field(own.columns[0], state), None
    field = _FIELD_SYNONYMS.get(key)
    if field == "email":
        field = None  # "E-Mail", "E-Mail 2", ...: numbered below
    if key in _NAME_ALONE:
        field = "last_name" if state.has_first_name and not state.has_last_name else "full_name"
    if field:
        return _take_field(field, state), None
    if _is_email(item):
        state.emails += 1
        for field in ("email", "email_secondary"):
            if field not in state.used:
                return _take_field(field, state), None
        return (f"email.{state.emails}" if state.emails <= MAX_SLOT else IGNORE), None
    if key in _EXTENSION or (item.core in _EXTENSION and state.phones):
        slot_extension = f"phone.{state.phones}.extension"
        if state.phones and slot_extension not in state.used:
            state.used.add(slot_extension)
            return slot_extension, None
        return IGNORE, None
    phone_kind = _phone_kind(item)
    if phone_kind is not None:
        state.phones += 1
        if state.phones > MAX_SLOT:
            return IGNORE, None
        return f"phone.{state.phones}", phone_kind or None
    if item.address_part:
        target, kind = _address(item, address_numbers, address_slots)
        if target in state.used:  # "Street 2" and "Address 2" both
            return IGNORE, None
        state.used.add(target)
        return target, kind
    platform = next((_PLATFORMS[w] for w in item.words if w in _PLATFORMS), None)
    if platform:
        state.socials += 1
        return (f"social.{state.socials}" if state.socials <= MAX_SLOT else IGNORE), platform
    if _FIELD_SYNONYMS.get(item.core) == "website":  # "Personal Web Page"
        return _take_field("website", state), None
    return IGNORE, None


def _take_field(field: str, state: _Guess) -> str:
    if field in state.used and field not in _REPEATABLE:
        return IGNORE
    state.used.add(field)
    return field


def _is_email(item: _Header) -> bool:
    if set(item.words) & {"type", "label", "display", "name", "status", "format"}:
        return False
    return "".join(item.words) in _EMAIL or item.core in _EMAIL


def _phone_kind(item: _Header) -> str | None:
    """ "" for a phone without a type, the type for a typed one, None if not a phone."""
    is_phone = any(
        w in _PHONE_WORDS or any(s in w for s in _PHONE_STEMS) or w.startswith(_MOBILE_STEMS)
        for w in item.words
        if not w.startswith("phonetic")
    )
    if not is_phone or set(item.words) & {"type", "label", "typ"}:
        return None
    if any("fax" in w for w in item.words):
        return "Fax"
    if any(w.startswith(_MOBILE_STEMS) or w == "iphone" for w in item.words):
        return "Mobile"
    if item.qualifier in ("Work", "Home", "Other"):
        return item.qualifier
    return ""


def _address(
    item: _Header,
    address_numbers: set[int | None],
    address_slots: dict[tuple[str | None, int], int],
) -> tuple[str, str | None]:
    """address.N.part: one slot per qualifier and number ("Home City" and "Home Street"
    share one); "Street 2" is the second street line unless other parts carry a 2."""
    part = item.address_part or ""
    number = item.number or 1
    if part == "street" and item.number and item.number not in address_numbers:
        if item.number != 2:
            return IGNORE, None  # "Street 3"
        part, number = "street2", 1
    group = (item.qualifier, number)
    if group not in address_slots:
        address_slots[group] = len(address_slots) + 1
    slot = address_slots[group]
    if slot > MAX_SLOT:
        return IGNORE, None
    kind = "Main" if item.qualifier == "Work" else item.qualifier
    return f"address.{slot}.{part}", kind
