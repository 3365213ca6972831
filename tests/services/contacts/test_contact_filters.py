"""Every contact filter's WHERE clause selects exactly the contacts it names."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select

from crm.extensions import db
from crm.models import Category, Contact, Criterion, contact_categories, contact_criteria
from crm.services.contacts import filters as where
from crm.services.contacts import selection
from crm.services.contacts.bulk import add_tags
from crm.services.platform import query_plan


def names(clause) -> list[str]:
    query = select(Contact.first_name).where(clause).order_by(Contact.first_name)
    return list(db.session.scalars(query))


@pytest.fixture(params=["few", "many"])
def link_form(request, monkeypatch):
    """Run with the form for few matches and with the one for many (over the count cap)."""
    if request.param == "many":
        monkeypatch.setattr(query_plan, "MANY", 1)
    return request.param


def test_each_filter(manager, make_user, make_contact, link_form):
    other = make_user("crm_sales")
    ana = make_contact(
        first_name="Ana",
        owner=manager,
        account="Acme Logistics",
        email="ana@example.com",
        birthday=date(1990, 5, 17),
        phones=[{"type": "Mobile", "country_code": "GB", "number": "07400 123456"}],
        addresses=[{"type": "Main", "city": "Berlin", "country": "DE"}],
    )
    bo = make_contact(
        first_name="Bo",
        addresses=[{"type": "Main", "city": "  münchen ", "country": "Germany"}],
        owner=other,
        responsible=None,
    )
    cy = make_contact(first_name="Cy", owner=other)
    add_tags(manager, select(Contact.id).where(Contact.id == ana.id), ["VIP"])
    customer = db.session.scalar(select(Category).where(Category.name == "Customer"))
    reader = db.session.scalar(select(Criterion).where(Criterion.name == "Newsletter reader"))
    db.session.execute(insert(contact_categories).values(contact_id=bo.id, category_id=customer.id))
    db.session.execute(insert(contact_criteria).values(contact_id=cy.id, criterion_id=reader.id))
    cy.responsible_id = other.id
    db.session.commit()

    assert names(where.has_tag(" vip ")) == ["Ana"]
    assert names(where.lacks_tag("VIP")) == ["Bo", "Cy"]
    assert names(where.has_tag("nonexistent")) == []
    assert names(where.in_category(customer.id)) == ["Bo"]
    assert names(where.has_criterion(reader.id)) == ["Cy"]
    assert names(where.owned_by(other.id)) == ["Bo", "Cy"]
    assert names(where.owned_by(manager.id)) == ["Ana"]
    assert names(where.responsible_is(other.id)) == ["Cy"]
    assert names(where.responsible_is(None)) == ["Ana", "Bo"]
    assert names(where.in_city("BERLIN")) == ["Ana"]
    assert names(where.in_city("Munchen")) == ["Bo"]  # accents and case do not matter
    assert names(where.in_country("de")) == ["Ana", "Bo"]
    assert names(where.in_account_named("acme")) == ["Ana"]
    assert names(where.in_account_named("%")) == []
    assert names(where.in_account(ana.account_id)) == ["Ana"]
    assert names(where.birthday_in_month(5)) == ["Ana"]
    assert names(where.has_email(True)) == ["Ana"]
    assert names(where.has_email(False)) == ["Bo", "Cy"]
    assert names(where.has_phone(True)) == ["Ana"]
    assert names(where.has_phone(False)) == ["Bo", "Cy"]
    selection.add(manager, [bo.id])
    assert names(where.in_selection_of(manager.id)) == ["Bo"]
    assert names(where.in_selection_of(other.id)) == []
