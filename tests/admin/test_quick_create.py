"""Quick create's endpoint (/admin/contact/quick/): it saves through the contact rules, answers
JSON for the dialog (field errors on their fields, look-alikes, refusals), and checks the
role and the CSRF token. The dialog itself: tests/browser/test_quick_create.py."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AccessClass, Account, Contact, ContactKind
from tests.conftest import csrf_from

QUICK = "/admin/contact/quick/"
JSON = {"Accept": "application/json"}


def contacts() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Contact))


def token(client) -> str:
    return csrf_from(client.get("/admin/contact/").get_data(as_text=True))


def post(client, **data):
    return client.post(QUICK, data={"csrf_token": token(client), **data}, headers=JSON)


def test_a_consumer_is_created_with_the_rules_defaults(client, login_as):
    user = login_as("crm_sales")
    response = post(client, first_name=" Zoe ", last_name="Quick", email="Zoe@Example.com",
                    phone="+44 7400 999888")  # fmt: skip
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert answer["label"] == "Zoe Quick" and answer["name"] == "Zoe Quick"
    assert answer["url"] == f"/admin/contact/details/?id={answer['id']}"
    zoe = db.session.get(Contact, answer["id"])
    assert (zoe.first_name, zoe.email) == ("Zoe", "zoe@example.com")
    assert zoe.kind == ContactKind.B2C and zoe.account.is_hidden and zoe.is_primary
    assert zoe.owner_id == user.id
    assert [p.e164 for p in zoe.phones] == ["+447400999888"]


def test_an_account_makes_a_b2b_contact(client, login_as):
    user = login_as("crm_sales")
    globex = Account(name="Globex", owner=user)
    db.session.add(globex)
    db.session.commit()
    response = post(client, first_name="Bo", last_name="Lee", account=str(globex.id))
    assert response.status_code == 201
    bo = db.session.get(Contact, response.get_json()["id"])
    assert bo.kind == ContactKind.B2B and bo.account_id == globex.id


def test_errors_come_back_on_their_fields_and_nothing_is_saved(client, login_as):
    login_as("crm_sales")
    before = contacts()
    response = post(client, first_name="", last_name="Quick", email="not an email",
                    phone="12")  # fmt: skip
    assert response.status_code == 422
    answer = response.get_json()
    assert set(answer["fields"]) == {"first_name", "email", "phone"}
    assert answer["fields"]["first_name"] == ["First name is required."]
    assert answer["error"].startswith("Nothing was saved")
    assert contacts() == before


def test_an_account_the_user_does_not_see_or_a_consumers_own_is_refused(
    client, login_as, make_user, make_contact
):
    user = login_as("crm_sales")
    board = Account(name="Board only", owner=make_user("crm_manager"),
                    access_class=AccessClass(name="Board"))  # fmt: skip
    db.session.add(board)
    db.session.commit()
    consumer = make_contact(user, first_name="Cy", last_name="Consumer")
    before = contacts()
    for account_id in (board.id, consumer.account_id, "x"):
        response = post(client, first_name="Bo", last_name="Lee", account=str(account_id))
        assert response.status_code == 422
        assert response.get_json()["fields"] == {"account": ["Choose the account from the list."]}
    assert contacts() == before


def test_a_look_alike_is_shown_until_save_anyway(client, login_as, make_contact):
    user = login_as("crm_sales")
    make_contact(user, first_name="Ana", last_name="Smith", email="ana@example.com")
    before = contacts()
    response = post(client, first_name="Anna", last_name="Smyth", email="ANA@example.com")
    assert response.status_code == 409
    [match] = response.get_json()["duplicates"]
    assert match["name"] == "Ana Smith" and match["reasons"] == ["same email ana@example.com"]
    assert contacts() == before
    again = post(client, first_name="Anna", last_name="Smyth", email="ANA@example.com",
                 save_anyway="1")  # fmt: skip
    assert again.status_code == 201
    assert contacts() == before + 1


def test_a_role_that_may_not_create_contacts_gets_403(client, login_as):
    login_as("crm_list_manager")
    before = contacts()
    page = client.get("/admin/")  # any page's token will do
    response = client.post(
        QUICK,
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "first_name": "No",
              "last_name": "Way"},
        headers=JSON,
    )  # fmt: skip
    assert response.status_code == 403
    assert response.is_json and response.get_json()["error"]
    assert contacts() == before


def test_a_post_without_the_csrf_token_is_refused_in_json(client, login_as):
    login_as("crm_sales")
    before = contacts()
    response = client.post(QUICK, data={"first_name": "No", "last_name": "Token"}, headers=JSON)
    assert response.status_code == 400
    assert "expired" in response.get_json()["error"]
    assert contacts() == before


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.post(QUICK, data={"first_name": "A", "last_name": "B"})
    assert response.status_code in (302, 400)
    assert contacts() == 0


def test_the_list_says_what_was_created_with_a_link_to_its_card(client, login_as):
    login_as("crm_sales")
    response = post(client, first_name="Zoe", last_name="Quick", announce="1")
    contact_id = response.get_json()["id"]
    page = client.get("/admin/contact/").get_data(as_text=True)
    assert "Zoe Quick was created." in page
    assert f'href="/admin/contact/details/?id={contact_id}"' in page
    assert 'id="quick-create"' in page and 'id="quick-create-open"' in page


def test_the_dialog_is_offered_where_contacts_are_chosen(client, login_as):
    login_as("crm_sales")
    deal_form = client.get("/admin/deal/new/").get_data(as_text=True)
    assert 'data-pickers="contacts"' in deal_form and "quick_create.js" in deal_form
    contact_form = client.get("/admin/contact/new/").get_data(as_text=True)
    assert 'data-pickers="manager"' in contact_form
    zoe = post(client, first_name="Zoe", last_name="Quick").get_json()
    card = client.get(f"/admin/contact/details/?id={zoe['id']}").get_data(as_text=True)
    assert 'data-pickers="other_id"' in card  # "is linked to" another contact
    home = client.get("/admin/").get_data(as_text=True)
    assert 'id="quick-create"' not in home


def test_the_dialog_is_not_offered_to_who_may_not_create_contacts(client, login_as):
    login_as("crm_list_manager")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="quick-create"' not in page and "quick_create.js" not in page


def test_the_full_form_opens_with_what_the_dialog_held(client, login_as):
    user = login_as("crm_sales")
    globex = Account(name="Globex", owner=user)
    db.session.add(globex)
    db.session.commit()
    page = client.get(
        f"/admin/contact/new/?first_name=Zoe&last_name=Quick&email=zoe%40example.com"
        f"&phone=%2B44+7400+999888&account={globex.id}"
    ).get_data(as_text=True)
    assert 'name="first_name" required type="text" value="Zoe"' in page
    assert 'value="Quick"' in page and 'value="zoe@example.com"' in page
    assert 'name="phones-0-number" required type="text" value="+44 7400 999888"' in page
    assert f'data-json="[{globex.id}, &#34;Globex&#34;]"' in page
    assert 'checked id="kind-0" name="kind" type="radio" value="b2b"' in page
