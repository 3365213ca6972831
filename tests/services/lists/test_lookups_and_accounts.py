"""services.lookups (phone/address types, social platforms) and services.accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.errors import DomainError, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Account, AddressType, AuditEntry, Contact, PhoneType, SocialPlatform
from crm.services.contacts.accounts import delete_account, save_account
from crm.services.contacts.saving import create_contact
from crm.services.lists.lookups import delete_lookup, save_lookup, usage_count
from tests.services.conftest import count, reload


def named(model: type, name: str):
    return db.session.scalar(select(model).where(model.name == name))


def add_lookup(actor, item) -> ValidationFailed | None:
    """Save a new lookup the way the admin does (added to the session first)."""
    db.session.add(item)
    try:
        save_lookup(actor, item)
    except ValidationFailed as exc:
        db.session.rollback()
        return exc
    db.session.commit()
    return None


@pytest.fixture
def list_manager(make_user):
    return make_user("crm_list_manager")


# ---- lookups ----------------------------------------------------------------------------


def test_list_manager_adds_a_type(list_manager):
    for model in (PhoneType, AddressType):
        assert add_lookup(list_manager, model(name="  Pager  ")) is None
        item = named(model, "Pager")
        assert item is not None and item.active is True and item.position == 0


def test_duplicate_type_names_are_refused(list_manager, subtests):
    for model, typed in [
        (PhoneType, "Mobile"),
        (PhoneType, "MOBILE"),
        (PhoneType, " mobile "),
        (AddressType, "Main"),
        (AddressType, "main"),
    ]:
        with subtests.test(model=model.__name__, typed=typed):
            before = count(model)
            failure = add_lookup(list_manager, model(name=typed))
            assert failure is not None
            assert failure.errors == {"name": [f"{typed.strip()!r} already exists."]}
            assert count(model) == before


def test_renaming_a_type_to_its_own_name_is_not_a_duplicate(list_manager):
    mobile = named(PhoneType, "Mobile")
    mobile.name = "MOBILE"
    save_lookup(list_manager, mobile)
    db.session.commit()
    assert reload(mobile).name == "MOBILE"


def test_renaming_a_type_onto_another_is_refused(list_manager):
    mobile = named(PhoneType, "Mobile")
    mobile.name = "work"
    with pytest.raises(ValidationFailed) as caught:
        save_lookup(list_manager, mobile)
    db.session.rollback()
    assert caught.value.errors == {"name": ["'work' already exists."]}


def test_type_needs_a_name(list_manager):
    failure = add_lookup(list_manager, PhoneType(name="   "))
    assert failure is not None and failure.errors == {"name": ["A name is required."]}


def test_overlong_type_name_is_refused(list_manager):
    failure = add_lookup(list_manager, PhoneType(name="x" * 61))
    assert failure is not None
    assert failure.errors == {"name": ["Too long (at most 60 characters)."]}


def test_type_in_use_cannot_be_deleted(list_manager, make_contact):
    make_contact(phones=[{"type": "Fax", "country_code": "GB", "number": "020 7946 0958"}])
    fax = named(PhoneType, "Fax")
    assert usage_count(fax) == 1
    with pytest.raises(DomainError) as caught:
        delete_lookup(list_manager, fax)
    db.session.rollback()
    assert caught.value.message == (
        "'Fax' is used by 1 phone number(s) and cannot be deleted. Untick 'Active' instead: "
        "it then stays on existing records but is no longer offered."
    )
    assert named(PhoneType, "Fax") is not None


def test_address_type_and_platform_in_use_cannot_be_deleted(list_manager, make_contact):
    make_contact(
        addresses=[{"type": "Invoice", "city": "Bonn", "country": "DE"}],
        social_links=[{"platform": "GitHub", "handle": "ana"}],
    )
    with pytest.raises(DomainError, match="'Invoice' is used by 1 address"):
        delete_lookup(list_manager, named(AddressType, "Invoice"))
    with pytest.raises(DomainError, match="'GitHub' is used by 1 social link"):
        delete_lookup(list_manager, named(SocialPlatform, "GitHub"))


def test_unused_type_can_be_deleted(list_manager):
    for model, name in [(PhoneType, "Fax"), (AddressType, "Other"), (SocialPlatform, "TikTok")]:
        delete_lookup(list_manager, named(model, name))
        db.session.commit()
        assert named(model, name) is None


def test_inactive_types_are_not_offered_for_new_rows(list_manager, manager):
    fax = named(PhoneType, "Fax")
    fax.active = False
    save_lookup(list_manager, fax)
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        create_contact(
            manager,
            {
                "first_name": "Ana",
                "last_name": "Smith",
                "phones": [{"type": "Fax", "country_code": "GB", "number": "020 7946 0958"}],
            },
        )
    assert caught.value.errors == {
        "phones-0-phone_type": ["'Fax' is no longer in use: choose another type."]
    }


def test_social_platform_is_normalised(list_manager):
    platform = SocialPlatform(
        name="Mastodon",
        hosts=" Mastodon.Social, ,chaos.social ",
        url_template=" https://mastodon.social/@{handle} ",
        handle_pattern=r"[A-Za-z0-9_]{1,30}",
    )
    assert add_lookup(list_manager, platform) is None
    stored = named(SocialPlatform, "Mastodon")
    assert stored.hosts == "mastodon.social,chaos.social"
    assert stored.host_list == ["mastodon.social", "chaos.social"]
    assert stored.url_template == "https://mastodon.social/@{handle}"


def test_bad_social_platform_is_refused(list_manager, subtests):
    regex_error = "Not a valid regular expression: "
    for fields, errors in [
        (
            {"url_template": "https://mastodon.social/@user"},
            {"url_template": ["The profile URL pattern must contain {handle}."]},
        ),
        (
            {"url_template": "ftp://mastodon.social/{handle}"},
            {"url_template": ["Only http:// and https:// addresses are accepted."]},
        ),
        (
            {"handle_pattern": "[a-z"},
            {"handle_pattern": [regex_error + "unterminated character set at position 0"]},
        ),
        (
            {"handle_pattern": "(?P<x"},
            {"handle_pattern": [regex_error + "missing >, unterminated name at position 4"]},
        ),
    ]:
        with subtests.test(fields=fields):
            failure = add_lookup(list_manager, SocialPlatform(name="Mastodon", **fields))
            assert failure is not None
            assert failure.errors == errors
            assert named(SocialPlatform, "Mastodon") is None


def test_a_new_platform_checks_links_by_its_rules(list_manager, manager):
    add_lookup(
        list_manager,
        SocialPlatform(
            name="Mastodon",
            hosts="mastodon.social",
            url_template="https://mastodon.social/@{handle}",
            handle_pattern=r"[A-Za-z0-9_]{1,30}",
        ),
    )
    contact = create_contact(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "social_links": [{"platform": "Mastodon", "handle": "@ana_s"}],
        },
    )
    assert contact.social_links[0].url == "https://mastodon.social/@ana_s"


def test_only_list_managers_and_admins_may_change_lookups(make_user, subtests):
    for roles in [("crm_manager",), ("crm_sales",), ("crm_marketeer",), ()]:
        with subtests.test(roles=roles):
            user = make_user(*roles)
            db.session.add(item := PhoneType(name="Pager"))
            with pytest.raises(PermissionDenied, match="Only list managers may change lookup"):
                save_lookup(user, item)
            db.session.rollback()
            with pytest.raises(PermissionDenied):
                delete_lookup(user, named(PhoneType, "Fax"))
            db.session.rollback()
            assert named(PhoneType, "Fax") is not None
            assert named(PhoneType, "Pager") is None


def test_admin_may_change_lookups(make_user):
    assert add_lookup(make_user("crm_admin"), PhoneType(name="Pager")) is None


# ---- accounts ---------------------------------------------------------------------------


def test_new_account_is_cleaned_and_owned_by_its_creator(sales):
    account = Account(name="  Acme Ltd ", website="acme.example.com", notes="  ")
    save_account(sales, account, is_new=True)
    db.session.commit()
    stored = reload(account)
    assert stored.name == "Acme Ltd"
    assert stored.website == "https://acme.example.com"
    assert stored.notes is None
    assert stored.owner_id == sales.id
    assert stored.is_hidden is False


def test_account_name_is_required(manager):
    for name in ["", "   ", None]:
        with pytest.raises(ValidationFailed) as caught:
            save_account(manager, Account(name=name), is_new=True)
        db.session.rollback()
        assert caught.value.errors == {"name": ["The account name is required."]}
    assert count(Account) == 0


def test_account_name_and_website_are_checked_together(manager):
    with pytest.raises(ValidationFailed) as caught:
        save_account(manager, Account(name="x" * 201, website="ftp://acme.com"), is_new=True)
    assert caught.value.errors == {
        "name": ["Too long (at most 200 characters)."],
        "website": ["Only http:// and https:// addresses are accepted."],
    }


def test_sales_may_not_create_an_account_for_someone_else(sales, manager):
    with pytest.raises(ValidationFailed) as caught:
        save_account(sales, Account(name="Acme", owner=manager), is_new=True)
    assert caught.value.errors == {
        "owner": ["You do not have permission to transfer accounts to another owner."]
    }


def test_sales_may_edit_an_account_someone_else_owns_without_moving_it(sales, manager):
    account = Account(name="Acme")
    save_account(manager, account, is_new=True)
    db.session.commit()

    account.notes = "Key customer"
    save_account(sales, account, is_new=False)  # previous owner not given: the stored one counts
    db.session.commit()
    assert reload(account).notes == "Key customer"
    assert reload(account).owner_id == manager.id


def test_sales_may_not_move_an_account_to_another_owner(sales, manager):
    account = Account(name="Acme")
    save_account(sales, account, is_new=True)
    db.session.commit()

    account.owner_id = manager.id
    with pytest.raises(ValidationFailed) as caught:
        save_account(sales, account, is_new=False)
    db.session.rollback()
    assert set(caught.value.errors) == {"owner"}
    assert reload(account).owner_id == sales.id


def test_manager_may_move_an_account(sales, manager):
    account = Account(name="Acme")
    save_account(sales, account, is_new=True)
    db.session.commit()
    previous = account.owner_id
    account.owner = manager
    save_account(manager, account, is_new=False, previous_owner_id=previous)
    db.session.commit()
    assert reload(account).owner_id == manager.id


def test_user_without_a_contact_role_may_not_save_accounts(make_user):
    with pytest.raises(PermissionDenied, match="You may not change accounts."):
        save_account(make_user("crm_list_manager"), Account(name="Acme"), is_new=True)


def test_account_holding_contacts_cannot_be_deleted(manager, make_contact):
    contact = make_contact(account="Acme")
    make_contact(first_name="Bo", account="Acme")
    with pytest.raises(DomainError) as caught:
        delete_account(manager, contact.account)
    db.session.rollback()
    assert caught.value.message == (
        "Acme still holds 2 contact(s) as their account: move or delete them first."
    )
    assert count(Account) == 1
    assert count(Contact) == 2


def test_empty_account_can_be_deleted_and_its_links_go_with_it(manager, make_contact):
    globex = Account(name="Globex")
    contact = make_contact(account="Acme")
    contact.linked_accounts = [globex]
    db.session.commit()

    delete_account(manager, globex)
    db.session.commit()
    assert [a.name for a in db.session.scalars(select(Account))] == ["Acme"]
    assert reload(contact).linked_accounts == []


def test_sales_may_not_delete_accounts(sales):
    account = Account(name="Acme")
    save_account(sales, account, is_new=True)
    db.session.commit()
    with pytest.raises(PermissionDenied, match="You may not delete accounts."):
        delete_account(sales, account)
    assert count(Account) == 1


def test_account_history_names_the_acting_user(sales, manager):
    account = Account(name="Acme")
    save_account(sales, account, is_new=True)
    db.session.commit()
    delete_account(manager, account)
    db.session.commit()
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(r.action, r.entity_type, r.user_id) for r in rows] == [
        ("create", "account", sales.id),
        ("delete", "account", manager.id),
    ]
