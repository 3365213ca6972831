"""However a list's sets (tags, categories, cities, the search) are phrased for SQLite's
planner, the contacts found are the same; and the phrasing is the one measured fastest."""

from __future__ import annotations

import pytest
from sqlalchemy import and_, insert, select

from crm.extensions import db
from crm.models import Category, Contact, Phone, contact_categories
from crm.services.contacts import filters as where
from crm.services.contacts.bulk import add_tags
from crm.services.contacts.saving import apply_contact_rules
from crm.services.contacts.search import contact_search_clause
from crm.services.platform import query_plan


@pytest.fixture
def people(make_contact):
    berlin = [{"type": "Main", "city": "Berlin", "country": "DE"}]
    ana = make_contact(first_name="Ana", last_name="Smith", addresses=berlin)
    bo = make_contact(first_name="Bo", last_name="Smithers", addresses=berlin)
    cy = make_contact(first_name="Cy", last_name="Smith")
    make_contact(first_name="Di", last_name="Jones", addresses=berlin)
    actor = ana.owner
    add_tags(actor, select(Contact.id).where(Contact.id.in_([ana.id, bo.id, cy.id])), ["VIP"])
    customer = db.session.scalar(select(Category).where(Category.name == "Customer"))
    for contact in (ana, cy):
        db.session.execute(
            insert(contact_categories).values(contact_id=contact.id, category_id=customer.id)
        )
    db.session.commit()
    return customer


def conditions(customer: Category) -> list:
    """Builders: a set joins the plan being built when its condition is built."""
    return [
        lambda: contact_search_clause("smith"),
        lambda: where.has_tag("VIP"),
        lambda: where.in_city("Berlin"),
        lambda: where.in_category(customer.id),
    ]


def found(walks_index: bool, build) -> tuple[list[str], str]:
    with query_plan.planning(walks_index=walks_index) as plan:
        clause = build()
        if plan.decide():
            clause = build()
    query = select(Contact.first_name).where(clause).order_by(Contact.first_name)
    sql = str(query.compile(db.engine))
    return list(db.session.scalars(query)), sql


@pytest.mark.parametrize("walks_index", [False, True])
@pytest.mark.parametrize("many", [1, 3, 50_000])
def test_every_phrasing_finds_the_same_contacts(people, monkeypatch, walks_index, many):
    monkeypatch.setattr(query_plan, "MANY", many)
    customer = people
    cases = {
        (0,): ["Ana", "Bo", "Cy"],
        (1, 2): ["Ana", "Bo"],
        (0, 1, 2): ["Ana", "Bo"],
        (0, 3): ["Ana", "Cy"],
        (0, 1, 2, 3): ["Ana"],
        (2, 3): ["Ana"],
    }
    for picked, expected in cases.items():

        def build(picked=picked):
            builders = conditions(customer)
            return and_(*(builders[i]() for i in picked))

        names, _ = found(walks_index, build)
        assert names == expected, picked
    # A negated set stays outside the plan: still correct next to the others.
    names, _ = found(walks_index, lambda: and_(where.in_city("Berlin"), where.lacks_tag("VIP")))
    assert names == ["Di"]


def test_sets_are_intersected_unless_an_index_is_walked(people, monkeypatch, app):
    customer = people

    def build():
        return and_(where.has_tag("VIP"), where.in_city("Berlin"))

    if db.engine.dialect.name != "sqlite":  # the phrasing is for SQLite's planner only
        _, sql = found(False, build)
        assert "INTERSECT" not in sql and "+contacts" not in sql
        return

    _, sql = found(False, build)
    assert "INTERSECT" in sql  # a count or a few matches: the sets meet in the link indexes
    _, sql = found(True, build)
    assert "INTERSECT" not in sql
    assert sql.count("+contacts.id IN") == 1  # the smallest drives, the other is collected
    monkeypatch.setattr(query_plan, "MANY", 1)
    _, sql = found(True, build)
    assert sql.count("+contacts.id IN") == 2  # both big: the list's index is walked
    _, sql = found(
        True, lambda: and_(contact_search_clause("smith"), where.in_category(customer.id))
    )
    assert "contact_search MATCH" in sql


def test_has_phone_follows_the_phones(make_contact):
    mobile = [{"type": "Mobile", "country_code": "GB", "number": "07400 123456"}]
    ana = make_contact(first_name="Ana", phones=mobile)
    assert ana.has_phone is True
    for phone in list(ana.phones):
        ana.phones.remove(phone)
    apply_contact_rules(ana.owner, ana, is_new=False)
    db.session.commit()
    assert db.session.scalar(select(Contact.has_phone).where(Contact.id == ana.id)) is False
    assert db.session.scalar(select(Phone.id).where(Phone.contact_id == ana.id)) is None
    assert ana.id in db.session.scalars(select(Contact.id).where(where.has_phone(False))).all()
