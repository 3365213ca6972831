"""The customer lifecycle's status rules: what deals and orders make of a contact's customer
and prospect statuses. Applied on every change of deals and orders (form, API, merge) and
by `flask --app app crm recompute-statuses`.

Customer status:
1. An order from the online store (not cancelled) makes the contact a Customer for good: a
   manual change to anything else is refused, with the order named.
2. Any other order (not cancelled), or a won deal, makes it a Customer.
3. Otherwise an open deal makes a Non-customer a Prospect (a Customer stays a Customer).
4. Otherwise a Prospect becomes a Non-customer (its deals were lost or deleted); a
   Customer or Non-customer set by hand stays as it is.

Prospect status:
a. An open deal makes the contact a Prospect.
b. Otherwise its latest closed deal decides: won, Non-prospect; lost, Lost prospect.
c. Otherwise (no deal any more) a Prospect becomes a Non-prospect.

The rules run for the contacts a change of deals or orders touches: a status set by hand on
a contact without deals or orders is never changed by them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, func, select

from crm.extensions import db
from crm.models import (
    Contact,
    CustomerStatus,
    Deal,
    DealStage,
    Order,
    OrderSource,
    OrderStatus,
    ProspectStatus,
    deal_contacts,
)

CHUNK = 500


@dataclass
class Facts:
    """What the rules read of one contact."""

    open_deals: int = 0
    won_deals: int = 0
    latest_closed: DealStage | None = None
    orders: int = 0
    store_order: str | None = None  # the number of an online-store order


def statuses(
    facts: Facts, customer: CustomerStatus, prospect: ProspectStatus
) -> tuple[CustomerStatus, ProspectStatus]:
    """The statuses the rules give a contact with these facts and these current statuses."""
    if facts.store_order or facts.orders or facts.won_deals:
        customer = CustomerStatus.CUSTOMER
    elif facts.open_deals:
        if customer != CustomerStatus.CUSTOMER:
            customer = CustomerStatus.PROSPECT
    elif customer == CustomerStatus.PROSPECT:
        customer = CustomerStatus.NON_CUSTOMER
    if facts.open_deals:
        prospect = ProspectStatus.PROSPECT
    elif facts.latest_closed == DealStage.WON:
        prospect = ProspectStatus.NON_PROSPECT
    elif facts.latest_closed == DealStage.LOST:
        prospect = ProspectStatus.LOST_PROSPECT
    elif prospect == ProspectStatus.PROSPECT:
        prospect = ProspectStatus.NON_PROSPECT
    return customer, prospect


def facts_of(contact_ids: list[int]) -> dict[int, Facts]:
    """The facts of these contacts, in five grouped queries."""
    found = {contact_id: Facts() for contact_id in contact_ids}
    if not contact_ids:
        return found
    link = deal_contacts.c
    per_stage = (
        select(link.contact_id, Deal.stage, func.count())
        .join(Deal, Deal.id == link.deal_id)
        .where(link.contact_id.in_(contact_ids))
        .group_by(link.contact_id, Deal.stage)
    )
    for contact_id, stage, count in db.session.execute(per_stage):
        if stage == DealStage.OPEN:
            found[contact_id].open_deals = count
        elif stage == DealStage.WON:
            found[contact_id].won_deals = count
    latest = (
        select(link.contact_id, func.max(Deal.closed_at).label("at"))
        .join(Deal, Deal.id == link.deal_id)
        .where(link.contact_id.in_(contact_ids), Deal.stage != DealStage.OPEN)
        .group_by(link.contact_id)
        .subquery()
    )
    closing = (
        select(link.contact_id, Deal.stage)
        .join(Deal, Deal.id == link.deal_id)
        .join(latest, and_(latest.c.contact_id == link.contact_id, latest.c.at == Deal.closed_at))
        .order_by(Deal.id)
    )
    for contact_id, stage in db.session.execute(closing):
        found[contact_id].latest_closed = stage  # the same moment: the newest deal decides
    live_orders = (
        select(Order.contact_id, func.count(), func.min(Order.number).filter(
            Order.source == OrderSource.ONLINE_STORE
        ))
        .where(Order.contact_id.in_(contact_ids), Order.status != OrderStatus.CANCELLED)
        .group_by(Order.contact_id)
    )  # fmt: skip
    for contact_id, count, store_number in db.session.execute(live_orders):
        found[contact_id].orders = count
        found[contact_id].store_order = store_number
    return found


def apply_status_rules(contact_ids: Iterable[int]) -> int:
    """Give these contacts the statuses the rules say, in the session (the history records
    each change); how many changed."""
    ids = sorted({i for i in contact_ids if i is not None})
    changed = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        facts = facts_of(chunk)
        for contact in db.session.scalars(select(Contact).where(Contact.id.in_(chunk))):
            customer, prospect = statuses(
                facts[contact.id], contact.customer_status, contact.prospect_status
            )
            if (customer, prospect) != (contact.customer_status, contact.prospect_status):
                contact.customer_status, contact.prospect_status = customer, prospect
                changed += 1
    db.session.flush()
    return changed


def store_order_of(contact_id: int | None) -> str | None:
    """The number of the contact's first online-store order (not cancelled), if any."""
    if contact_id is None:
        return None
    return db.session.scalar(
        select(func.min(Order.number)).where(
            Order.contact_id == contact_id,
            Order.source == OrderSource.ONLINE_STORE,
            Order.status != OrderStatus.CANCELLED,
        )
    )


def manual_status_error(contact: Contact, new_status: CustomerStatus) -> str | None:
    """Why a hand-made change of the contact's customer status is refused (rule 1), or None."""
    if new_status == CustomerStatus.CUSTOMER:
        return None
    number = store_order_of(contact.id)
    if number is None:
        return None
    return (
        f"This contact bought in the online store (order {number}): it stays a Customer "
        "and its customer status cannot be changed by hand."
    )


def recompute_all() -> tuple[int, int]:
    """Apply the rules to every contact with a deal or an order; (looked at, changed)."""
    with_deals = select(deal_contacts.c.contact_id)
    with_orders = select(Order.contact_id).where(Order.contact_id.is_not(None))
    ids = list(db.session.scalars(with_deals.union(with_orders)))
    return len(ids), apply_status_rules(ids)
