"""Sales pages: leads and their conversion, deals won and lost from their page, and the
contact's lifecycle cards (deals, purchase history, payments, customer number)."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    Contact,
    CustomerStatus,
    Deal,
    Lead,
    LeadStatus,
    Order,
    Payment,
    ProspectStatus,
)
from crm.services.sales import orders
from tests.admin.helpers import post_form
from tests.conftest import csrf_from

LEAD_FORM = {
    "kind": "b2b",
    "status": "qualified",
    "title": "",
    "first_name": "Lena",
    "last_name": "Vogel",
    "company": "Vogel & Co",
    "job_title": "Buyer",
    "email": "lena@vogel.example",
    "phone": "030 1234567",
    "website": "",
    "city": "Berlin",
    "country": "DE",
    "source": "Web form",
    "owner": "__None",
    "notes": "Wants a demo.",
}


def test_create_a_lead_convert_it_and_converting_again_is_refused(client, login_as):
    login_as("crm_sales")
    response = post_form(client, "/admin/lead/new/", LEAD_FORM)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    lead = db.session.scalar(select(Lead))
    page = client.get(f"/admin/lead/details/?id={lead.id}").get_data(as_text=True)
    assert "Convert to customer contact" in page and "Vogel &amp; Co" in page
    converted = client.post(
        f"/admin/lead/convert/{lead.id}/", data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )  # fmt: skip
    html = converted.get_data(as_text=True)
    assert "Lead converted: Lena Vogel is a customer contact now." in html
    contact = db.session.scalar(select(Contact))
    assert contact.account.name == "Vogel & Co" and contact.phones[0].e164 == "+49301234567"
    db.session.refresh(lead)
    assert (lead.status, lead.converted_contact_id) == (LeadStatus.CONVERTED, contact.id)
    again = client.post(
        f"/admin/lead/convert/{lead.id}/", data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )  # fmt: skip
    assert "Not converted: This lead was converted on" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1
    details = client.get(f"/admin/lead/details/?id={lead.id}").get_data(as_text=True)
    assert 'id="converted-contact"' in details and 'id="convert-submit"' not in details


def test_lead_form_errors_are_shown_on_their_fields(client, login_as):
    login_as("crm_sales")
    response = post_form(client, "/admin/lead/new/", {**LEAD_FORM, "email": "nope", "company": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Not a valid email address" in html and "A B2B lead needs its company" in html
    assert db.session.scalar(select(func.count()).select_from(Lead)) == 0


def test_bulk_conversion_reports_what_it_refused(client, login_as):
    user = login_as("crm_manager")
    good = Lead(first_name="Ann", last_name="Ok", kind="b2c", owner_id=user.id)
    bad = Lead(first_name="Bob", last_name="Bad", kind="b2c", phone="12", owner_id=user.id)
    db.session.add_all([good, bad])
    db.session.commit()
    page = client.get("/admin/lead/").get_data(as_text=True)
    response = client.post(
        "/admin/lead/action/",
        data={"action": "convert", "rowid": [str(good.id), str(bad.id)],
              "csrf_token": csrf_from(page)},
        follow_redirects=True,
    )  # fmt: skip
    html = response.get_data(as_text=True)
    assert "1 lead(s) converted to customer contacts." in html
    assert "Not converted: Bob Bad:" in html
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1


def test_marketeers_may_not_convert(client, login_as):
    login_as("crm_marketeer")
    lead = Lead(first_name="Ann", last_name="Ok", kind="b2c")
    db.session.add(lead)
    db.session.commit()
    page = client.get(f"/admin/lead/details/?id={lead.id}").get_data(as_text=True)
    assert "Convert to customer contact" not in page
    token = csrf_from(client.get("/admin/lead/").get_data(as_text=True))
    response = client.post(f"/admin/lead/convert/{lead.id}/", data={"csrf_token": token})
    assert response.status_code == 403


def test_a_deal_from_the_contacts_page_won_from_its_own(client, login_as, make_contact):
    login_as("crm_sales")
    ana = make_contact()
    contact_page = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    assert 'id="new-deal"' in contact_page
    form_page = client.get(f"/admin/deal/new/?contact_id={ana.id}").get_data(as_text=True)
    assert "Ana Smith" in form_page  # the contact is chosen already
    response = post_form(
        client,
        f"/admin/deal/new/?contact_id={ana.id}",
        {"title": "Relaunch", "contacts": str(ana.id), "account": "", "amount": "1200.50",
         "currency": "eur", "stage": "open", "expected_close": "", "owner": "__None",
         "notes": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    deal = db.session.scalar(select(Deal))
    db.session.refresh(ana)
    assert (ana.customer_status, ana.prospect_status) == (
        CustomerStatus.PROSPECT, ProspectStatus.PROSPECT,
    )  # fmt: skip
    page = client.get(f"/admin/deal/details/?id={deal.id}").get_data(as_text=True)
    won = client.post(
        f"/admin/deal/{deal.id}/stage/", data={"stage": "won", "csrf_token": csrf_from(page)},
        follow_redirects=True,
    )  # fmt: skip
    assert "Deal &#39;Relaunch&#39; is won now." in won.get_data(as_text=True)
    contact_page = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    assert 'id="customer-status">Customer<' in contact_page and "Relaunch" in contact_page
    assert "1,200.50 EUR" in contact_page


def test_deals_of_contacts_a_user_cannot_see_are_not_listed(
    client, login_as, make_contact, make_user
):
    from crm.models import AccessClass

    key = AccessClass(name="Key")
    db.session.add(key)
    db.session.commit()
    hidden = make_contact(make_user("crm_admin"), first_name="Kai", access_class=key)
    deal = Deal(title="Secret deal")
    deal.contacts = [hidden]
    db.session.add(deal)
    db.session.commit()
    login_as("crm_sales")
    assert "Secret deal" not in client.get("/admin/deal/").get_data(as_text=True)
    assert client.get(f"/admin/deal/details/?id={deal.id}").status_code == 404


def test_the_contacts_page_sets_a_consumer_and_enters_orders_and_payments(
    client, login_as, make_contact
):
    login_as("crm_manager")
    ana = make_contact()
    page = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    token = csrf_from(page)
    done = client.post(
        f"/admin/contact-lifecycle/{ana.id}/consumer/", data={"csrf_token": token},
        follow_redirects=True,
    )  # fmt: skip
    assert "Ana Smith is a consumer now: customer number 10001." in done.get_data(as_text=True)
    refused = client.post(
        f"/admin/contact-lifecycle/{ana.id}/order/",
        data={"csrf_token": token, "description": "Tea", "total": "-3"}, follow_redirects=True,
    )  # fmt: skip
    assert "Order not saved: total: The price cannot be negative." in refused.get_data(as_text=True)
    client.post(
        f"/admin/contact-lifecycle/{ana.id}/order/",
        data={"csrf_token": token, "ordered_on": "2026-11-01", "description": "Tea pot",
              "total": "39.80", "currency": "eur"},
    )  # fmt: skip
    order = db.session.scalar(select(Order))
    client.post(
        f"/admin/contact-lifecycle/{ana.id}/payment/",
        data={"csrf_token": token, "amount": "39.80", "method": "card", "order_id": order.id},
    )
    page = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    assert 'id="customer-number">10001<' in page
    assert order.number in page and "39.80 EUR" in page and "card" in page
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    db.session.refresh(ana)
    assert ana.customer_status == CustomerStatus.CUSTOMER  # a purchase


def test_the_store_rule_is_shown_and_enforced_in_the_contact_form(client, login_as, make_user):
    from tests.admin.helpers import contact_form

    admin = make_user("crm_admin")
    order, _ = orders.post_store_order(
        admin, {"external_id": "s-1", "total": "5", "customer": {"email": "zoe@example.com"}}
    )
    db.session.commit()
    zoe = order.contact
    login_as("crm_admin")
    page = client.get(f"/admin/contact/details/?id={zoe.id}").get_data(as_text=True)
    assert f"Bought in the online store (order {order.number})" in page
    edit = client.get(f"/admin/contact/edit/?id={zoe.id}").get_data(as_text=True)
    data = contact_form(first_name=zoe.first_name, last_name=zoe.last_name,
                        email="zoe@example.com", customer_status="non_customer",
                        expected_version=str(zoe.version))  # fmt: skip
    data = {k: v for k, v in data.items() if not k.startswith(("phones-", "addresses-",
                                                               "social_links-"))}  # fmt: skip
    response = client.post(
        f"/admin/contact/edit/?id={zoe.id}", data={**data, "csrf_token": csrf_from(edit)}
    )
    html = response.get_data(as_text=True)
    assert "it stays a Customer and its customer status cannot be changed by hand" in html
    db.session.refresh(zoe)
    assert zoe.customer_status == CustomerStatus.CUSTOMER


def test_marketeers_see_no_orders_and_cannot_post_them(client, login_as, make_contact):
    login_as("crm_marketeer")
    ana = make_contact()
    page = client.get(f"/admin/contact/details/?id={ana.id}").get_data(as_text=True)
    assert 'id="details-orders"' not in page and 'id="set-consumer-submit"' not in page
    token = csrf_from(page)
    for path in ("order", "payment", "consumer"):
        response = client.post(
            f"/admin/contact-lifecycle/{ana.id}/{path}/", data={"csrf_token": token, "total": "1"}
        )
        assert response.status_code == 403, path
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
