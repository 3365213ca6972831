"""Possible duplicates: groups of contacts that are likely the same person, with the reasons
and a score, found by blocking on normalised keys so that it scales.

Pairs come from three blocks, each cheap at a hundred thousand contacts:
- the same email (primary or secondary, lower-cased): one grouped query;
- the same phone number (E.164): one grouped query over the phones' index;
- a similar name in the same company account (B2B), or the same name key among consumers
  (B2C): names are folded (no accents, case or titles, tokens sorted) and compared with
  rapidfuzz only inside their block.
Pairs a user marked "not a duplicate" are never proposed; the pairs are joined into groups
(connected components). Only contacts the actor may see, not in the trash, are considered.

`matches_for` asks the same question about one contact being created (the warning of the
create form, and imports).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from rapidfuzz import fuzz
from sqlalchemy import Select, func, or_, select, union_all
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Account, Contact, ContactKind, NotDuplicate, Phone
from crm.services.contacts.search import TITLES, fold, name_key, name_key_of  # noqa: F401
from crm.services.platform.access import contact_visibility

NAME_SIMILARITY = 90  # rapidfuzz token_sort_ratio at or above which names count as similar
MAX_BLOCK = 200  # a name block bigger than this is too common a name to say anything
SCORES = {"email": 95, "phone": 85, "name": 60}  # a pair's score: its best reason's, plus
MAX_MATCHES = 10  # existing contacts named when a new one looks like them
NAME_CANDIDATES = 200  # contacts with one name key named at most


@dataclass
class DuplicateGroup:
    contact_ids: list[int]
    # (low id, high id) -> the reasons that pair them ("same email ana@x.com", ...)
    reasons: dict[tuple[int, int], list[str]] = field(default_factory=dict)

    @property
    def score(self) -> int:
        """How sure: the best pair's reasons (email 95, phone 85, name 60; each further
        reason adds 5, up to 100)."""
        best = 0
        for reasons in self.reasons.values():
            kinds = sorted({r.split(" ", 2)[1] for r in reasons}, key=lambda k: -SCORES[k])
            best = max(best, min(100, SCORES[kinds[0]] + 5 * (len(kinds) - 1)))
        return best

    @property
    def summary(self) -> list[str]:
        return sorted({r for reasons in self.reasons.values() for r in reasons})


# A full comparison costs about 6 s per 100,000 contacts: bigger sets are not compared in
# one go (narrow them with a filter or the selection).
MAX_COMPARED = 100_000


@dataclass
class Comparison:
    total: int  # contacts compared (up to max_compared + 1)
    too_many: bool  # more than max_compared: nothing was compared
    groups: list[DuplicateGroup]


def compare(
    actor: Actor, among: Select | None = None, max_compared: int = MAX_COMPARED
) -> Comparison:
    """Possible duplicates among the contacts `actor` sees (and `among`, a select of ids),
    refusing to compare more than `max_compared` (counted with a bounded count)."""
    from crm.services.platform.counting import capped_count

    counted = select(Contact.id).where(contact_visibility(actor))
    if among is not None:
        counted = counted.where(Contact.id.in_(among))
    total, too_many = capped_count(counted, max_compared)
    if too_many or total < 2:
        return Comparison(total, too_many, [])
    return Comparison(total, False, find_duplicates(actor, limit=total, among=among))


def find_duplicates(
    actor: Actor, limit: int = 500, among: Select | None = None
) -> list[DuplicateGroup]:
    """Groups of likely duplicates among the contacts `actor` may see (and, given `among`, a
    select of contact ids, only among those), surest first."""
    if not can(actor, "contact.view"):
        raise PermissionDenied("You do not have permission to see contacts.")
    pairs: dict[tuple[int, int], list[str]] = defaultdict(list)
    visible = contact_visibility(actor)
    if among is not None:
        visible = visible & Contact.id.in_(among)
    for ids, reason in _same_email(visible):
        _add_all(pairs, ids, reason)
    for ids, reason in _same_phone(visible):
        _add_all(pairs, ids, reason)
    for (a, b), reason in _similar_names(visible):
        pairs[(a, b)].append(reason)
    ignored = _not_duplicates(visible) if pairs else set()
    for pair in ignored:
        pairs.pop(pair, None)
    groups = _components(pairs)
    groups.sort(key=lambda g: (-g.score, g.contact_ids))
    return groups[:limit]


def _add_all(pairs: dict, ids: Iterable[int], reason: str) -> None:
    for a, b in combinations(sorted(set(ids)), 2):
        if reason not in pairs[(a, b)]:
            pairs[(a, b)].append(reason)


def _same_email(visible) -> list[tuple[list[int], str]]:
    """Contacts sharing an address, primary or secondary (either way round)."""
    emails = union_all(
        select(Contact.email.label("email"), Contact.id.label("contact_id")).where(
            visible, Contact.email.is_not(None)
        ),
        select(Contact.email_secondary.label("email"), Contact.id.label("contact_id")).where(
            visible, Contact.email_secondary.is_not(None)
        ),
    ).subquery()
    shared = (
        select(emails.c.email)
        .group_by(emails.c.email)
        .having(func.count(func.distinct(emails.c.contact_id)) > 1)
    )
    by_email: dict[str, set[int]] = defaultdict(set)
    for email, contact_id in db.session.execute(
        select(emails.c.email, emails.c.contact_id).where(emails.c.email.in_(shared))
    ):
        by_email[email].add(contact_id)
    return [(sorted(ids), f"same email {email}") for email, ids in by_email.items()]


def _same_phone(visible) -> list[tuple[list[int], str]]:
    shared = (
        select(Phone.e164)
        .join(Contact, Contact.id == Phone.contact_id)
        .where(visible, Phone.e164.is_not(None))
        .group_by(Phone.e164)
        .having(func.count(func.distinct(Phone.contact_id)) > 1)
    )
    rows = db.session.execute(
        select(Phone.e164, Phone.contact_id)
        .join(Contact, Contact.id == Phone.contact_id)
        .where(visible, Phone.e164.in_(shared))
    ).all()
    by_number: dict[str, set[int]] = defaultdict(set)
    for number, contact_id in rows:
        by_number[number].add(contact_id)
    return [(sorted(ids), f"same phone {number}") for number, ids in by_number.items()]


def _similar_names(visible) -> list[tuple[tuple[int, int], str]]:
    """Similar names in one company, or the same name key among consumers."""
    rows = db.session.execute(
        select(
            Contact.id,
            Contact.first_name,
            Contact.middle_name,
            Contact.last_name,
            Contact.account_id,
            Account.is_hidden,
            Account.name,
        )
        .join(Account, Account.id == Contact.account_id)
        .where(visible)
    ).all()
    blocks: dict[tuple, list[tuple[int, str]]] = defaultdict(list)
    for contact_id, first, middle, last, account_id, hidden, account in rows:
        key = name_key(first, middle, last)
        if not key:
            continue
        if hidden:  # consumers: the exact name key is the block
            blocks[("b2c", key)].append((contact_id, key))
        else:  # a company's people: the last name's first letter within the account
            initial = fold(last or "")[:1]
            blocks[("b2b", account_id, initial, account)].append((contact_id, key))
    found = []
    for block, members in blocks.items():
        if len(members) < 2 or len(members) > MAX_BLOCK:
            continue
        where = f" at {block[3]}" if block[0] == "b2b" else ""
        for (a, key_a), (b, key_b) in combinations(sorted(members), 2):
            if key_a == key_b or fuzz.token_sort_ratio(key_a, key_b) >= NAME_SIMILARITY:
                found.append(((a, b), f"similar name{where}"))
    return found


def _not_duplicates(visible) -> set[tuple[int, int]]:
    """The remembered pairs of contacts matching `visible` (read in SQL, not per id)."""
    seen = select(Contact.id).where(visible)
    rows = db.session.execute(
        select(NotDuplicate.low_id, NotDuplicate.high_id).where(
            NotDuplicate.low_id.in_(seen), NotDuplicate.high_id.in_(seen)
        )
    ).all()
    return {(low, high) for low, high in rows}


def _components(pairs: dict[tuple[int, int], list[str]]) -> list[DuplicateGroup]:
    """The pairs joined into connected groups (union-find), each with its pairs' reasons."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[int, DuplicateGroup] = {}
    for x in parent:
        groups.setdefault(root(x), DuplicateGroup([])).contact_ids.append(x)
    for pair, reasons in pairs.items():
        groups[root(pair[0])].reasons[pair] = reasons
    for group in groups.values():
        group.contact_ids.sort()
    return list(groups.values())


