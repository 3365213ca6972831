"""services.contacts: the rules for saving and deleting a contact, whatever the entry point."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from crm.errors import PermissionDenied, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import (
    Account,
    Address,
    AuditEntry,
    Contact,
    ContactKind,
    Phone,
    SocialLink,
    contact_accounts,
)
from crm.services.contacts.saving import (
    LooksLikeExisting,
    apply_contact_rules,
    create_contact,
    save_contact,
)
from crm.services.contacts.trash import delete_contact, purge_contact
from tests.services.conftest import an_admin, count, reload

CHOOSE_ACCOUNT = "Choose the account this contact works for, or choose B2C."
NO_TRANSFER = "You do not have permission to transfer contacts to another owner."


def save(actor, contact: Contact, **kwargs) -> None:
    """Save an edited contact the way every entry point does, then commit."""
    save_contact(actor, contact, is_new=False, **kwargs)
    db.session.commit()


def refused(actor, data: dict) -> dict[str, list[str]]:
    """create_contact must refuse `data`; returns the errors after rolling back."""
    with pytest.raises(ValidationFailed) as caught:
        create_contact(actor, data)
    db.session.rollback()
    return caught.value.errors


# ---- B2C and the hidden account ---------------------------------------------------------


def test_contact_with_only_names_is_b2c_in_a_hidden_primary_account(manager):
    contact = create_contact(manager, {"first_name": " Ana ", "last_name": "Smith"})
    db.session.commit()

    stored = reload(contact)
    assert stored.kind is ContactKind.B2C
    assert stored.first_name == "Ana"
    assert stored.account.is_hidden is True
    assert stored.account.name == "Ana Smith"
    assert stored.is_primary is True
    assert stored.owner_id == manager.id
    assert stored.account.owner_id == manager.id
    assert stored.active is True
    assert stored.version == 1
    assert stored.search_text == "ana smith"
    assert count(Account) == 1


def test_hidden_account_name_includes_the_middle_name(manager):
    contact = create_contact(
        manager, {"first_name": "Ana", "middle_name": "María", "last_name": "López"}
    )
    db.session.commit()
    assert reload(contact).account.name == "Ana María López"


def test_renaming_a_b2c_contact_renames_its_hidden_account(manager, make_contact):
    contact = make_contact(first_name="Ana", last_name="Smith")
    account_id = contact.account_id

    contact.last_name = "Jones"
    save(manager, contact)

    stored = reload(contact)
    assert stored.account_id == account_id
    assert stored.account.name == "Ana Jones"
    assert stored.search_text == "ana jones"
    assert count(Account) == 1


# ---- B2B --------------------------------------------------------------------------------


def test_b2b_contact_joins_the_named_account_which_is_created_once(manager):
    first = create_contact(manager, {"first_name": "Ana", "last_name": "Smith", "account": "Acme"})
    second = create_contact(manager, {"first_name": "Bo", "last_name": "Berg", "account": "Acme"})
    db.session.commit()

    assert first.kind is ContactKind.B2B
    assert first.account is second.account
    assert first.account.is_hidden is False
    assert first.account.name == "Acme"
    assert first.is_primary is False
    assert count(Account) == 1


def test_b2b_without_an_account_is_refused_on_the_account_field(manager):
    errors = refused(manager, {"first_name": "Ana", "last_name": "Smith", "kind": ContactKind.B2B})
    assert errors == {"account": [CHOOSE_ACCOUNT]}
    assert count(Contact) == 0
    assert count(Account) == 0


def test_b2b_in_someone_elses_hidden_account_is_refused(manager, make_contact):
    consumer = make_contact(first_name="Carl", last_name="Consumer")
    errors = refused(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "kind": ContactKind.B2B,
            "account": consumer.account,
        },
    )
    assert errors == {"account": [CHOOSE_ACCOUNT]}
    assert count(Contact) == 1


def test_switching_b2c_to_b2b_removes_the_unused_hidden_account(manager, make_contact):
    acme = make_contact(first_name="Bo", last_name="Berg", account="Acme").account
    contact = make_contact(first_name="Ana", last_name="Smith")
    hidden_id = contact.account_id

    contact.kind = ContactKind.B2B
    contact.account = acme
    save(manager, contact)

    stored = reload(contact)
    assert stored.kind is ContactKind.B2B
    assert stored.account_id == acme.id
    assert db.session.get(Account, hidden_id) is None
    assert [a.name for a in db.session.scalars(select(Account))] == ["Acme"]


def test_switching_b2c_to_b2b_without_an_account_keeps_everything(manager, make_contact):
    contact = make_contact(first_name="Ana", last_name="Smith")
    hidden_id = contact.account_id

    contact.kind = ContactKind.B2B
    with pytest.raises(ValidationFailed) as caught, db.session.no_autoflush:
        apply_contact_rules(manager, contact, is_new=False)
    db.session.rollback()

    assert caught.value.errors == {"account": [CHOOSE_ACCOUNT]}
    stored = reload(contact)
    assert stored.kind is ContactKind.B2C
    assert stored.account_id == hidden_id


def test_switching_b2b_to_b2c_creates_a_hidden_account(manager, make_contact):
    contact = make_contact(first_name="Ana", last_name="Smith", account="Acme")
    acme_id = contact.account_id

    contact.kind = ContactKind.B2C
    save(manager, contact)

    stored = reload(contact)
    assert stored.account_id != acme_id
    assert stored.account.is_hidden is True
    assert stored.account.name == "Ana Smith"
    assert stored.is_primary is True
    assert db.session.get(Account, acme_id).name == "Acme"  # the company stays


def test_linked_accounts_drop_hidden_ones_and_the_primary_account(manager, make_contact):
    consumer = make_contact(first_name="Carl", last_name="Consumer")
    globex = Account(name="Globex")
    contact = create_contact(
        manager, {"first_name": "Ana", "last_name": "Smith", "account": "Acme"}
    )
    contact.linked_accounts = [contact.account, consumer.account, globex]
    save(manager, contact)

    assert [a.name for a in reload(contact).linked_accounts] == ["Globex"]
    assert [a.name for a in reload(contact).all_accounts] == ["Acme", "Globex"]


# ---- one primary contact per account ----------------------------------------------------


def test_setting_primary_clears_it_on_the_other_contacts_of_that_account(manager, make_contact):
    ana = make_contact(first_name="Ana", last_name="Smith", account="Acme", is_primary=True)
    bo = make_contact(first_name="Bo", last_name="Berg", account="Acme")
    other = make_contact(first_name="Cy", last_name="Cole", account="Globex", is_primary=True)
    assert reload(ana).is_primary is True

    bo.is_primary = True
    save(manager, bo)

    assert reload(bo).is_primary is True
    assert reload(ana).is_primary is False
    assert reload(other).is_primary is True  # another account is not touched


def test_new_primary_contact_takes_over_from_the_old_one(manager, make_contact):
    ana = make_contact(first_name="Ana", last_name="Smith", account="Acme", is_primary=True)
    bo = make_contact(first_name="Bo", last_name="Berg", account="Acme", is_primary=True)
    assert reload(bo).is_primary is True
    assert reload(ana).is_primary is False


# ---- single fields ----------------------------------------------------------------------


# Many cases share one database through subtests: an app per case would cost 0.1 s each.


def test_missing_or_overlong_names_are_refused(manager, subtests):
    for fields, key, message in [
        ({"first_name": ""}, "first_name", "First name is required."),
        ({"first_name": "   "}, "first_name", "First name is required."),
        ({"last_name": None}, "last_name", "Last name is required."),
        ({"last_name": "x" * 101}, "last_name", "Last name is too long (at most 100 characters)."),
    ]:
        with subtests.test(fields=fields):
            data = {"first_name": "Ana", "last_name": "Smith", **fields}
            assert refused(manager, data) == {key: [message]}
            assert count(Contact) == 0
            assert count(Account) == 0


def test_invalid_field_is_refused_on_its_key_and_nothing_is_saved(manager, subtests):
    for field, value, message_part in [
        ("email", "ana.example.com", "Not a valid email address"),
        ("email_secondary", "ana@", "Not a valid email address"),
        ("website", "ftp://example.com", "Only http:// and https://"),
        ("website", "not a site", "Not a valid web address"),
        ("timezone", "Mars/Olympus_Mons", "Unknown time zone 'Mars/Olympus_Mons'"),
        ("language", "xx", "Unknown language 'xx'"),
        ("birthday", date.today() + timedelta(days=1), "cannot be in the future"),
        ("birthday", date(1850, 5, 1), "before 1900"),
        ("birthday", "soon", "Not a date; use YYYY-MM-DD (or --MM-DD without the year)."),
    ]:
        with subtests.test(field=field, value=value):
            data = {
                "first_name": "Ana",
                "last_name": "Smith",
                field: value,
                "phones": [{"type": "Mobile", "country_code": "GB", "number": "07911 123456"}],
                "addresses": [{"city": "München", "country": "DE"}],
            }
            errors = refused(manager, data)
            assert list(errors) == [field]
            assert message_part in errors[field][0]
            for model in (Contact, Account, Phone, Address, AuditEntry):
                assert count(model) == 0, model


def test_several_errors_are_reported_together(manager):
    errors = refused(
        manager,
        {"first_name": "", "last_name": "", "email": "nope", "timezone": "Nowhere/City"},
    )
    assert set(errors) == {"first_name", "last_name", "email", "timezone"}


def test_fields_are_normalised(manager):
    contact = create_contact(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "email": " Ana.Smith@Example.COM ",
            "website": "example.com/ana",
            "language": "pt_br",
            "timezone": "Europe/Berlin",
            "job_title": "  ",
            "notes": "  likes tea \n",
        },
    )
    db.session.commit()
    stored = reload(contact)
    assert stored.email == "ana.smith@example.com"
    assert stored.website == "https://example.com/ana"
    assert stored.language == "pt-BR"
    assert stored.timezone == "Europe/Berlin"
    assert stored.job_title is None
    assert stored.notes == "likes tea"
    assert stored.search_text == "ana smith ana.smith@example.com"


def test_secondary_email_may_not_repeat_the_primary(manager):
    errors = refused(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "email": "ana@example.com",
            "email_secondary": "ANA@example.com",
        },
    )
    assert errors == {"email_secondary": ["The secondary email repeats the primary one."]}


def test_birthday_may_be_given_as_iso_text(manager):
    contact = create_contact(
        manager, {"first_name": "Ana", "last_name": "Smith", "birthday": "1990-04-01"}
    )
    db.session.commit()
    assert reload(contact).birthday == date(1990, 4, 1)


def test_overlong_text_is_refused_before_the_database_sees_it(manager, subtests):
    fields = [("job_title", 150), ("title", 40), ("department", 150), ("middle_name", 100)]
    for field, limit in fields:
        with subtests.test(field=field):
            data = {"first_name": "Ana", "last_name": "Smith", field: "x" * (limit + 1)}
            assert refused(manager, data) == {field: [f"Too long (at most {limit} characters)."]}
    contact = create_contact(
        manager, {"first_name": "Ana", "last_name": "Smith", **{f: "x" * n for f, n in fields}}
    )
    assert contact.title == "x" * 40  # exactly the limit is fine


def test_a_contact_cannot_be_their_own_manager(manager, make_contact):
    contact = make_contact()
    contact.manager = contact
    with pytest.raises(ValidationFailed) as caught, db.session.no_autoflush:
        apply_contact_rules(manager, contact, is_new=False)
    db.session.rollback()
    assert caught.value.errors == {"manager": ["A contact cannot be their own manager."]}


# ---- permissions and owners -------------------------------------------------------------


def test_user_without_a_contact_role_may_not_create_or_delete(make_user, make_contact):
    nobody = make_user("crm_list_manager")
    with pytest.raises(PermissionDenied, match="You may not create contacts."):
        create_contact(nobody, {"first_name": "Ana", "last_name": "Smith"})
    db.session.rollback()
    contact = make_contact()
    with pytest.raises(PermissionDenied, match="You may not delete contacts."):
        delete_contact(nobody, contact)
    db.session.rollback()
    assert count(Contact) == 1


def test_inactive_user_may_not_create_contacts(make_user):
    former = make_user("crm_manager", active=False)
    with pytest.raises(PermissionDenied):
        create_contact(former, {"first_name": "Ana", "last_name": "Smith"})


def test_sales_may_not_create_a_contact_owned_by_someone_else(sales, manager):
    errors = refused(sales, {"first_name": "Ana", "last_name": "Smith", "owner": manager})
    assert errors == {"owner": [NO_TRANSFER]}
    assert count(Contact) == 0


def test_sales_creating_a_contact_owns_it(sales):
    contact = create_contact(sales, {"first_name": "Ana", "last_name": "Smith"})
    db.session.commit()
    assert reload(contact).owner_id == sales.id


def test_manager_may_create_a_contact_for_someone_else(manager, sales):
    contact = create_contact(manager, {"first_name": "Ana", "last_name": "Smith", "owner": sales})
    db.session.commit()
    stored = reload(contact)
    assert stored.owner_id == sales.id
    assert stored.account.owner_id == sales.id


def test_sales_may_not_give_an_existing_contact_away(sales, manager, make_contact):
    contact = make_contact(sales)
    previous = contact.owner_id
    contact.owner = manager
    with pytest.raises(ValidationFailed) as caught, db.session.no_autoflush:
        apply_contact_rules(sales, contact, is_new=False, previous_owner_id=previous)
    db.session.rollback()
    assert caught.value.errors == {"owner": [NO_TRANSFER]}
    assert reload(contact).owner_id == sales.id


def test_sales_may_not_give_a_contact_away_even_without_naming_the_old_owner(
    sales, manager, make_contact
):
    contact = make_contact(sales)
    contact.owner_id = manager.id
    with pytest.raises(ValidationFailed) as caught, db.session.no_autoflush:
        apply_contact_rules(sales, contact, is_new=False)
    db.session.rollback()
    assert caught.value.errors == {"owner": [NO_TRANSFER]}


def test_sales_may_edit_a_contact_someone_else_owns_without_moving_it(sales, manager, make_contact):
    contact = make_contact(manager)
    contact.job_title = "Buyer"
    save(sales, contact)  # no previous_owner_id given: the stored owner counts
    stored = reload(contact)
    assert stored.job_title == "Buyer"
    assert stored.owner_id == manager.id


def test_manager_may_transfer_a_contact(manager, sales, make_contact):
    contact = make_contact(sales)
    previous = contact.owner_id
    contact.owner = manager
    save(manager, contact, previous_owner_id=previous)
    assert reload(contact).owner_id == manager.id


def test_an_inactive_user_cannot_own_contacts(manager, make_user):
    former = make_user("crm_sales", active=False)
    errors = refused(manager, {"first_name": "Ana", "last_name": "Smith", "owner": former})
    assert errors == {"owner": [f"{former} is not an active user."]}


# ---- optimistic locking -----------------------------------------------------------------


def test_stale_expected_version_raises_and_saves_nothing(manager, make_contact):
    contact = make_contact(first_name="Ana")
    opened_at = contact.version
    contact.first_name = "Anna"
    save(manager, contact, expected_version=opened_at)  # the first editor wins
    assert reload(contact).version == opened_at + 1

    contact = reload(contact)
    contact.first_name = "Hanna"
    with pytest.raises(StaleEditError, match="Someone else saved this contact"):
        apply_contact_rules(manager, contact, is_new=False, expected_version=opened_at)
    db.session.rollback()
    assert reload(contact).first_name == "Anna"


def test_editing_only_a_phone_moves_the_contact_version(manager, make_contact):
    contact = make_contact(phones=[{"country_code": "GB", "number": "07911 123456"}])
    before = contact.version
    contact.phones[0].number = "07400 123456"
    save(manager, contact, expected_version=before)
    assert reload(contact).version == before + 1


def test_two_sessions_racing_on_one_contact_raise_stale_data(make_contact):
    contact = make_contact(first_name="Ana")
    with Session(db.engine) as first, Session(db.engine) as second:
        mine = first.get(Contact, contact.id)
        theirs = second.get(Contact, contact.id)
        mine.first_name = "Anna"
        theirs.first_name = "Hanna"
        first.commit()
        with pytest.raises(StaleDataError):
            second.commit()
        second.rollback()
    assert reload(contact).first_name == "Anna"


# ---- phones -----------------------------------------------------------------------------


def test_phone_country_code_in_any_form(manager, subtests):
    for code in ["+44", "44", "GB", "gb", " +44 "]:
        with subtests.test(code=code):
            contact = create_contact(
                manager,
                {
                    "first_name": "Ana",
                    "last_name": "Smith",
                    "phones": [{"type": "Work", "country_code": code, "number": "020 7946 0958"}],
                },
            )
            db.session.commit()
            phone = reload(contact).phones[0]
            assert phone.phone_type.name == "Work"
            assert phone.country_code == "+44"
            assert phone.number == "020 7946 0958"
            assert phone.e164 == "+442079460958"
            assert phone.formatted == "+44 20 7946 0958"
            assert phone.extension is None


def test_phone_extension_is_kept_and_shown_once(manager):
    contact = create_contact(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "phones": [
                {"country_code": "44", "number": "020 7946 0958", "extension": " 123 "},
            ],
        },
    )
    db.session.commit()
    phone = reload(contact).phones[0]
    assert phone.phone_type.name == "Mobile"  # the default type
    assert phone.extension == "123"
    assert phone.e164 == "+442079460958"
    assert phone.formatted == "+44 20 7946 0958"
    assert phone.display == "+44 20 7946 0958 ext. 123"


def test_phone_without_country_code_uses_the_default_region(manager):
    contact = create_contact(
        manager,
        {"first_name": "Ana", "last_name": "Smith", "phones": [{"number": "(212) 736-5000"}]},
    )
    assert contact.phones[0].e164 == "+12127365000"
    assert contact.phones[0].country_code == "+1"


def test_phone_without_country_code_is_read_in_the_address_country(manager):
    berlin = {"city": "Berlin", "country": "Germany"}
    contact = create_contact(
        manager,
        {
            "first_name": "Hans",
            "last_name": "Meier",
            "addresses": [{"street": "Unter den Linden 1"}, berlin],  # the first names none
            "phones": [{"number": "030 1234567"}, {"country_code": "+1", "number": "212 736 5000"}],
        },
    )
    assert [p.e164 for p in contact.phones] == ["+49301234567", "+12127365000"]
    assert contact.phones[0].country_code == "+49"
    # Stored with its country code: moving house later does not change the number.
    contact.addresses[1].country = "FR"
    save(manager, contact)
    assert reload(contact).phones[0].e164 == "+49301234567"
    # Without an address the default region (US) reads it, and says so.
    with pytest.raises(ValidationFailed) as refused:
        create_contact(
            manager,
            {"first_name": "Hans", "last_name": "Meier", "phones": [{"number": "030 1234567"}]},
        )
    assert refused.value.errors["phones-0-number"] == ["Not a valid phone number for US (+1)."]


def test_phone_typed_with_plus_keeps_its_own_country(manager):
    contact = create_contact(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "phones": [{"country_code": "GB", "number": "+49 30 1234567"}],
        },
    )
    assert contact.phones[0].e164 == "+49301234567"
    assert contact.phones[0].country_code == "+49"


def test_invalid_phone_is_refused_on_its_row(manager, subtests):
    for phone, message in [
        ({"country_code": "GB", "number": "12345"}, "Not a valid phone number for GB (+44)."),
        ({"country_code": "+999", "number": "1234567"}, "Unknown country calling code '+999'."),
        ({"country_code": "ZZ", "number": "1234567"}, "Unknown country 'ZZ' for the phone number."),
        ({"country_code": "GB", "number": "call me"}, "A phone number may only contain"),
        ({"country_code": "GB", "number": ""}, "Enter the phone number."),
        (
            {"country_code": "GB", "number": "020 7946 0958", "extension": "12a"},
            "The extension must be 1 to 10 digits.",
        ),
    ]:
        with subtests.test(phone=phone):
            errors = refused(
                manager,
                {
                    "first_name": "Ana",
                    "last_name": "Smith",
                    "phones": [{"country_code": "GB", "number": "07911 123456"}, phone],
                },
            )
            field = "phones-1-extension" if "extension" in message else "phones-1-number"
            assert list(errors) == [field]  # on the field that is wrong
            assert errors[field][0].startswith(message)
            assert count(Phone) == 0


def test_duplicate_phone_numbers_are_refused(manager):
    errors = refused(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "phones": [
                {"country_code": "GB", "number": "020 7946 0958"},
                {"type": "Work", "country_code": "+44", "number": "+44 20 7946 0958"},
            ],
        },
    )
    assert errors == {"phones-1-number": ["This number is already listed above."]}


def test_same_number_with_different_extensions_is_allowed(manager):
    contact = create_contact(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "phones": [
                {"type": "Work", "country_code": "GB", "number": "020 7946 0958", "extension": "1"},
                {"type": "Work", "country_code": "GB", "number": "020 7946 0958", "extension": "2"},
            ],
        },
    )
    assert [p.extension for p in contact.phones] == ["1", "2"]


def test_phone_with_an_unknown_type_is_refused(manager):
    errors = refused(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "phones": [{"type": "Pager", "country_code": "GB", "number": "07911 123456"}],
        },
    )
    assert errors == {"phones-0-phone_type": ["Choose the type of phone number."]}


def test_a_deleted_phone_row_is_not_checked(manager, make_contact):
    contact = make_contact(
        phones=[
            {"country_code": "GB", "number": "07911 123456"},
            {"type": "Work", "country_code": "GB", "number": "020 7946 0958"},
        ]
    )
    db.session.delete(contact.phones[0])
    contact.phones[1].number = "07911 123456"  # the number the deleted row had
    save(manager, contact)
    assert [p.e164 for p in reload(contact).phones] == ["+447911123456"]


# ---- addresses --------------------------------------------------------------------------


def test_address_country_is_stored_as_alpha_2(manager, subtests):
    for typed, code in [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        (" germany ", "DE"),
        ("UK", "GB"),
        ("England", "GB"),
    ]:
        with subtests.test(typed=typed):
            contact = create_contact(
                manager,
                {
                    "first_name": "Ana",
                    "last_name": "Smith",
                    "addresses": [{"city": "Bonn", "country": typed}],
                },
            )
            db.session.commit()
            assert reload(contact).addresses[0].country == code


def test_unknown_country_is_refused_on_its_row(manager):
    errors = refused(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "addresses": [{"city": "Bonn", "country": "DE"}, {"city": "X", "country": "Atlantis"}],
        },
    )
    assert errors == {
        "addresses-1-country": [
            "Unknown country 'Atlantis'; use a country or its ISO code (e.g. DE)."
        ]
    }
    assert count(Address) == 0


def test_known_city_gets_coordinates_from_the_gazetteer(manager):
    contact = create_contact(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "addresses": [
                {"type": "Main", "street": "Marienplatz 1", "city": "München", "country": "DE"}
            ],
        },
    )
    db.session.commit()
    address = reload(contact).addresses[0]
    assert address.address_type.name == "Main"
    assert address.geocode_source == "gazetteer:city"
    assert address.latitude == pytest.approx(48.137, abs=0.01)
    assert address.longitude == pytest.approx(11.575, abs=0.01)


def test_unknown_city_is_saved_without_coordinates(manager):
    contact = create_contact(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "addresses": [{"city": "Nowhereville Upon Sea", "country": "DE"}],
        },
    )
    address = contact.addresses[0]
    assert (address.latitude, address.longitude, address.geocode_source) == (None, None, None)


def test_typed_coordinates_are_kept_as_manual(manager):
    contact = create_contact(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "addresses": [
                {"city": "München", "country": "DE", "latitude": 48.1, "longitude": 11.5}
            ],
        },
    )
    db.session.commit()
    address = reload(contact).addresses[0]
    assert (address.latitude, address.longitude) == (48.1, 11.5)
    assert address.geocode_source == "manual"


def test_address_that_moves_is_geocoded_again(manager, make_contact):
    contact = make_contact(addresses=[{"city": "München", "country": "DE"}])
    munich = (contact.addresses[0].latitude, contact.addresses[0].longitude)

    contact.addresses[0].city = "Hamburg"
    save(manager, contact)

    address = reload(contact).addresses[0]
    assert (address.latitude, address.longitude) != munich
    assert address.latitude == pytest.approx(53.55, abs=0.05)
    assert address.longitude == pytest.approx(10.0, abs=0.05)
    assert address.geocode_source == "gazetteer:city"


def test_address_that_does_not_move_keeps_its_manual_coordinates(manager, make_contact):
    contact = make_contact(
        addresses=[{"city": "München", "country": "DE", "latitude": 48.0, "longitude": 11.0}]
    )
    contact.addresses[0].street = None  # nothing about the place changes
    contact.job_title = "Buyer"
    save(manager, contact)
    address = reload(contact).addresses[0]
    assert (address.latitude, address.longitude, address.geocode_source) == (48.0, 11.0, "manual")


def test_incomplete_address_is_refused(manager, subtests):
    for address, key, message in [
        ({"country": "DE"}, "addresses-0-city", "Enter at least a street, a city or a postcode."),
        (
            {"city": "Bonn", "latitude": 50.7},
            "addresses-0-latitude",
            "Give both latitude and longitude, or none.",
        ),
        (
            {"city": "Bonn", "latitude": 91.0, "longitude": 7.1},
            "addresses-0-latitude",
            "Coordinates out of range.",
        ),
        (
            {"city": "Bonn", "latitude": 50.0, "longitude": -181.0},
            "addresses-0-latitude",
            "Coordinates out of range.",
        ),
        ({"type": "Moon base", "city": "Bonn"}, "addresses-0-address_type", "Choose the type"),
        ({"city": "Bonn", "postal_code": "1" * 21}, "addresses-0-postal_code", "Too long"),
    ]:
        with subtests.test(address=address):
            data = {"first_name": "Ana", "last_name": "Smith", "addresses": [address]}
            errors = refused(manager, data)
            assert list(errors) == [key]
            assert errors[key][0].startswith(message)
            assert count(Address) == 0


# ---- social links -----------------------------------------------------------------------


def test_linkedin_handle_or_url_becomes_a_profile_url(manager, subtests):
    for typed, url in [
        ("ana-smith", "https://www.linkedin.com/in/ana-smith"),
        ("@ana-smith", "https://www.linkedin.com/in/ana-smith"),
        ("https://www.linkedin.com/in/ana-smith", "https://www.linkedin.com/in/ana-smith"),
        ("linkedin.com/in/ana-smith", "https://linkedin.com/in/ana-smith"),
        ("https://de.linkedin.com/in/ana", "https://de.linkedin.com/in/ana"),
    ]:
        with subtests.test(typed=typed):
            contact = create_contact(
                manager,
                {
                    "first_name": "Ana",
                    "last_name": "Smith",
                    "social_links": [{"platform": "linkedin", "handle": typed}],
                },
            )
            db.session.commit()
            link = reload(contact).social_links[0]
            assert link.platform.name == "LinkedIn"
            assert link.handle == typed
            assert link.url == url


def test_wrong_social_link_is_refused_with_a_clear_message(manager, subtests):
    for platform, typed, message in [
        (
            "LinkedIn",
            "https://www.facebook.com/ana.smith",
            "This is not a LinkedIn address (expected linkedin.com).",
        ),
        (
            "LinkedIn",
            "https://linkedin.com.evil.example/in/ana",
            "This is not a LinkedIn address (expected linkedin.com).",
        ),
        ("LinkedIn", "a!", "Not a valid LinkedIn handle."),
        ("LinkedIn", "", "Enter the profile address or handle."),
        ("Website", "ana", "Enter the full Website address."),
    ]:
        with subtests.test(platform=platform, typed=typed):
            errors = refused(
                manager,
                {
                    "first_name": "Ana",
                    "last_name": "Smith",
                    "social_links": [{"platform": platform, "handle": typed}],
                },
            )
            assert errors == {"social_links-0-handle": [message]}
            assert count(SocialLink) == 0


def test_social_link_with_an_unknown_platform_is_refused(manager):
    errors = refused(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "social_links": [{"platform": "Myspace", "handle": "ana"}],
        },
    )
    assert errors == {"social_links-0-platform": ["Choose the platform."]}


# ---- deleting ---------------------------------------------------------------------------


def test_deleting_a_b2c_contact_removes_its_children_and_hidden_account(manager, make_contact):
    contact = make_contact(
        phones=[{"country_code": "GB", "number": "07911 123456"}],
        addresses=[{"city": "Bonn", "country": "DE"}],
        social_links=[{"platform": "LinkedIn", "handle": "ana-smith"}],
    )
    purge_contact(an_admin(), contact)
    db.session.commit()
    for model in (Contact, Account, Phone, Address, SocialLink):
        assert count(model) == 0, model


def test_deleting_a_b2b_contact_keeps_the_company(manager, make_contact):
    contact = make_contact(account="Acme")
    colleague = make_contact(first_name="Bo", account="Acme")
    purge_contact(an_admin(), contact)
    db.session.commit()
    assert count(Contact) == 1
    assert reload(colleague).account.name == "Acme"


def test_deleting_a_contact_after_its_account_was_loaded(manager, make_contact):
    contact = make_contact()
    assert [c.id for c in contact.account.contacts] == [contact.id]  # collection loaded
    purge_contact(an_admin(), contact)
    db.session.commit()
    assert count(Contact) == 0
    assert count(Account) == 0


def test_deleting_a_manager_leaves_their_reports_without_one(manager, make_contact):
    boss = make_contact(first_name="Boss", account="Acme")
    report = make_contact(first_name="Rita", account="Acme", manager=boss)
    purge_contact(an_admin(), boss)
    db.session.commit()
    assert reload(report).manager_id is None


def test_sales_may_not_delete_contacts(sales, make_contact):
    contact = make_contact(sales)
    with pytest.raises(PermissionDenied):
        delete_contact(sales, contact)
    db.session.rollback()
    assert count(Contact) == 1


def test_a_consumer_joining_a_company_does_not_take_its_primary_flag(manager, make_contact):
    bo = make_contact(first_name="Bo", last_name="Berg", account="Acme", is_primary=True)
    ana = make_contact(first_name="Ana", last_name="Smith")
    assert ana.is_primary is True  # primary of her own hidden account

    ana.kind = ContactKind.B2B
    ana.account = bo.account
    save(manager, ana)

    assert reload(ana).is_primary is False
    assert reload(bo).is_primary is True


def test_a_consumer_joining_a_company_without_primary_contact_stays_primary(manager, make_contact):
    bo = make_contact(first_name="Bo", last_name="Berg", account="Acme")
    ana = make_contact(first_name="Ana", last_name="Smith")
    ana.kind = ContactKind.B2B
    ana.account = bo.account
    save(manager, ana)
    assert reload(ana).is_primary is True


def test_b2c_contact_never_moves_into_another_persons_hidden_account(manager, make_contact):
    carl = make_contact(first_name="Carl", last_name="Consumer")
    ana = create_contact(
        manager, {"first_name": "Ana", "last_name": "Smith", "kind": ContactKind.B2C}
    )
    ana.account = carl.account
    save(manager, ana)

    assert reload(ana).account_id != carl.account_id
    assert reload(ana).account.name == "Ana Smith"
    assert reload(carl).account.name == "Carl Consumer"


def test_account_named_in_data_is_matched_ignoring_case_and_spaces(manager, sales):
    first = create_contact(sales, {"first_name": "Ana", "last_name": "Smith", "account": "Acme"})
    second = create_contact(manager, {"first_name": "Bo", "last_name": "B", "account": " ACME "})
    db.session.commit()
    assert second.account_id == first.account_id
    assert count(Account) == 1
    assert reload(first).account.owner_id == sales.id  # a new company belongs to its creator


def test_blank_account_name_means_no_account(manager):
    contact = create_contact(manager, {"first_name": "Ana", "last_name": "Smith", "account": "  "})
    assert contact.kind is ContactKind.B2C
    assert contact.account.is_hidden


def test_overlong_account_name_is_refused(manager):
    errors = refused(manager, {"first_name": "Ana", "last_name": "Smith", "account": "x" * 201})
    assert errors == {"account": ["Too long (at most 200 characters)."]}
    assert count(Account) == 0


def test_phone_without_a_type_name_is_refused(manager):
    errors = refused(
        manager,
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "phones": [{"type": None, "country_code": "GB", "number": "07400 123456"}],
        },
    )
    assert errors == {"phones-0-phone_type": ["Choose the type of phone number."]}


def test_deleting_a_contact_removes_its_links_to_other_accounts(manager, make_contact):
    contact = make_contact(account="Acme")
    globex = Account(name="Globex")
    contact.linked_accounts = [globex]
    db.session.commit()
    purge_contact(an_admin(), contact)
    db.session.commit()
    assert sorted(a.name for a in db.session.scalars(select(Account))) == ["Acme", "Globex"]
    assert db.session.execute(select(contact_accounts)).all() == []


def test_setting_an_unchanged_city_keeps_manual_coordinates(manager, make_contact):
    contact = make_contact(
        addresses=[{"city": "München", "country": "DE", "latitude": 48.0, "longitude": 11.0}]
    )
    db.session.expire_all()  # as after a commit: nothing loaded
    contact.addresses[0].city = "München"  # a form posts every field again
    contact.addresses[0].country = "DE"
    save(manager, contact)
    address = reload(contact).addresses[0]
    assert (address.latitude, address.longitude, address.geocode_source) == (48.0, 11.0, "manual")


def test_save_contact_refuses_a_lookalike_unless_allowed_and_sets_the_tags_given(app, make_user):
    """The one save of every entry point: a new contact like an existing one is refused with
    the matches (the form lists them), saved when allowed, and given the tags named."""
    manager = make_user("crm_manager")
    ana = create_contact(manager, {"first_name": "Ana", "last_name": "Smith", "email": "a@x.org"})
    db.session.commit()

    twin = Contact(first_name="ana", last_name="SMITH", email="A@x.org")
    with pytest.raises(LooksLikeExisting) as refused:
        save_contact(manager, twin, is_new=True, allow_duplicates=False, tag_names=["VIP"])
    db.session.rollback()
    assert [(c.id, why) for c, why in refused.value.matches] == [
        (ana.id, ["same email a@x.org", "same name"])
    ]
    assert count(Contact) == 1

    twin = Contact(first_name="ana", last_name="SMITH", email="A@x.org")
    save_contact(manager, twin, is_new=True, allow_duplicates=True, tag_names=["VIP"])
    db.session.commit()
    assert count(Contact) == 2 and [t.name for t in reload(twin).tags] == ["VIP"]
    assert reload(twin).email == "a@x.org" and reload(twin).owner_id == manager.id

    save_contact(manager, reload(twin), is_new=False, tag_names=[])
    db.session.commit()
    assert reload(twin).tags == []
