"""Contact search: what a user types becomes a WHERE clause over `Contact.search_text`.

`search_text` (kept by `search_text_for` on every save) holds the names, their unaccented
forms, the emails, the phone numbers as digits (E.164 and as typed) and the company name.
Every word typed must occur somewhere in it: "ith" finds Smith, "ana smi" finds Ana Smith,
"030-1234" and "+49 30 1234" find +49 30 1234567.

The substring match is served by an index: SQLite's FTS5 trigram table `contact_search`
(kept in step by triggers on `contacts`), PostgreSQL's pg_trgm GIN index on search_text.
Words shorter than three characters cannot use trigrams and fall back to a scan.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_, select, text

from crm.extensions import db
from crm.models import Contact, Phone
from crm.services.platform import query_plan
from crm.services.platform.validation import clean_text

MAX_TERMS = 8
MAX_TERM_LENGTH = 100
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")


def fold(value: str) -> str:
    """Lower-case without accents ("Müller" -> "muller")."""
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


def search_text_for(contact: Contact, phones: Iterable[Phone] | None = None) -> str:
    """The words a contact is found by (see the module docstring); `phones` defaults to
    the contact's phones (callers pass the ones not being deleted)."""
    names = [
        p.strip().lower()
        for p in (contact.first_name, contact.middle_name, contact.last_name)
        if p and p.strip()
    ]
    words: list[str] = [*names, *(fold(n) for n in names)]
    words += [e.lower() for e in (contact.email, contact.email_secondary) if e]
    for phone in contact.phones if phones is None else phones:
        words += [d for d in (digits(phone.e164), digits(phone.number)) if d]
    account = contact.account
    if account is not None and not account.is_hidden and account.name:
        words.append(account.name.lower())
    return " ".join(dict.fromkeys(words))  # unique, in order


def search_terms(typed: str | None) -> list[str]:
    """The words to look for. A query that looks like a phone number is one term: its digits
    (a leading '+' and the separators dropped)."""
    typed = clean_text(typed) or ""  # no control characters: NUL breaks both databases
    if not typed:
        return []
    if _PHONE_LIKE.match(typed) and len(digits(typed)) >= 3:
        return [digits(typed)[:MAX_TERM_LENGTH]]
    words = [w.lower()[:MAX_TERM_LENGTH] for w in typed.split()[:MAX_TERMS]]
    return list(dict.fromkeys(words))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(term: str) -> ColumnElement[bool]:
    return Contact.search_text.like(f"%{_escape_like(term)}%", escape="\\")


def _fts_query(terms: Iterable[str]) -> str:
    """An FTS5 query matching every term as a substring (trigram tokenizer)."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _fts_rows(table: str, fts_query: str) -> Any:
    """The rowids of SQLite's FTS5 table `table` (our own name) matching `fts_query`."""
    match = text(f"{table} MATCH :fts_query").bindparams(fts_query=fts_query)
    return select(literal_column("rowid")).select_from(text(table)).where(match)


@contextmanager
def indexed_together() -> Iterator[None]:
    """Contacts inserted inside go into SQLite's search index together when it ends, with
    one INSERT ... SELECT, rather than one by one through the insert trigger: about 100 µs
    less per contact at a million contacts. The trigger is dropped and created again inside
    the session's transaction, so no other connection ever sees it missing and a rollback
    puts it back. Call it holding the write lock (crm.services.contacts.batch takes it):
    every contact past the largest id at the start is then the caller's. Nothing to do on
    PostgreSQL, whose GIN index is kept by the insert itself."""
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    trigger = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'contact_search_insert'"
    ).scalar()
    if trigger is None:  # no search index (a database made without the migrations)
        yield
        return
    last = connection.exec_driver_sql("SELECT max(id) FROM contacts").scalar() or 0
    connection.exec_driver_sql("DROP TRIGGER contact_search_insert")
    try:
        yield
        connection.exec_driver_sql(
            "INSERT INTO contact_search(rowid, search_text) "
            "SELECT id, search_text FROM contacts WHERE id > ?",
            (last,),
        )
    finally:
        connection.exec_driver_sql(trigger)