def mark_not_duplicates(actor: Actor, contact_ids: Iterable[int]) -> int:
    """Remember that these contacts are different people: no pair of them is proposed
    again. Returns how many pairs were newly remembered."""
    if not can(actor, "contact.merge"):
        raise PermissionDenied("You may not decide about duplicates.")
    wanted = sorted(set(contact_ids))
    seen = set(
        db.session.scalars(
            select(Contact.id).where(Contact.id.in_(wanted), contact_visibility(actor))
        )
    )
    if len(seen) < 2 or len(seen) != len(wanted):
        raise ValidationFailed({"contacts": ["Choose two or more contacts you can see."]})
    known = _not_duplicates(Contact.id.in_(seen))
    added = 0
    for low, high in combinations(sorted(seen), 2):
        if (low, high) not in known:
            db.session.add(
                NotDuplicate(low_id=low, high_id=high, marked_by_id=getattr(actor, "id", None))
            )
            added += 1
    db.session.flush()
    return added


def matches_for(
    actor: Actor, contact: Contact, phones: Iterable[str | None] = ()
) -> list[tuple[Contact, list[str]]]:
    """Existing contacts `actor` may see that look like `contact` (one being created, already
    checked by the contact rules), each with why: the same email (primary or secondary,
    either way round), the same phone (`phones`: E.164 numbers), or the same name key (in
    the same company account for a B2B contact, among consumers for a B2C one). Trashed and
    merged contacts are never matched. At most MAX_MATCHES, those with most reasons first."""
    with db.session.no_autoflush:  # `contact` may be pending: it must not be saved by a query
        return _matches_for(actor, contact, phones)


