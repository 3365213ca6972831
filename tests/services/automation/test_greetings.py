"""Birthday greetings sent by `run_due`: once a year, on the contact's birthday in its own
time zone, from the configured time of day, to the contacts with consent only; 29 February
on the 28th in common years. A real local SMTP server receives them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from crm.extensions import db
from crm.models import Contact, EmailKind, EmailStatus, SentEmail, segment_members
from crm.services.automation import greetings
from crm.services.automation.run_due import run_due
from crm.services.contacts.trash import delete_contact
from crm.services.lists.segments import save_segment
from tests.services.automation.conftest import received


def at(text: str) -> datetime:
    """A moment in UTC, written as ISO 8601."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def greeted(smtp_server) -> list[str]:
    return sorted(rcpt for rcpt, _ in received(smtp_server))


def test_a_greeting_goes_once_on_the_birthday_from_its_time_of_day(
    app, smtp_server, greetings_on, birthday_contact
):
    greetings_on(send_time="09:00")
    ana = birthday_contact("Ana", "1990-05-17")
    birthday_contact("Bo", "1985-05-18")  # tomorrow

    report = run_due(at("2027-05-17T08:59"))
    assert not report.failed, report.lines()
    assert smtp_server.messages == []  # before the time of day

    run_due(at("2027-05-17T09:00"))
    run_due(at("2027-05-17T09:00"))  # the same minute again
    run_due(at("2027-05-17T15:30"))  # later that day
    assert received(smtp_server) == [("ana@example.com", "Happy birthday, Ana!")]

    _, _, message = smtp_server.messages[0]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Dear Ana," in text and "<strong>all of us</strong>" in html
    assert "/unsubscribe/" in text and "unsubscribe</a>" in html  # the footer, always
    unsubscribe = str(message["List-Unsubscribe"]).strip()
    mailto, link = unsubscribe.split(", ")
    assert mailto == "<mailto:crm@localhost?subject=unsubscribe>"
    assert link.startswith("<http") and link.endswith("/one-click>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    row = db.session.scalars(select(SentEmail)).one()  # the contact's Emails tab
    assert (row.contact_id, row.kind, row.status) == (ana.id, EmailKind.GREETING, EmailStatus.SENT)
    assert row.key == f"greeting:{ana.id}:2027" and row.subject == "Happy birthday, Ana!"
    assert row.message_id == message["Message-ID"]

    run_due(at("2028-05-17T10:00"))  # a year later: again
    assert received(smtp_server)[1:] == [("ana@example.com", "Happy birthday, Ana!")]
    # RFC 8058: the mail program's POST, without a session, turns consent off.
    path = "/" + link.strip("<>").split("/", 3)[3]
    answer = app.test_client().post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, ana.id).email_marketing is False


def test_a_run_that_missed_the_time_sends_later_the_same_day_only(
    smtp_server, greetings_on, birthday_contact
):
    greetings_on(send_time="09:00")
    birthday_contact("Ana", "1990-05-17")
    run_due(at("2027-05-18T00:30"))  # the scheduler was down all of the 17th
    assert smtp_server.messages == []
    run_due(at("2028-05-17T23:59"))  # late, but still the day
    assert greeted(smtp_server) == ["ana@example.com"]


def test_29_february_is_greeted_on_28_february_in_common_years(
    smtp_server, greetings_on, birthday_contact
):
    greetings_on(send_time="08:00")
    birthday_contact("Leap", "2000-02-29")
    birthday_contact("Eve", "1999-02-28")
    birthday_contact("March", "1999-03-01")

    run_due(at("2027-02-28T08:00"))  # 2027 is a common year: both the 28th and the 29th
    assert greeted(smtp_server) == ["eve@example.com", "leap@example.com"]
    run_due(at("2027-03-01T08:00"))
    assert greeted(smtp_server)[2:] == ["march@example.com"]  # not Leap again

    smtp_server.messages.clear()
    run_due(at("2028-02-28T08:00"))  # 2028 is a leap year: Leap waits for its own day
    assert greeted(smtp_server) == ["eve@example.com"]
    run_due(at("2028-02-29T08:00"))
    assert greeted(smtp_server) == ["eve@example.com", "leap@example.com"]
    run_due(at("2028-03-01T08:00"))
    assert greeted(smtp_server) == ["eve@example.com", "leap@example.com", "march@example.com"]


def test_a_birthday_without_a_year_is_greeted_too(smtp_server, greetings_on, birthday_contact):
    greetings_on(send_time="09:00")
    birthday_contact("Noyear", "--07-04")
    run_due(at("2027-07-04T09:00"))
    assert greeted(smtp_server) == ["noyear@example.com"]


