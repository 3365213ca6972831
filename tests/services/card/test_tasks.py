"""Tasks: the rules of saving them (title, a contact or an account the actor sees, who may
own them), done and open again, who sees them, a contact's tasks by status and owner, and
overdue ones."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crm.errors import NotFound, PermissionDenied, StaleEditError, ValidationFailed
from crm.extensions import db
from crm.models import AccessClass, Account, Task, TaskStatus
from crm.services.card import tasks
from crm.services.platform import local_time
from tests.services.conftest import count, history, reload


def _secret_contact(make_contact, manager):
    """A contact in an access class nobody in these tests was granted."""
    secret = AccessClass(name="Board")
    db.session.add(secret)
    db.session.flush()
    return make_contact(manager, first_name="Sam", last_name="Secret", access_class=secret)


def test_a_task_for_a_contact_is_owned_by_its_creator_and_in_its_history(sales, make_contact):
    ana = make_contact(sales)
    task = tasks.save_task(
        sales, None, {"title": "  Call back  ", "contact_id": str(ana.id), "due_on": "2030-01-02"}
    )
    db.session.commit()
    task = reload(task)
    assert (task.title, task.status, task.due_on) == (
        "Call back",
        TaskStatus.OPEN,
        date(2030, 1, 2),
    )
    assert (task.owner_id, task.created_by_id, task.completed_at) == (sales.id, sales.id, None)
    entries = history(entity_type="task", entity_id=task.id)
    assert entries and entries[0].action == "create" and entries[0].user_id == sales.id


def test_every_rule_is_a_message_on_its_field(sales, make_contact):
    with pytest.raises(ValidationFailed) as refused:
        tasks.save_task(sales, None, {"title": "", "due_on": "next week", "status": "someday"})
    assert set(refused.value.errors) == {"title", "due_on", "status", "contact_id"}
    assert "Choose the contact or the account" in refused.value.errors["contact_id"][0]
    with pytest.raises(ValidationFailed) as refused:
        tasks.save_task(sales, None, {"title": "x\ny", "contact_id": "abc"})
    assert set(refused.value.errors) == {"title", "contact_id"}
    assert count(Task) == 0


def test_contacts_and_accounts_must_be_ones_the_actor_sees(sales, manager, make_contact):
    hidden = _secret_contact(make_contact, manager)
    db.session.commit()
    with pytest.raises(ValidationFailed) as refused:
        tasks.save_task(sales, None, {"title": "Spy", "contact_id": hidden.id})
    assert refused.value.errors == {"contact_id": ["Choose a contact you can see."]}
    with pytest.raises(ValidationFailed) as refused:
        tasks.save_task(sales, None, {"title": "Spy", "account_id": 10**6})
    assert refused.value.errors == {"account_id": ["Choose an account you can see."]}
    acme = Account(name="Acme")
    db.session.add(acme)
    db.session.commit()
    task = tasks.save_task(sales, None, {"title": "Quote", "account_id": acme.id})
    assert task.account_id == acme.id and task.contact_id is None
    ana = make_contact(sales)
    tasks.save_task(sales, task, {"contact_id": ana.id})
    tasks.save_task(sales, task, {"contact_id": "", "account_id": acme.id})  # the account alone
    assert (task.contact_id, task.account_id) == (None, acme.id)
    with pytest.raises(ValidationFailed):
        tasks.save_task(sales, task, {"account_id": None})  # neither


def test_sales_may_not_give_tasks_away_managers_may(sales, manager, make_user, make_contact):
    colleague = make_user("crm_sales")
    ana = make_contact(manager)
    with pytest.raises(ValidationFailed) as refused:
        tasks.save_task(sales, None, {"title": "x", "contact_id": ana.id, "owner_id": colleague.id})
    assert "You may not give tasks to other users" in refused.value.errors["owner_id"][0]
    given = tasks.save_task(manager, None, {"title": "x", "contact_id": ana.id,
                                            "owner_id": colleague.id})  # fmt: skip
    db.session.commit()
    assert given.owner_id == colleague.id
    # A salesperson may change a colleague's task (it stays theirs), not give it to a third.
    tasks.save_task(sales, given, {"title": "Renamed"})
    assert given.owner_id == colleague.id
    with pytest.raises(ValidationFailed):
        tasks.save_task(sales, given, {"owner_id": manager.id})
    gone = make_user("crm_sales", active=False)
    with pytest.raises(ValidationFailed) as refused:
        tasks.save_task(manager, given, {"owner_id": gone.id})
    assert "is not an active user" in refused.value.errors["owner_id"][0]
    login_only = make_user()  # a contact's generated login: no role
    with pytest.raises(ValidationFailed) as refused:
        tasks.save_task(manager, given, {"owner_id": login_only.id})
    assert "does not work with tasks" in refused.value.errors["owner_id"][0]


def test_done_sets_the_completion_time_and_reopening_clears_it(sales, make_contact):
    task = tasks.save_task(sales, None, {"title": "x", "contact_id": make_contact(sales).id})
    tasks.set_status(sales, task, TaskStatus.DONE)
    assert task.completed_at is not None and not task.is_open
    tasks.set_status(sales, task, "in_progress")
    assert task.completed_at is None and task.is_open
    tasks.set_status(sales, task, "cancelled")
    assert task.completed_at is None and not task.is_open
    with pytest.raises(ValidationFailed):
        tasks.set_status(sales, task, "finished")


def test_stale_edits_and_rights(sales, make_user, make_contact):
    task = tasks.save_task(sales, None, {"title": "x", "contact_id": make_contact(sales).id})
    db.session.commit()
    with pytest.raises(StaleEditError):
        tasks.save_task(sales, task, {"title": "y", "version": task.version + 1})
    with pytest.raises(PermissionDenied):
        tasks.save_task(make_user("crm_list_manager"), task, {"title": "y"})
    with pytest.raises(PermissionDenied):
        tasks.delete_task(make_user("crm_list_manager"), task)
    tasks.delete_task(sales, task)
    db.session.commit()
    assert count(Task) == 0
    assert [e.action for e in history(entity_type="task")] == ["create", "delete"]


def test_tasks_are_seen_through_their_contact_or_by_their_owner_and_creator(
    sales, manager, make_user, make_contact
):
    hidden = _secret_contact(make_contact, manager)
    other = make_user("crm_sales")
    mine = tasks.save_task(manager, None, {"title": "Mine", "contact_id": hidden.id,
                                           "owner_id": sales.id})  # fmt: skip
    theirs = tasks.save_task(manager, None, {"title": "Theirs", "contact_id": hidden.id})
    open_one = tasks.save_task(manager, None, {"title": "Open",
                                               "contact_id": make_contact(manager).id})  # fmt: skip
    db.session.commit()
    seen = set(db.session.scalars(tasks.visible_tasks(sales)))
    assert seen == {mine, open_one}
    assert set(db.session.scalars(tasks.visible_tasks(other))) == {open_one}
    assert set(db.session.scalars(tasks.visible_tasks(manager))) == {mine, theirs, open_one}
    assert tasks.get_visible_task(other, theirs.id) is None
    with pytest.raises(NotFound):
        tasks.set_status(other, theirs, "done")
    list_manager = make_user("crm_list_manager")
    assert list(db.session.scalars(tasks.visible_tasks(list_manager))) == []


def test_a_contacts_tasks_by_status_and_owner_open_ones_first_soonest_due(
    sales, manager, make_contact
):
    ana = make_contact(manager)
    today = local_time.today()

    def add(title, due=None, owner=sales, status="open"):
        return tasks.save_task(manager, None, {"title": title, "contact_id": ana.id,
                                               "due_on": due, "owner_id": owner.id,
                                               "status": status})  # fmt: skip

    late = add("Late", today - timedelta(days=2))
    undated = add("Undated")
    soon = add("Soon", today + timedelta(days=1))
    done = add("Done", today - timedelta(days=9), status="done")
    managers = add("Manager's", today, owner=manager, status="in_progress")
    db.session.commit()
    assert tasks.tasks_of_contact(sales, ana.id) == [late, managers, soon, undated, done]
    assert tasks.tasks_of_contact(sales, ana.id, "active") == [late, managers, soon, undated]
    assert tasks.tasks_of_contact(sales, ana.id, TaskStatus.DONE) == [done]
    assert tasks.tasks_of_contact(sales, ana.id, "active", owner_id=manager.id) == [managers]
    assert {u.id for u in tasks.owners_of_contact_tasks(sales, ana.id)} == {sales.id, manager.id}
    overdue = db.session.scalars(select(Task).where(tasks.overdue_clause())).all()
    assert overdue == [late]  # done ones and today's are not overdue
    assert late.is_overdue(today) and not done.is_overdue(today)
    assert not managers.is_overdue(today)