def _matches_for(
    actor: Actor, contact: Contact, phones: Iterable[str | None]
) -> list[tuple[Contact, list[str]]]:
    visible = contact_visibility(actor)
    if contact.id is not None:
        visible = visible & (Contact.id != contact.id)
    found: dict[int, list[str]] = defaultdict(list)
    emails = sorted({e.lower() for e in (contact.email, contact.email_secondary) if e})
    if emails:
        rows = db.session.execute(
            select(Contact.id, Contact.email, Contact.email_secondary)
            .where(visible, or_(Contact.email.in_(emails), Contact.email_secondary.in_(emails)))
            .order_by(Contact.id)
            .limit(MAX_MATCHES)
        )
        for contact_id, email, secondary in rows:
            for address in emails:
                if address in (email, secondary):
                    found[contact_id].append(f"same email {address}")
    numbers = sorted({n for n in phones if n})
    if numbers:
        rows = db.session.execute(
            select(Phone.contact_id, Phone.e164)
            .join(Contact, Contact.id == Phone.contact_id)
            .where(visible, Phone.e164.in_(numbers))
            .distinct()
            .order_by(Phone.contact_id, Phone.e164)
            .limit(MAX_MATCHES * len(numbers))
        )
        for contact_id, number in rows:
            found[contact_id].append(f"same phone {number}")
    for contact_id, reason in _same_name_key(visible, contact):
        found[contact_id].append(reason)
    chosen = sorted(found, key=lambda i: (-len(found[i]), i))[:MAX_MATCHES]
    if not chosen:
        return []
    loaded = {
        c.id: c
        for c in db.session.scalars(
            select(Contact).where(Contact.id.in_(chosen)).options(selectinload(Contact.account))
        )
    }
    return [(loaded[i], found[i]) for i in chosen if i in loaded]


def _same_name_key(visible, contact: Contact) -> list[tuple[int, str]]:
    """Contacts with `contact`'s name key (the indexed `Contact.name_key`): in its company
    account (B2B), or among consumers (B2C)."""
    key = name_key_of(contact)
    if not key:
        return []
    account = contact.account
    query = (
        select(Contact.id)
        .join(Account, Account.id == Contact.account_id)
        .where(visible, Contact.name_key == key)
    )
    if contact.kind == ContactKind.B2B:
        if account is None or account.id is None or account.is_hidden:
            return []
        query = query.where(Contact.account_id == account.id)
        reason = f"same name at {account.name}"
    else:
        query = query.where(Account.is_hidden.is_(True))
        reason = "same name"
    rows = db.session.scalars(query.order_by(Contact.id).limit(NAME_CANDIDATES))
    return [(contact_id, reason) for contact_id in rows]