def test_each_contact_is_greeted_on_its_own_date_and_time(
    app, smtp_server, greetings_on, birthday_contact
):
    app.config["CRM_TIMEZONE"] = "Europe/Oslo"  # the office
    greetings_on(send_time="09:00")
    birthday_contact("Kiri", "1990-05-17", timezone="Pacific/Auckland")
    birthday_contact("Olav", "1990-05-17")  # no zone of its own: the office's
    birthday_contact("Lou", "1990-05-17", timezone="America/Los_Angeles")

    # 21:30 UTC on the 16th is 09:30 on the 17th in Auckland (UTC+12): Kiri only.
    run_due(at("2027-05-16T21:30"))
    assert greeted(smtp_server) == ["kiri@example.com"]
    # 06:59 UTC is 08:59 in Oslo (UTC+2): not yet; 07:00 is 09:00 there.
    run_due(at("2027-05-17T06:59"))
    assert greeted(smtp_server) == ["kiri@example.com"]
    run_due(at("2027-05-17T07:00"))
    assert greeted(smtp_server) == ["kiri@example.com", "olav@example.com"]
    # 15:59 UTC is 08:59 in Los Angeles (UTC-7); at 16:00 it is 09:00. Auckland is on the
    # 18th by then, and Kiri was greeted for this year already.
    run_due(at("2027-05-17T15:59"))
    assert len(smtp_server.messages) == 2
    run_due(at("2027-05-17T16:00"))
    assert greeted(smtp_server) == ["kiri@example.com", "lou@example.com", "olav@example.com"]
    # The 18th, late, in Los Angeles (07:00 UTC on the 19th is 00:00 there): nobody again.
    run_due(at("2027-05-18T20:00"))
    assert len(smtp_server.messages) == 3


def test_only_contacts_with_consent_and_a_good_address_are_greeted(
    smtp_server, greetings_on, birthday_contact, manager
):
    greetings_on()
    birthday_contact("Yes", "1990-05-17")
    birthday_contact("Noconsent", "1990-05-17", email_marketing=False)
    birthday_contact("Dont", "1990-05-17", do_not_email=True)
    birthday_contact("Noaddress", "1990-05-17", email=None)
    trashed = birthday_contact("Trashed", "1990-05-17")
    delete_contact(manager, trashed)
    from crm.models import BouncingAddress

    birthday_contact("Bounces", "1990-05-17")
    db.session.add(BouncingAddress(email="bounces@example.com", reason="550 no such user"))
    db.session.commit()

    report = run_due(at("2027-05-17T10:00"))
    assert not report.failed, report.lines()
    assert greeted(smtp_server) == ["yes@example.com"]
    assert [p.outcome for p in report.parts if p.name == "Birthday greetings"] == ["1 sent"]


def test_a_segment_narrows_the_audience_and_consent_still_applies(
    smtp_server, greetings_on, birthday_contact, manager
):
    from crm.models import Segment

    inside = birthday_contact("Inside", "1990-05-17")
    birthday_contact("Outside", "1990-05-17")
    refused = birthday_contact("Refused", "1990-05-17", email_marketing=False)
    vip = Segment(name="VIP")
    db.session.add(vip)
    save_segment(manager, vip)
    db.session.flush()
    db.session.execute(
        segment_members.insert(),
        [{"segment_id": vip.id, "contact_id": c.id} for c in (inside, refused)],
    )
    db.session.commit()
    greetings_on(segment_id=str(vip.id))
    run_due(at("2027-05-17T10:00"))
    assert greeted(smtp_server) == ["inside@example.com"]


def test_greetings_that_are_off_send_nothing(smtp_server, birthday_contact):
    birthday_contact("Ana", "1990-05-17")
    report = run_due(at("2027-05-17T10:00"))
    assert smtp_server.messages == []
    assert [p.outcome for p in report.parts if p.name == "Birthday greetings"] == ["off"]


def test_a_refused_greeting_is_recorded_as_failed_and_not_sent_again(
    app, greetings_on, birthday_contact
):
    import socket

    greetings_on()
    ana = birthday_contact("Ana", "1990-05-17")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=port)
    report = run_due(at("2027-05-17T10:00"))
    assert [p.outcome for p in report.parts if p.name == "Birthday greetings"] == [
        "0 sent, 1 failed"
    ]
    row = db.session.scalars(select(SentEmail)).one()
    assert row.contact_id == ana.id and row.status == EmailStatus.FAILED and row.error
    run_due(at("2027-05-17T10:01"))
    assert db.session.scalars(select(SentEmail)).all() == [row]


def test_the_query_reads_the_birthday_month_index(app, birthday_contact):
    """At a million contacts the candidates are found by month, not by reading the table."""
    from sqlalchemy import event

    from crm.services.automation.greetings import _candidates

    birthday_contact("Ana", "1990-05-17")
    if db.engine.dialect.name != "sqlite":
        return
    captured: list[tuple] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        _candidates(at("2027-05-17T10:00"), None, 0)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    statement, parameters = captured[-1]
    plan = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_contacts_birthday_month" in details, details
    assert greetings.key(5, 2027) == "greeting:5:2027"


def test_a_dynamic_segment_is_its_filter_as_the_user_who_chose_it_sees_it(
    smtp_server, greetings_on, birthday_contact, make_user
):
    from crm.models import Segment, SegmentKind

    birthday_contact("Anna", "1990-05-17", last_name="Lind")
    birthday_contact("Bert", "1990-05-17", last_name="Berg")
    lind = Segment(name="The Linds", kind=SegmentKind.DYNAMIC, query="search=Lind")
    db.session.add(lind)
    db.session.commit()
    greetings_on(segment_id=str(lind.id))
    report = run_due(at("2027-05-17T10:00"))
    assert not report.failed, report.lines()
    assert greeted(smtp_server) == ["anna@example.com"]
