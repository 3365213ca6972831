"""Two people (or two programs) writing the same record at the same moment, through a real
server: one wins, the other is refused with a message (or 409), nothing answers 5xx, and
the database holds the winner's data. Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL).

Each pair first reads what it will post (the edit form with the record's version, the merge
page, the API read), then both writes are released together: whether the loser meets the
winner in the database (SQLAlchemy's version check, a lock) or arrives after it has
committed (the posted version is old), it must be refused the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    Account,
    Appointment,
    Contact,
    Deal,
    Interaction,
    Lead,
    MergeRecord,
    Note,
    Task,
)
from tests.concurrency.conftest import Person, statuses, together, with_values
from tests.conftest import csrf_from

SAVED_BY_SOMEONE_ELSE = "Someone else saved this"
NOTHING_MERGED = "Nothing was merged"


def _no_server_error(*responses: requests.Response) -> None:
    for response in responses:
        assert all(code < 500 for code in statuses(response)), statuses(response)


def _winner_and_loser(
    responses: list[requests.Response], refused: Callable[[requests.Response], bool]
) -> tuple[int, int]:
    """(index of the success, index of the refusal); fails unless exactly one of each."""
    _no_server_error(*responses)
    lost = [i for i, r in enumerate(responses) if refused(r)]
    assert len(lost) == 1, [r.url for r in responses]
    return 1 - lost[0], lost[0]


def _fresh(model: type, pk: int) -> Any:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, pk)


# ---- every admin form of a versioned record ----------------------------------------------


def _contact(make_contact: Callable[..., Any]) -> int:
    return make_contact(first_name="Ana", last_name="Race", email="ana.race@example.com").id


def _account(_make_contact: Callable[..., Any]) -> int:
    account = Account(name="Race Ltd")
    db.session.add(account)
    db.session.commit()
    return account.id


def _deal(make_contact: Callable[..., Any]) -> int:
    deal = Deal(title="Relaunch")
    deal.contacts = [make_contact(first_name="Dee", last_name="Deal")]
    db.session.add(deal)
    db.session.commit()
    return deal.id


def _admin(make_contact: Callable[..., Any]) -> Any:
    from crm.models import User

    return db.session.scalars(select(User).order_by(User.id)).first()


def _task(make_contact: Callable[..., Any]) -> int:
    from crm.services.card import tasks

    contact = make_contact(first_name="Tia", last_name="Task")
    task = tasks.save_task(_admin(make_contact), None, {"title": "Call back",
                                                        "contact_id": contact.id})  # fmt: skip
    db.session.commit()
    return task.id


def _lead(make_contact: Callable[..., Any]) -> int:
    lead = Lead(first_name="Lea", last_name="Lead", kind="b2c")
    db.session.add(lead)
    db.session.commit()
    return lead.id


def _appointment(make_contact: Callable[..., Any]) -> int:
    from crm.services.card import appointments

    contact = make_contact(first_name="Abe", last_name="Meet")
    made = appointments.save_appointment(_admin(make_contact), None, {
        "subject": "Visit", "starts_at": "2030-01-02T10:00", "ends_at": "2030-01-02T11:00",
        "contact_ids": [contact.id],
    })  # fmt: skip
    db.session.commit()
    return made.id


def _interaction(make_contact: Callable[..., Any]) -> int:
    from crm.services.card import interactions

    contact = make_contact(first_name="Ivy", last_name="Call")
    made = interactions.register(_admin(make_contact), contact, {"medium": "call",
                                                                 "subject": "Call"})  # fmt: skip
    db.session.commit()
    return made.id


EDIT_FORMS = [
    pytest.param("contact", Contact, _contact, "first_name", id="contact"),
    pytest.param("account", Account, _account, "name", id="account"),
    pytest.param("deal", Deal, _deal, "title", id="deal"),
    pytest.param("tasks", Task, _task, "title", id="task"),
    pytest.param("lead", Lead, _lead, "first_name", id="lead"),
    pytest.param("appointments", Appointment, _appointment, "subject", id="appointment"),
    pytest.param("interactions", Interaction, _interaction, "subject", id="interaction"),
]


@pytest.mark.parametrize(("url", "model", "make_record", "field"), EDIT_FORMS)
def test_two_saves_of_one_edit_form_at_once(
    person, make_user, make_contact, url, model, make_record, field
):
    """Two people open the same record's form, change the same field and press Save at the
    same moment: one save is kept, the other comes back with "someone else saved"."""
    make_user("crm_admin")  # the records' maker (the first user)
    pk = make_record(make_contact)
    path = f"/admin/{url}/edit/?id={pk}"
    ana, ben = person("crm_admin"), person("crm_admin")
    forms = [p.form(path, "expected_version") for p in (ana, ben)]
    versions = [dict(f)["expected_version"] for f in forms]
    assert versions[0] == versions[1] != ""  # both opened the same version
    values = ["Written by Ana", "Written by Ben"]
    answers = together(
        *(
            lambda p=p, f=f, v=v: p.post(path, with_values(f, **{field: v}))
            for p, f, v in zip((ana, ben), forms, values, strict=True)
        )
    )
    won, lost = _winner_and_loser(answers, lambda r: SAVED_BY_SOMEONE_ELSE in r.text)
    assert "/edit/" not in answers[won].url  # saved: back to the list
    assert "/edit/" in answers[lost].url  # the form again, with the message
    assert getattr(_fresh(model, pk), field) == values[won]


def test_an_edit_form_posted_again_with_its_old_version_is_refused(person, make_user, make_contact):
    """The same refusal without any race: the second save of one opened form."""
    make_user("crm_admin")
    deal_id = _deal(make_contact)
    path = f"/admin/deal/edit/?id={deal_id}"
    ana = person("crm_admin")
    form = ana.form(path, "expected_version")
    first = ana.post(path, with_values(form, title="First"))
    assert SAVED_BY_SOMEONE_ELSE not in first.text and "/edit/" not in first.url
    second = ana.post(path, with_values(form, title="Second"))
    _no_server_error(second)
    assert "Someone else saved this deal after you opened it" in second.text
    assert _fresh(Deal, deal_id).title == "First"


# ---- merges ---------------------------------------------------------------------------------


def _merge_form(who: Person, ids: list[int], master: int) -> tuple[str, list[tuple[str, str]]]:
    path = "/admin/merge/contacts/?" + "&".join(f"ids={i}" for i in ids) + f"&master={master}"
    return path, who.form(path, f"v_{master}")


def _merge_race(person, pairs: list[tuple[list[int], int]]) -> tuple[int, int]:
    ana, ben = person("crm_manager"), person("crm_manager")
    (path_a, form_a), (path_b, form_b) = (
        _merge_form(who, ids, master) for who, (ids, master) in zip((ana, ben), pairs, strict=True)
    )
    answers = together(lambda: ana.post(path_a, form_a), lambda: ben.post(path_b, form_b))
    won, lost = _winner_and_loser(answers, lambda r: NOTHING_MERGED in r.text)
    assert "Merged 1 other contact into" in answers[won].text
    assert db.session.scalar(select(func.count()).select_from(MergeRecord)) == 1
    return won, lost


def test_two_merges_of_the_same_contacts_with_different_masters(person, make_contact):
    p = make_contact(first_name="Pia", last_name="Lund", email="pia@example.com").id
    q = make_contact(first_name="Pia", last_name="Lund", email="pia.lund@example.com").id
    won, _lost = _merge_race(person, [([p, q], p), ([p, q], q)])
    master, merged = (p, q) if won == 0 else (q, p)
    assert _fresh(Contact, merged).merged_into_id == master
    kept = _fresh(Contact, master)
    assert (kept.merged_into_id, kept.deleted_at) == (None, None)


def test_two_overlapping_merges_into_different_masters(person, make_contact):
    """P <- Q and R <- Q at the same moment: Q goes into one of them, the other is untouched."""
    p = make_contact(first_name="Pia", last_name="Lund", email="p@example.com").id
    q = make_contact(first_name="Pia", last_name="Lund", email="q@example.com").id
    r = make_contact(first_name="Pia", last_name="Lund", email="r@example.com").id
    won, _lost = _merge_race(person, [([p, q], p), ([r, q], r)])
    master, other = (p, r) if won == 0 else (r, p)
    assert _fresh(Contact, q).merged_into_id == master
    untouched = _fresh(Contact, other)
    assert (untouched.merged_into_id, untouched.deleted_at, untouched.version) == (None, None, 1)


# ---- the API ---------------------------------------------------------------------------------


@pytest.fixture
def api(server: str, make_user: Callable[..., Any]) -> Callable[..., requests.Response]:
    """api(method, path, json=None) with a contacts token of a crm_manager."""
    from crm.services.platform.api_tokens import create_token

    token = create_token(make_user("crm_manager"), "Sync", ["contacts:read", "contacts:write"])
    db.session.commit()
    headers = {"Authorization": f"Bearer {token[1]}"}

    def call(method: str, path: str, json: Any = None) -> requests.Response:
        return requests.request(method, server + path, json=json, headers=headers, timeout=60)

    return call


def test_two_api_patches_with_the_same_version(api, make_contact):
    ana = make_contact(first_name="Ana", last_name="Api")
    url = f"/api/v1/contacts/{ana.id}"
    read = api("GET", url).json()
    titles = ["CEO", "CTO"]
    answers = together(
        *(
            lambda t=t: api("PATCH", url, {"job_title": t, "version": read["version"]})
            for t in titles
        )
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
    won = next(r for r in answers if r.status_code == 200).json()
    refused = next(r for r in answers if r.status_code == 409).json()
    assert refused["version"] == won["version"] == read["version"] + 1
    assert refused["error"] in (
        "The contact changed since you read it: read it again.",  # read after the winner
        "Someone else saved this contact while you were saving it. Nothing was saved: reload "
        "the page to see their changes, then make yours again.",  # met it in the database
    )
    assert _fresh(Contact, ana.id).job_title == won["job_title"]


def test_two_api_lead_conversions_at_once(api, make_user):
    lead = Lead(first_name="Lea", last_name="Twice", kind="b2c")
    db.session.add(lead)
    db.session.commit()
    path = f"/api/v1/leads/{lead.id}/convert"
    answers = together(*(lambda: api("POST", path) for _ in "ab"))
    assert sorted(r.status_code for r in answers) == [201, 409]
    made = db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.last_name == "Twice")
    )
    assert made == 1


# ---- buttons: lead conversion, the contact card's note ----------------------------------------


def test_two_lead_conversions_at_once(person):
    lead = Lead(first_name="Lea", last_name="Convert", kind="b2c")
    db.session.add(lead)
    db.session.commit()
    lead_id = lead.id
    ana, ben = person("crm_manager"), person("crm_manager")
    tokens = [csrf_from(p.get(f"/admin/lead/details/?id={lead_id}").text) for p in (ana, ben)]
    path = f"/admin/lead/convert/{lead_id}/"
    pairs = zip((ana, ben), tokens, strict=True)
    answers = together(*(lambda p=p, t=t: p.post(path, {"csrf_token": t}) for p, t in pairs))
    won, lost = _winner_and_loser(answers, lambda r: "Not converted" in r.text)
    assert "Lead converted" in answers[won].text
    made = db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.last_name == "Convert")
    )
    assert made == 1


def test_two_edits_of_one_note_at_once(person, make_user, make_contact):
    from crm.services.card import notes

    writer = make_user("crm_manager")
    contact = make_contact(writer, first_name="Noa", last_name="Note")
    note = notes.add_note(writer, contact, "First words")
    db.session.commit()
    base = person("crm_manager").base
    ana, ben = Person(base, writer.email), Person(base, writer.email)  # two tabs of its author
    page = f"/admin/contact/details/?id={contact.id}&tab=notes"
    forms = [p.form(page, "version") for p in (ana, ben)]
    path = f"/admin/contact-card/{contact.id}/notes/{note.id}/"
    bodies = ["Ana's words", "Ben's words"]
    answers = together(
        *(
            lambda p=p, f=f, b=b: p.post(path, with_values(f, body=b))
            for p, f, b in zip((ana, ben), forms, bodies, strict=True)
        )
    )
    won, _lost = _winner_and_loser(
        answers, lambda r: "changed since you opened it" in r.text or "at the same moment" in r.text
    )
    assert "Note changed." in answers[won].text
    assert _fresh(Note, note.id).body == bodies[won]


# ---- bulk actions ------------------------------------------------------------------------------


def test_two_bulk_actions_tagging_the_same_contacts_at_once(person, make_contact):
    """Both create the same new tag on the same contacts: when they meet in the database the
    second is refused (nothing of it kept); when it comes after, it finds the tag there."""
    from crm.models import Tag, contact_tags

    ids = [make_contact(first_name=n, last_name="Bulk").id for n in ("Ada", "Bo")]
    path = "/admin/contact/bulk/?target=ids&ids=" + ",".join(map(str, ids))
    ana, ben = person("crm_manager"), person("crm_manager")
    sent = {"operation": "add_tags", "tags": "Fair 2026", "confirm": "y"}
    forms = [{**sent, "csrf_token": csrf_from(p.get(path).text)} for p in (ana, ben)]
    pairs = zip((ana, ben), forms, strict=True)
    answers = together(*(lambda p=p, f=f: p.post(path, f) for p, f in pairs))
    _no_server_error(*answers)
    reports = ["Add tag Fair 2026: 2 contact(s) changed" in r.text for r in answers]
    assert reports.count(True) == 1, [r.url for r in answers]
    other = answers[reports.index(False)].text
    assert "at the same moment. Nothing was saved" in other or "2 skipped (already had" in other
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 1
    links = db.session.scalar(select(func.count()).select_from(contact_tags))
    assert links == 2