def contact_search_clause(
    typed: str | None, dialect: str | None = None
) -> ColumnElement[bool] | None:
    """A WHERE clause for the contacts matching what was typed; None for an empty search."""
    dialect = dialect or db.engine.dialect.name
    terms = search_terms(typed)
    if not terms:
        return None
    long_terms = [t for t in terms if len(t) >= 3]
    clauses = [_like(t) for t in terms if len(t) < 3]
    if long_terms and dialect == "sqlite":
        fts_query = _fts_query(long_terms)
        matches = _fts_rows("contact_search", fts_query)
        key = ("contact_search", fts_query)
        if query_plan.another_drives(key):  # checked on each of the driver's rows
            clauses = [_like(t) for t in long_terms] + clauses
        else:
            clauses.insert(0, query_plan.member_of(key, matches))
    else:
        clauses = [_like(t) for t in long_terms] + clauses
    return and_(*clauses)


# A word with more matches than this is left to the list's own LIKE: reading rows in the
# list's order, it soon has a page and its capped count, where the index would hand every
# match over to be checked and sorted (at 620,000 orders, "shop" has 374,400 matches: 571 ms
# through the index, 36-50 ms by LIKE; counting the index's first 50,001 takes 9 ms).
DENSE_MATCHES = 50_000


def indexed_matches(table: str, id_column: Any, word: str) -> ColumnElement[bool] | None:
    """`id_column IN (the rows of SQLite's FTS5 trigram table `table` holding `word` in one
    of its columns)`: the index behind a list's `LIKE '%word%'` (the Orders list's
    `order_search`, migration 0017). None where the caller's own LIKE must do: another
    database (PostgreSQL's trigram indexes serve the LIKE itself), a word shorter than three
    characters, Flask-Admin's `^prefix` and `=exact` forms, or a word in more than
    DENSE_MATCHES rows."""
    word = word.strip()
    if db.engine.dialect.name != "sqlite" or len(word) < 3 or word[0] in "^=":
        return None
    matches = _fts_rows(table, _fts_query([word[:MAX_TERM_LENGTH]]))
    dense = select(func.count()).select_from(matches.limit(DENSE_MATCHES + 1).subquery())
    if db.session.scalar(dense) > DENSE_MATCHES:
        return None  # a common word: the LIKE walking the list's order finds a page sooner
    return id_column.in_(matches)


def search_rank(typed: str | None) -> ColumnElement[int] | None:
    """0 for an exact name match of the first word, 1 for a name starting with it, 2 else."""
    terms = search_terms(typed)
    if not terms:
        return None
    first = terms[0]
    names = (func.lower(Contact.last_name), func.lower(Contact.first_name))
    prefix = f"{_escape_like(first)}%"
    return case(
        (or_(*(n == first for n in names)), 0),
        (or_(*(n.like(prefix, escape="\\") for n in names)), 1),
        else_=2,
    )


# Titles and honorifics that say nothing about who a person is.
TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "madam",
        "dame",
        "herr",
        "frau",
        "sr",
        "sra",
        "srta",
        "dona",
        "don",
        "mme",
        "mlle",
        "m",
    ]
)


def name_key(first: str | None, middle: str | None, last: str | None) -> str:
    """The name without accents, case, punctuation or titles, its words sorted: "Dr. José
    Pérez" and "perez jose" have the same key."""
    words = fold(" ".join(p for p in (first, middle, last) if p)).replace(".", " ").split()
    return " ".join(sorted(w.strip(",;'\"()-") for w in words if w.strip(",.") not in TITLES))


def name_key_of(contact) -> str | None:
    """The key stored in `Contact.name_key` for this contact's name (None without one)."""
    from crm.models.contact import NAME_KEY_LENGTH

    key = name_key(contact.first_name, contact.middle_name, contact.last_name)
    return key[:NAME_KEY_LENGTH] or None
