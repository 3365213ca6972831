"""services.search (what the list's search box finds) and services.dashboard (home figures)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from crm.extensions import db
from crm.models import AccessClass, AuditEntry, Contact, CustomerStatus, TaskStatus
from crm.services.card import notes, tasks
from crm.services.contacts import bulk
from crm.services.contacts.dashboard import (
    dashboard_figures,
    my_recent_contacts,
    my_tasks,
    team_activity,
)
from crm.services.contacts.saving import apply_contact_rules
from crm.services.contacts.search import contact_search_clause
from crm.services.contacts.trash import delete_contact
from crm.services.platform.access import visible_contacts
from crm.services.platform.audit import acting_as


def found(user, text: str) -> list[str]:
    query = visible_contacts(user).order_by(Contact.id)
    clause = contact_search_clause(text)
    if clause is not None:
        query = query.where(clause)
    return [c.full_name for c in db.session.scalars(query)]


def test_search_finds_parts_of_names_and_emails(manager, make_contact, subtests):
    make_contact(first_name="Ana", last_name="Smith", email="ana@acme.example.com")
    make_contact(first_name="Bo", last_name="Smithers", email_secondary="bo@globex.example.com")
    make_contact(first_name="Jürgen", last_name="Müller")
    for text, names in [
        ("ith", ["Ana Smith", "Bo Smithers"]),
        ("ana smi", ["Ana Smith"]),
        ("SMITH", ["Ana Smith", "Bo Smithers"]),
        ("globex", ["Bo Smithers"]),
        ("müller", ["Jürgen Müller"]),
        ("smith nobody", []),
        ("%", []),
        ("_", []),
        ("", ["Ana Smith", "Bo Smithers", "Jürgen Müller"]),
        ("   ", ["Ana Smith", "Bo Smithers", "Jürgen Müller"]),
    ]:
        with subtests.test(text=text):
            assert found(manager, text) == names


def test_search_sees_a_renamed_contact_under_its_new_name(manager, make_contact):
    contact = make_contact(first_name="Ana", last_name="Smith")
    contact.last_name = "Jones"
    with db.session.no_autoflush:
        apply_contact_rules(manager, contact, is_new=False)
    db.session.commit()
    assert found(manager, "jones") == ["Ana Jones"]
    assert found(manager, "smith") == []


def test_search_ignores_words_beyond_the_eighth(manager, make_contact):
    make_contact(first_name="Ana", last_name="Smith")
    assert found(manager, "a " * 8 + "nobody") == ["Ana Smith"]


def test_search_respects_who_may_see_contacts(make_user, make_contact):
    make_contact(first_name="Ana", last_name="Smith")
    assert found(make_user("crm_list_manager"), "ana") == []


def test_dashboard_counts_what_the_user_may_see(manager, make_user, make_contact):
    make_contact(first_name="Ana", customer_status=CustomerStatus.CUSTOMER, account="Acme")
    make_contact(first_name="Bo", customer_status=CustomerStatus.PROSPECT, account="Acme")
    make_contact(first_name="Cy", customer_status=CustomerStatus.CUSTOMER)
    make_contact(first_name="Di", customer_status=CustomerStatus.CUSTOMER, active=False)

    figures = dashboard_figures(manager)
    assert figures["active_contacts"] == "3"
    assert figures["customers"] == "2"
    assert figures["prospects"] == "1"
    assert figures["accounts"] == "1"  # Acme; hidden personal accounts are not counted

    nothing = dashboard_figures(make_user("crm_list_manager"))
    assert (nothing["active_contacts"], nothing["accounts"]) == ("0", "0")


def test_dashboard_figures_stop_counting_at_the_cap(manager, make_contact, monkeypatch):
    import crm.services.contacts.dashboard as dashboard
    import crm.services.platform.counting as counting

    for name in ("Ana", "Bo", "Cy"):
        make_contact(first_name=name, customer_status=CustomerStatus.CUSTOMER)
    monkeypatch.setattr(counting, "COUNT_CAP", 2)
    figures = dashboard.dashboard_figures(manager)
    if db.engine.dialect.name == "sqlite":
        assert figures["active_contacts"] == "2+" and figures["customers"] == "2+"
    else:  # PostgreSQL: exact while the count fits its time budget
        assert figures["active_contacts"] == "3" and figures["customers"] == "3"
    assert figures["prospects"] == "0"


# ---- the home page's lists ------------------------------------------------------------


def test_my_tasks_are_my_open_ones_due_today_or_overdue_oldest_first(sales, manager, make_contact):
    ana = make_contact(first_name="Ana")
    today = date(2026, 11, 23)

    def task(actor, title, due, **extra):
        with acting_as(actor):
            made = tasks.save_task(
                actor, None, {"title": title, "contact_id": ana.id, "due_on": due, **extra}
            )
        db.session.commit()
        return made

    task(sales, "Due today", today)
    task(sales, "A week late", today - timedelta(days=7))
    task(sales, "Tomorrow", today + timedelta(days=1))
    task(sales, "No date", None)
    done = task(sales, "Done already", today - timedelta(days=2))
    tasks.set_status(sales, done, TaskStatus.DONE)
    task(manager, "The manager's", today - timedelta(days=1))
    task(manager, "Given to sales", today - timedelta(days=3), owner_id=sales.id)
    db.session.commit()

    mine = my_tasks(sales, today=today)
    assert [(t.task.title, t.overdue, t.contact_seen) for t in mine] == [
        ("A week late", True, True),
        ("Given to sales", True, True),
        ("Due today", False, True),
    ]
    assert [t.task.title for t in my_tasks(manager, today=today)] == ["The manager's"]
    assert my_tasks(sales, today=today, limit=1)[0].task.title == "A week late"


def test_my_task_on_a_contact_i_may_not_see_is_listed_without_it(make_user, make_contact):
    admin = make_user("crm_admin")
    sales = make_user("crm_sales")
    hidden = AccessClass(name="Key accounts")
    db.session.add(hidden)
    db.session.commit()
    kai = make_contact(admin, first_name="Kai", access_class=hidden)
    tasks.save_task(admin, None, {"title": "Call Kai", "contact_id": kai.id,
                                  "due_on": date(2026, 11, 1), "owner_id": sales.id})  # fmt: skip
    db.session.commit()
    [item] = my_tasks(sales, today=date(2026, 11, 23))
    assert item.task.title == "Call Kai" and not item.contact_seen


def test_my_recent_contacts_are_those_i_added_or_changed_newest_first(sales, manager, make_contact):
    ana = make_contact(sales, first_name="Ana")
    make_contact(manager, first_name="Bo")  # the manager's work, not mine
    cy = make_contact(sales, first_name="Cy")
    with acting_as(sales):
        notes.add_note(sales, ana, "Called her back.")  # changing Ana makes her the newest
    db.session.commit()
    assert [c.first_name for c in my_recent_contacts(sales)] == ["Ana", "Cy"]
    assert [c.first_name for c in my_recent_contacts(manager)] == ["Bo"]

    with acting_as(manager):
        delete_contact(manager, cy)
    db.session.commit()
    assert [c.first_name for c in my_recent_contacts(sales)] == ["Ana"]  # not in the trash
    assert [c.first_name for c in my_recent_contacts(sales, limit=0)] == []


def test_team_activity_in_words_newest_first(sales, manager, make_contact):
    ana = make_contact(
        sales,
        first_name="Ana",
        last_name="Smith",
        phones=[{"type": "Work", "country_code": "GB", "number": "020 7946 0958"}],
        addresses=[{"city": "Leeds", "country": "GB"}],
    )
    with acting_as(manager):
        notes.add_note(manager, ana, "Met at the fair.")
        tasks.save_task(manager, None, {"title": "Call", "contact_id": ana.id})
        bulk.add_tags(manager, select(Contact.id), ["VIP"])
    db.session.commit()

    lines = [
        (line.who, line.verb, line.contact.full_name if line.contact else line.what)
        for line in team_activity(manager)
    ]
    assert lines == [
        ("Test crm_manager", "changed 1 contact", "Add tag VIP"),
        ("Test crm_manager", "added a task for", "Ana Smith"),
        ("Test crm_manager", "wrote a note on", "Ana Smith"),
        # The contact with its phone and address: one line.
        ("Test crm_sales", "created", "Ana Smith"),
    ]
    assert re.fullmatch(r"Today \d\d:\d\d", team_activity(manager)[0].when)
    assert len(team_activity(manager, limit=2)) == 2


def test_team_activity_leaves_out_contacts_the_user_may_not_see(make_user, make_contact):
    admin = make_user("crm_admin")
    sales = make_user("crm_sales")
    hidden = AccessClass(name="Key accounts")
    db.session.add(hidden)
    db.session.commit()
    make_contact(admin, first_name="Kai", last_name="Secret", access_class=hidden)
    nora = make_contact(admin, first_name="Nora", last_name="Open", account="Acme")
    with acting_as(admin):
        bulk.add_tags(admin, select(Contact.id), ["VIP"])  # touches Kai too
        notes.add_note(admin, nora, "Mine alone.", private=True)
    db.session.commit()

    def seen(user) -> list[str]:
        return [
            f"{line.verb} {line.contact or line.account or line.what}"
            for line in team_activity(user)
        ]

    assert seen(admin) == [
        "wrote a note on Nora Open",
        "changed 2 contacts Add tag VIP",
        "created Nora Open",
        "created the account Acme",
        "created Kai Secret",
    ]
    # The sales user sees neither Kai, nor the bulk action that touched Kai, nor the
    # administrator's private note.
    assert seen(sales) == ["created Nora Open", "created the account Acme"]
    assert team_activity(make_user("crm_list_manager")) == []


def test_team_activity_times_are_office_time_to_the_minute(app, manager, make_contact):
    ana = make_contact(first_name="Ana", last_name="Smith")
    app.config["CRM_TIMEZONE"] = "Europe/Berlin"
    db.session.add(
        AuditEntry(
            at=datetime(2026, 1, 5, 13, 7, 42, 123456, tzinfo=UTC),
            user_id=None,
            user_email="importer@example.com",
            action="update",
            entity_type="contact",
            entity_id=ana.id,
            contact_id=ana.id,
            changes={"job_title": [None, "Buyer"]},
        )
    )
    db.session.commit()
    [line, _created] = team_activity(manager)
    assert (line.who, line.verb, line.when) == (
        "importer@example.com",
        "updated",
        "2026-01-05 14:07",
    )


def test_team_activity_shows_a_contact_moved_to_the_trash(manager, make_contact):
    ana = make_contact(first_name="Ana", last_name="Smith")
    with acting_as(manager):
        delete_contact(manager, ana)
    db.session.commit()
    [line, _created] = team_activity(manager)
    assert (line.verb, line.contact.full_name, line.after, line.contact_live) == (
        "moved",
        "Ana Smith",
        "to the trash",
        False,
    )


def test_contact_properties_shown_in_lists(make_contact):
    contact = make_contact(
        first_name=" Ana ",
        middle_name="María",
        last_name="López",
        phones=[
            {"type": "Work", "country_code": "GB", "number": "020 7946 0958", "extension": "7"}
        ],
        addresses=[
            {"street": "Hauptstraße 1", "postal_code": "53111", "city": "Bonn", "country": "DE"}
        ],
        social_links=[{"platform": "GitHub", "handle": "ana"}],
    )
    assert str(contact) == "Ana María López"
    assert str(contact.phones[0]) == "Work: +44 20 7946 0958 ext. 7"
    assert str(contact.addresses[0]) == "Main: Hauptstraße 1, 53111 Bonn, DE"
    assert str(contact.social_links[0]) == "GitHub: https://github.com/ana"
    assert db.session.scalar(select(Contact.search_text)) == (
        "ana maría lópez maria lopez 442079460958 02079460958"
    )
