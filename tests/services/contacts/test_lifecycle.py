"""The customer lifecycle: deals and orders driving the statuses, the online-store rule,
idempotent store orders, customer numbers under concurrency, lead conversion."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    Contact,
    ContactKind,
    CustomerStatus,
    Deal,
    DealStage,
    Lead,
    LeadStatus,
    Order,
    OrderStatus,
    ProspectStatus,
)
from crm.models.base import utcnow
from crm.services.contacts import lifecycle
from crm.services.contacts.saving import apply_contact_rules
from crm.services.sales import consumers, deals, leads, orders

C, P = CustomerStatus, ProspectStatus


def statuses(contact: Contact) -> tuple[CustomerStatus, ProspectStatus]:
    db.session.refresh(contact)
    return contact.customer_status, contact.prospect_status


def new_deal(actor, *contacts, stage=DealStage.OPEN, amount="1000") -> Deal:
    deal = Deal(title="Website relaunch", amount=amount, currency="eur", stage=stage)
    deal.contacts = list(contacts)
    deals.save_deal(actor, deal, is_new=True)
    db.session.commit()
    return deal


def test_an_open_deal_makes_a_prospect_and_winning_it_a_customer(manager, make_contact):
    ana = make_contact()
    assert statuses(ana) == (C.NON_CUSTOMER, P.NON_PROSPECT)
    deal = new_deal(manager, ana)
    assert (deal.currency, deal.amount, deal.closed_at) == ("EUR", Decimal("1000.00"), None)
    assert statuses(ana) == (C.PROSPECT, P.PROSPECT)
    deals.close_deal(manager, deal, DealStage.WON)
    db.session.commit()
    assert deal.closed_at is not None
    assert statuses(ana) == (C.CUSTOMER, P.NON_PROSPECT)


def test_a_lost_deal_makes_a_lost_prospect_and_a_non_customer(manager, make_contact):
    ana = make_contact()
    deal = new_deal(manager, ana)
    deals.close_deal(manager, deal, DealStage.LOST)
    db.session.commit()
    assert statuses(ana) == (C.NON_CUSTOMER, P.LOST_PROSPECT)
    deals.close_deal(manager, deal, DealStage.OPEN)  # opened again
    db.session.commit()
    assert statuses(ana) == (C.PROSPECT, P.PROSPECT) and deal.closed_at is None


def test_a_customer_stays_a_customer_when_a_new_deal_opens_or_is_lost(manager, make_contact):
    ana = make_contact(customer_status=C.CUSTOMER)  # set by hand
    deal = new_deal(manager, ana)
    assert statuses(ana) == (C.CUSTOMER, P.PROSPECT)
    deals.close_deal(manager, deal, DealStage.LOST)
    db.session.commit()
    assert statuses(ana) == (C.CUSTOMER, P.LOST_PROSPECT)


def test_the_latest_closed_deal_decides_and_a_deleted_deal_undoes_its_status(manager, make_contact):
    ana = make_contact()
    lost = new_deal(manager, ana, stage=DealStage.LOST)
    won = new_deal(manager, ana, stage=DealStage.WON)
    lost.closed_at = won.closed_at + timedelta(minutes=1)  # lost after the win
    db.session.commit()
    lifecycle.apply_status_rules([ana.id])
    db.session.commit()
    assert statuses(ana) == (C.CUSTOMER, P.LOST_PROSPECT)
    only = new_deal(manager, make_contact(first_name="Bo"))
    bo = only.contacts[0]
    assert statuses(bo) == (C.PROSPECT, P.PROSPECT)
    deals.delete_deal(manager, only)
    db.session.commit()
    assert statuses(bo) == (C.NON_CUSTOMER, P.NON_PROSPECT)


def test_a_contact_taken_off_a_deal_gets_its_statuses_back(manager, make_contact):
    ana, bo = make_contact(), make_contact(first_name="Bo")
    deal = new_deal(manager, ana, bo)
    assert statuses(bo) == (C.PROSPECT, P.PROSPECT)
    deal.contacts = [ana]
    deals.save_deal(manager, deal, is_new=False)
    db.session.commit()
    assert statuses(bo) == (C.NON_CUSTOMER, P.NON_PROSPECT)
    assert statuses(ana) == (C.PROSPECT, P.PROSPECT)


def test_deal_checks(manager, sales, make_contact, make_user):
    with pytest.raises(ValidationFailed) as refused:
        deal = Deal(title=" ", amount="-5", currency="ABC")
        deals.save_deal(manager, deal, is_new=True)
    assert refused.value.errors == {
        "title": ["Give the deal a title."],
        "amount": ["The amount cannot be negative."],
        "currency": ["Unknown currency 'ABC'; use its ISO code (e.g. EUR, USD)."],
        "contacts": ["Choose the contact(s) of this deal."],
    }
    db.session.rollback()
    key = AccessClass(name="Key accounts")  # granted to nobody: sales do not see its contacts
    db.session.add(key)
    db.session.commit()
    hidden = make_contact(make_user("crm_admin"), first_name="Not", access_class=key)
    with pytest.raises(ValidationFailed) as refused:
        deal = Deal(title="Sneaky")
        deal.contacts = [hidden]
        deals.save_deal(sales, deal, is_new=True)
    assert refused.value.errors == {"contacts": ["Choose contacts you can see."]}


def test_marketeers_see_deals_but_may_not_change_them(make_user, make_contact):
    marketeer = make_user("crm_marketeer")
    with pytest.raises(PermissionDenied):
        deal = Deal(title="X")
        deal.contacts = [make_contact()]
        deals.save_deal(marketeer, deal, is_new=True)


# ---- orders ------------------------------------------------------------------------------
STORE_ORDER = {
    "external_id": "shop-1001",
    "ordered_on": "2026-11-20",
    "currency": "EUR",
    "customer": {"email": "Zoe@Example.com", "first_name": "Zoë", "last_name": "Roth"},
    "lines": [
        {"description": "Tea pot", "quantity": 2, "unit_price": "19.90"},
        {"description": "Tea", "quantity": "1.5", "unit_price": "10"},
    ],
}


def test_a_store_order_for_a_new_email_creates_a_consumer_customer_once(admin_user):
    order, created = orders.post_store_order(admin_user, STORE_ORDER)
    db.session.commit()
    assert created and order.total == Decimal("54.80") and len(order.lines) == 2
    zoe = order.contact
    assert (zoe.email, zoe.kind, zoe.account.is_hidden) == (
        "zoe@example.com",
        ContactKind.B2C,
        True,
    )
    assert statuses(zoe) == (C.CUSTOMER, P.NON_PROSPECT)
    again, created = orders.post_store_order(admin_user, STORE_ORDER)
    db.session.commit()
    assert not created and again.id == order.id
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1


def test_a_store_buyer_cannot_be_set_back_to_non_customer_by_hand(admin_user):
    order, _ = orders.post_store_order(admin_user, STORE_ORDER)
    db.session.commit()
    zoe = order.contact
    zoe.customer_status = C.NON_CUSTOMER
    with pytest.raises(ValidationFailed) as refused:
        apply_contact_rules(admin_user, zoe, is_new=False)
    assert refused.value.errors["customer_status"] == [
        f"This contact bought in the online store (order {order.number}): it stays a Customer "
        "and its customer status cannot be changed by hand."
    ]
    db.session.rollback()
    orders.set_order_status(
        admin_user, order, OrderStatus.CANCELLED
    )  # a cancelled order counts not
    db.session.commit()
    zoe.customer_status = C.NON_CUSTOMER
    apply_contact_rules(admin_user, zoe, is_new=False)
    db.session.commit()
    assert statuses(zoe)[0] == C.NON_CUSTOMER


def test_store_order_errors_name_their_fields(admin_user):
    with pytest.raises(ValidationFailed) as refused:
        orders.post_store_order(
            admin_user,
            {"customer": {"email": "nope"}, "currency": "EURO",
             "lines": [{"description": "", "quantity": 0, "unit_price": "x"}]},
        )  # fmt: skip
    errors = refused.value.errors
    assert set(errors) == {
        "external_id", "customer.email", "currency", "lines-0-description", "lines-0-quantity",
        "lines-0-unit_price",
    }  # fmt: skip
    assert errors["external_id"] == ["Give the store's order id."]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_the_same_store_order_posted_twice_at_once_is_stored_once(app, admin_user):
    admin_id = admin_user.id
    db.session.commit()
    results: list[bool] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(2)

    def post() -> None:
        with app.app_context():
            try:
                actor = db.session.get(type(admin_user), admin_id)
                barrier.wait()
                _order, created = orders.post_store_order(actor, STORE_ORDER)
                db.session.commit()
                results.append(created)
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(results) == [False, True]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_manual_order_makes_a_customer_and_payments_are_kept(admin_user, make_contact):
    ana = make_contact()
    order = orders.create_order(admin_user, ana, {"total": "99.50", "currency": "usd"})
    payment = orders.record_payment(
        admin_user, ana, {"amount": "99.5", "order_id": order.id, "method": "card"}
    )
    db.session.commit()
    assert statuses(ana)[0] == C.CUSTOMER
    assert [o.number for o in orders.orders_of_contact(admin_user, ana.id)] == [order.number]
    assert orders.payments_of_contact(admin_user, ana.id) == [payment]
    assert payment.amount == Decimal("99.50") and payment.order == order
    with pytest.raises(ValidationFailed) as refused:
        orders.record_payment(admin_user, ana, {"amount": "", "order_id": 999})
    assert set(refused.value.errors) == {"amount", "order_id"}


def test_recompute_fixes_statuses_changed_behind_the_rules_back(manager, make_contact):
    ana = make_contact()
    new_deal(manager, ana, stage=DealStage.WON)
    db.session.execute(
        Contact.__table__.update().values(
            customer_status="non_customer", prospect_status="prospect"
        )
    )
    db.session.commit()
    assert lifecycle.recompute_all() == (1, 1)
    db.session.commit()
    assert statuses(ana) == (C.CUSTOMER, P.NON_PROSPECT)
    assert lifecycle.recompute_all() == (1, 0)


def test_the_recompute_command(app, manager, make_contact):
    ana = make_contact()
    new_deal(manager, ana)
    db.session.execute(Contact.__table__.update().values(prospect_status="lost_prospect"))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "recompute-statuses"])
    assert result.exit_code == 0, result.output
    assert result.output == "1 contact(s) with deals or orders looked at, 1 changed.\n"
    assert statuses(ana) == (C.PROSPECT, P.PROSPECT)


# ---- consumers ---------------------------------------------------------------------------
def test_set_as_consumer_gives_the_next_customer_number_once(manager, make_contact, make_user):
    ana, bo = make_contact(), make_contact(first_name="Bo")
    first = consumers.set_as_consumer(manager, ana)
    second = consumers.set_as_consumer(manager, bo)
    db.session.commit()
    assert (first, second) == (10001, 10002)
    with pytest.raises(DomainError, match="a consumer already: customer number 10001"):
        consumers.set_as_consumer(manager, ana)
    with pytest.raises(PermissionDenied):
        consumers.set_as_consumer(make_user("crm_marketeer"), bo)


def test_customer_numbers_never_repeat_under_concurrent_requests(app, manager, make_contact):
    ids = [make_contact(first_name=f"P{i}").id for i in range(8)]
    manager_id = manager.id
    db.session.commit()
    failures: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(mine: list[int]) -> None:
        with app.app_context():
            try:
                actor = db.session.get(type(manager), manager_id)
                barrier.wait()
                for contact_id in mine:
                    consumers.set_as_consumer(actor, db.session.get(Contact, contact_id))
                    db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(ids[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    numbers = db.session.scalars(select(Contact.customer_number).where(Contact.id.in_(ids))).all()
    assert sorted(numbers) == list(range(10001, 10009))


def test_customer_settings_are_checked(manager, make_contact):
    ana = make_contact()
    ana.customer_currency, ana.payment_terms_days = "euro", 400
    with pytest.raises(ValidationFailed) as refused:
        apply_contact_rules(manager, ana, is_new=False)
    assert set(refused.value.errors) == {"customer_currency", "payment_terms_days"}


# ---- leads -------------------------------------------------------------------------------
def new_lead(actor, **data) -> Lead:
    fields = {"first_name": "Ana", "last_name": "Smith", "company": "Acme GmbH",
              "email": "Ana@Acme.example", "phone": "030 1234567", "country": "Germany",
              "city": "Berlin", "job_title": "CTO", "source": "Trade fair",
              "notes": "Met at the fair."} | data  # fmt: skip
    lead = Lead(**fields)
    leads.save_lead(actor, lead, is_new=True)
    db.session.commit()
    return lead


def test_converting_a_b2b_lead_matches_its_company_and_carries_everything(sales, make_contact):
    acme = make_contact(account="ACME GMBH").account
    lead = new_lead(sales, status=LeadStatus.QUALIFIED)
    assert (lead.email, lead.country, lead.kind) == ("ana@acme.example", "DE", ContactKind.B2B)
    contact = leads.convert_lead(sales, lead)
    db.session.commit()
    assert contact.account_id == acme.id  # matched by name, not a second Acme
    assert (contact.first_name, contact.email, contact.job_title) == (
        "Ana",
        "ana@acme.example",
        "CTO",
    )
    assert [p.e164 for p in contact.phones] == ["+49301234567"]  # read in the lead's country
    assert [(a.city, a.country) for a in contact.addresses] == [("Berlin", "DE")]
    assert contact.notes == "Met at the fair.\n\nLead source: Trade fair"
    assert contact.owner_id == sales.id
    assert (lead.status, lead.converted_contact_id, lead.converted_by_id) == (
        LeadStatus.CONVERTED, contact.id, sales.id,
    )  # fmt: skip
    with pytest.raises(DomainError, match="converted on .* already"):
        leads.convert_lead(sales, lead)
    assert db.session.scalar(select(func.count()).select_from(Account).where(
        Account.is_hidden.is_(False))) == 1  # fmt: skip


def test_converting_a_b2c_lead_and_the_refusals(sales, make_user):
    lead = new_lead(sales, company=None, kind=ContactKind.B2C, phone=None)
    contact = leads.convert_lead(sales, lead)
    db.session.commit()
    assert contact.kind == ContactKind.B2C and contact.account.is_hidden
    out = new_lead(sales, first_name="Bo", status=LeadStatus.DISQUALIFIED)
    with pytest.raises(DomainError, match="disqualified"):
        leads.convert_lead(sales, out)
    bad_phone = new_lead(sales, first_name="Cy", phone="123", country=None)
    with pytest.raises(ValidationFailed) as refused:
        leads.convert_lead(sales, bad_phone)
    assert list(refused.value.errors) == ["phone"]
    with pytest.raises(PermissionDenied):
        leads.convert_lead(make_user("crm_marketeer"), bad_phone)


def test_lead_checks(sales):
    lead = Lead(first_name="", last_name="Smith", email="nope", kind=ContactKind.B2B)
    with pytest.raises(ValidationFailed) as refused:
        leads.save_lead(sales, lead, is_new=True)
    assert set(refused.value.errors) == {"first_name", "email", "company"}


def test_store_customer_rule_holds_after_a_deal_is_lost(admin_user, manager):
    order, _ = orders.post_store_order(admin_user, STORE_ORDER)
    db.session.commit()
    deal = new_deal(manager, order.contact)
    deals.close_deal(manager, deal, DealStage.LOST)
    db.session.commit()
    assert statuses(order.contact) == (C.CUSTOMER, P.LOST_PROSPECT)
    assert order.ordered_on.isoformat() == "2026-11-20" and utcnow()


def test_merging_contacts_moves_their_deals_and_orders_and_applies_the_rules(
    admin_user, manager, make_contact
):
    from crm.services.merge.contacts import merge_contacts

    ana, twin = make_contact(email="ana@example.com"), make_contact(email="ana@example.org")
    both = new_deal(manager, ana, twin)
    won = new_deal(manager, twin, stage=DealStage.WON)
    orders.create_order(admin_user, twin, {"total": "10"})
    db.session.commit()
    merge_contacts(admin_user, [ana.id, twin.id], master_id=ana.id)
    db.session.commit()
    db.session.expire_all()
    # On the deal once (the twin's own link stays with its tombstone, for an undo).
    assert [c.id for c in both.contacts if c.deleted_at is None] == [ana.id]
    assert [c.id for c in won.contacts] == [ana.id]
    assert [o.contact_id for o in orders.orders_of_contact(admin_user, ana.id)] == [ana.id]
    assert statuses(ana) == (C.CUSTOMER, P.PROSPECT)


def test_a_lead_with_a_country_but_no_city_converts_with_its_phone_read_there(sales):
    lead = new_lead(sales, city=None, country="AT", phone="01 5123456")
    contact = leads.convert_lead(sales, lead)
    assert contact.addresses == [] and [p.e164 for p in contact.phones] == ["+4315123456"]
    plus = new_lead(sales, first_name="Bo", city=None, country="AT", phone="+49 30 1234567")
    assert [p.e164 for p in leads.convert_lead(sales, plus).phones] == ["+49301234567"]


def test_who_owns_the_converted_contact(sales, manager, make_user):
    colleague = make_user("crm_sales")
    theirs = new_lead(colleague, first_name="Cy")
    # A salesperson may not give contacts away: converting a colleague's lead, they own it.
    assert leads.convert_lead(sales, theirs).owner_id == sales.id
    # A manager may: the lead's owner keeps the person.
    assert (
        leads.convert_lead(manager, new_lead(colleague, first_name="Di")).owner_id == colleague.id
    )
    gone = make_user("crm_sales", active=False)
    lead = new_lead(manager, first_name="Ed")
    lead.owner_id = gone.id
    db.session.commit()
    assert leads.convert_lead(manager, lead).owner_id == manager.id  # not an inactive user


def test_a_converted_lead_stays_converted_and_only_managers_delete_leads(sales, manager):
    lead = new_lead(sales)
    leads.convert_lead(sales, lead)
    db.session.commit()
    lead.status = LeadStatus.WORKING  # an edit (form, CLI) cannot undo the conversion
    leads.save_lead(sales, lead, is_new=False)
    db.session.commit()
    assert lead.status == LeadStatus.CONVERTED
    with pytest.raises(PermissionDenied):
        leads.delete_lead(sales, lead)
    leads.delete_lead(manager, lead)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Lead)) == 0
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1  # the contact stays


def test_a_payment_for_an_order_id_out_of_range_is_refused_on_its_field(admin_user, make_contact):
    ana = make_contact()
    with pytest.raises(ValidationFailed) as refused:
        orders.record_payment(admin_user, ana, {"amount": "5", "order_id": "9" * 30})
    assert refused.value.errors == {"order_id": ["Choose one of this contact's orders."]}
