"""Access classes (Webasyst's contact classes): who sees which contacts and accounts, and who
may class them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.auth.permissions import PERMISSIONS
from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import AccessClass, Account, Contact, Role
from crm.services.contacts.accounts import save_account
from crm.services.contacts.saving import apply_contact_rules, create_contact
from crm.services.lists.lookups import delete_lookup, save_lookup
from crm.services.platform import access


@pytest.fixture
def world(make_user, make_contact):
    """Retail and Key accounts classes; a sales user granted Retail directly, marketeers
    granted Key through their role; contacts in each class, one without, and Key contacts
    the sales user owns or is responsible for."""
    admin = make_user("crm_admin")
    sales = make_user("crm_sales")
    marketeer = make_user("crm_marketeer")
    manager = make_user("crm_manager")
    newcomer = make_user("crm_sales")
    retail, key = AccessClass(name="Retail"), AccessClass(name="Key accounts")
    db.session.add_all([retail, key])
    retail.users.append(sales)
    key.roles.append(db.session.scalar(select(Role).where(Role.name == "crm_marketeer")))
    db.session.commit()
    made = {
        "rita": make_contact(admin, first_name="Rita", access_class=retail),
        "kai": make_contact(admin, first_name="Kai", access_class=key),
        "nora": make_contact(admin, first_name="Nora"),
        "olga": make_contact(admin, first_name="Olga", access_class=key, owner=sales),
        "carl": make_contact(admin, first_name="Carl", access_class=key, responsible=sales),
    }
    return {
        "admin": admin,
        "sales": sales,
        "marketeer": marketeer,
        "manager": manager,
        "newcomer": newcomer,
        "retail": retail,
        "key": key,
        **made,
    }


def seen_by(user) -> list[str]:
    query = select(Contact.first_name).where(access.contact_visibility(user))
    return sorted(db.session.scalars(query))


def test_each_user_sees_the_classes_granted_to_them_or_their_roles(world, app):
    assert seen_by(world["admin"]) == ["Carl", "Kai", "Nora", "Olga", "Rita"]
    assert seen_by(world["sales"]) == ["Carl", "Nora", "Olga", "Rita"]  # owner, responsible
    assert seen_by(world["marketeer"]) == ["Carl", "Kai", "Nora", "Olga"]  # through the role
    assert seen_by(world["manager"]) == ["Carl", "Kai", "Nora", "Olga", "Rita"]  # all classes
    assert seen_by(world["newcomer"]) == ["Nora"]  # nothing granted: unclassed only
    assert access.get_visible_contact(world["sales"], world["kai"].id) is None
    assert access.get_visible_contact(world["marketeer"], world["kai"].id) is not None
    for name in ("contact_visibility", "account_visibility"):  # unindexed form on SQLite too
        getattr(access, name)(world["sales"])

    app.config["CRM_UNCLASSED_CONTACTS"] = "owners"
    assert seen_by(world["sales"]) == ["Carl", "Olga", "Rita"]
    assert seen_by(world["newcomer"]) == []
    assert seen_by(world["admin"]) == ["Carl", "Kai", "Nora", "Olga", "Rita"]


def test_granting_and_revoking_takes_effect_at_once(world):
    sales, key = world["sales"], world["key"]
    key.users.append(sales)
    db.session.commit()
    assert "Kai" in seen_by(sales)
    key.users.remove(sales)
    db.session.commit()
    assert "Kai" not in seen_by(sales)


def test_accounts_follow_the_same_rule(world):
    sales, retail, key = world["sales"], world["retail"], world["key"]
    db.session.add_all(
        [
            Account(name="Shop", access_class=retail),
            Account(name="Bank", access_class=key),
            Account(name="Mine", access_class=key, owner=sales),
            Account(name="Open"),
        ]
    )
    db.session.commit()
    query = select(Account.name).where(
        access.account_visibility(sales), Account.is_hidden.is_(False)
    )
    assert sorted(db.session.scalars(query)) == ["Mine", "Open", "Shop"]


def test_only_managers_class_contacts_and_only_into_classes_they_see(world, make_user, monkeypatch):
    sales, retail, key = world["sales"], world["retail"], world["key"]
    contact = world["nora"]
    contact.access_class = retail
    with pytest.raises(ValidationFailed) as refused:
        apply_contact_rules(sales, contact, is_new=False)
    assert refused.value.errors["access_class"] == [
        "You do not have permission to change the access class."
    ]
    db.session.rollback()

    # A matrix where managers see only the classes granted to them (the matrix is data).
    monkeypatch.setitem(PERMISSIONS, "contact.all_classes", frozenset({"crm_admin"}))
    boss = make_user("crm_manager")
    retail.users.append(boss)
    db.session.commit()
    contact = db.session.get(Contact, world["nora"].id)
    contact.access_class = key
    with pytest.raises(ValidationFailed) as refused:
        apply_contact_rules(boss, contact, is_new=False)
    assert refused.value.errors["access_class"] == ["You may not use this access class."]
    db.session.rollback()
    contact = db.session.get(Contact, world["nora"].id)
    contact.access_class_id = retail.id  # by id, as an import would
    apply_contact_rules(boss, contact, is_new=False)
    db.session.commit()
    assert db.session.get(Contact, contact.id).access_class_id == retail.id

    retail.active = False
    db.session.commit()
    fresh = db.session.get(Contact, world["kai"].id)
    fresh.access_class = retail
    with pytest.raises(ValidationFailed) as refused:
        apply_contact_rules(world["admin"], fresh, is_new=False)
    assert "no longer offered" in refused.value.errors["access_class"][0]
    db.session.rollback()
    kept = db.session.get(Contact, contact.id)  # an inactive class stays where it is
    kept.job_title = "Buyer"
    apply_contact_rules(boss, kept, is_new=False)


def test_new_contacts_take_their_company_class_and_b2c_accounts_follow(world):
    admin, key = world["admin"], world["key"]
    bank = Account(name="Bank", access_class=key)
    db.session.add(bank)
    db.session.commit()
    clerk = create_contact(admin, {"first_name": "Cleo", "last_name": "Bank", "account": bank})
    db.session.commit()
    assert clerk.access_class_id == key.id
    person = create_contact(
        admin, {"first_name": "Pia", "last_name": "Solo", "access_class": world["retail"]}
    )
    db.session.commit()
    assert person.account.is_hidden and person.account.access_class_id == world["retail"].id


def test_account_class_needs_the_same_permission(world):
    sales, retail = world["sales"], world["retail"]
    account = Account(name="Shop", access_class=retail)
    with pytest.raises(ValidationFailed) as refused:
        save_account(sales, account, is_new=True)
    assert "access_class" in refused.value.errors
    db.session.rollback()
    account = Account(name="Shop", access_class=retail)
    save_account(world["admin"], account, is_new=True)
    db.session.commit()


def test_classes_in_use_cannot_be_deleted_and_only_admins_edit_them(world, make_user):
    key = world["key"]
    with pytest.raises(DomainError) as refused:
        delete_lookup(world["admin"], key)
    assert "used by 3 contact(s)" in str(refused.value.message)
    with pytest.raises(PermissionDenied):
        save_lookup(make_user("crm_list_manager"), AccessClass(name="Staff"))
    with pytest.raises(PermissionDenied):
        save_lookup(world["manager"], AccessClass(name="Staff"))
    staff = AccessClass(name="  Staff ", description=" Our own people ")
    save_lookup(world["admin"], staff)
    db.session.add(staff)
    db.session.commit()
    assert (staff.name, staff.description) == ("Staff", "Our own people")
    with pytest.raises(ValidationFailed):
        save_lookup(world["admin"], AccessClass(name="staff"))
    db.session.rollback()
    delete_lookup(world["admin"], db.session.get(AccessClass, staff.id))
    db.session.commit()
    assert db.session.get(AccessClass, staff.id) is None
