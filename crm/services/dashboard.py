"""Figures for the admin home page, through the visibility gate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from crm.auth.permissions import Actor
from crm.extensions import db
from crm.models import Account, Contact, CustomerStatus
from crm.services.access import account_visibility, contact_visibility


def dashboard_figures(user: Actor) -> dict[str, Any]:
    visible = contact_visibility(user)
    by_status = dict(
        db.session.execute(
            select(Contact.customer_status, func.count())
            .where(visible, Contact.active.is_(True))
            .group_by(Contact.customer_status)
        ).all()
    )
    recent = db.session.scalars(
        select(Contact).where(visible).order_by(Contact.updated_at.desc()).limit(8)
    ).all()
    accounts = db.session.scalar(
        select(func.count())
        .select_from(Account)
        .where(account_visibility(user), Account.is_hidden.is_(False))
    )
    return {
        "active_contacts": sum(by_status.values()),
        "customers": by_status.get(CustomerStatus.CUSTOMER, 0),
        "prospects": by_status.get(CustomerStatus.PROSPECT, 0),
        "accounts": accounts or 0,
        "recent": recent,
    }
