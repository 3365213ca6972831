"""Figures for the admin home page, through the visibility gate.

Each figure is counted like the lists count (exact up to 10,000, then "~N", PostgreSQL's
estimate, or "10,000+"): a home page must not count a million rows on every visit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm.auth.permissions import Actor
from crm.extensions import db
from crm.models import Account, Contact, CustomerStatus
from crm.services.platform import counting
from crm.services.platform.access import account_visibility, contact_visibility, unindexed


def _shown(query) -> str:
    return counting.list_count(query).short()


def dashboard_figures(user: Actor) -> dict[str, Any]:
    live = select(Contact.id).where(
        contact_visibility(user, use_index=False),
        unindexed(Contact.__table__.c.active).is_(True),
    )
    accounts = select(Account.id).where(account_visibility(user), Account.is_hidden.is_(False))
    recent = db.session.scalars(
        select(Contact)
        .where(contact_visibility(user, use_index=False))
        .order_by(Contact.updated_at.desc())
        .limit(8)
    ).all()
    return {
        "active_contacts": _shown(live),
        "customers": _shown(live.where(Contact.customer_status == CustomerStatus.CUSTOMER)),
        "prospects": _shown(live.where(Contact.customer_status == CustomerStatus.PROSPECT)),
        "accounts": _shown(accounts),
        "recent": recent,
    }
