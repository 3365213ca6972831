"""A contact's Emails and Campaigns tabs: every sending path (one-off email, meeting
confirmation, generated login, password reset) leaves its message in the email log, read back
from a real local SMTP server; campaign mails listed beside them and made again from the
campaign's message; the activity feed; and what a user who may not see the contact gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.errors import NotFound, PermissionDenied
from crm.extensions import db
from crm.models import (
    AccessClass,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    EmailKind,
    EmailStatus,
    ExclusionReason,
    RecipientStatus,
    SentEmail,
)
from crm.services.card import activity, appointments, emails, invitations, messages
from crm.services.contacts import logins
from crm.services.marketing import email_log
from crm.services.platform import mail
from crm.services.platform.password_links import LINK_NOT_KEPT
from tests.auth.test_password_reset import ask, mails_to, wait_for_mail_threads
from tests.services.conftest import count

SPRING = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)  # campaigns sent before the tests run
MEETING = datetime(2031, 3, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
def ana(make_contact):
    return make_contact(first_name="Ana", last_name="Smith", email="ana@example.com")


def _logged(contact_id: int) -> list[SentEmail]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(SentEmail).where(SentEmail.contact_id == contact_id).order_by(SentEmail.id)
        )
    )


def _campaign(name: str = "Spring sale", sender=None, **data) -> Campaign:
    values = {
        "subject": "Hello {{ first_name }}",
        "body_text": "Dear {{ first_name | default('friend') }},\n\n**20%** off this week.",
        "status": CampaignStatus.SENT,
        "sender_name": "Shop",
        "sender_email": "shop@example.com",
        "started_at": SPRING,
        "sent_by_id": getattr(sender, "id", None),
    }
    values.update(data)
    campaign = Campaign(name=name, **values)
    db.session.add(campaign)
    db.session.flush()
    return campaign


def _recipient(campaign: Campaign, contact, **data) -> CampaignRecipient:
    values = {
        "email": contact.email,
        "status": RecipientStatus.SENT,
        "sent_at": campaign.started_at,
    }
    values.update(data)
    recipient = CampaignRecipient(campaign_id=campaign.id, contact_id=contact.id, **values)
    db.session.add(recipient)
    db.session.commit()
    return recipient


# ---- every sending path is logged --------------------------------------------------------


def test_a_one_off_email_is_logged_and_listed(sales, ana, smtp_server):
    messages.email_contact(sales, ana, "ana@example.com", "Your quote", "Hello Ana,\r\nattached.")
    db.session.commit()
    [(_, _, sent_mail)] = smtp_server.messages
    [logged] = _logged(ana.id)
    assert (logged.kind, logged.status, logged.to_address, logged.subject) == (
        EmailKind.ONE_OFF, EmailStatus.SENT, "ana@example.com", "Your quote",
    )  # fmt: skip
    assert logged.body_text == "Hello Ana,\nattached." and logged.body_html is None
    assert logged.message_id == sent_mail["Message-ID"] and logged.sent_by_id == sales.id
    [row] = emails.emails_of_contact(sales, ana.id).rows
    assert (row.kind, row.subject, row.to, row.status, row.who) == (
        "Email", "Your quote", "ana@example.com", "Sent", sales.full_name,
    )  # fmt: skip
    assert len(row.when) == len("2031-03-04 09:30")  # to the minute
    message = emails.sent_email(sales, ana.id, row.id)
    assert message.text == "Hello Ana,\nattached." and message.html is None


def test_a_refused_mail_is_not_logged(app, sales, ana):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=closed)
    with pytest.raises(mail.MailNotSent):
        messages.email_contact(sales, ana, "ana@example.com", "Hi", "Hello")
    db.session.rollback()
    assert count(SentEmail) == 0


def test_a_meeting_confirmation_is_logged_for_each_contact_not_for_users(
    sales, make_user, make_contact, smtp_server
):
    ana = make_contact(sales, first_name="Ana", email="ana@example.com")
    bob = make_contact(sales, first_name="Bob", email="Bob@Example.com")
    quiet = make_contact(sales, first_name="Quiet", email="quiet@example.com", do_not_email=True)
    colleague = make_user("crm_manager", email="colleague@example.com")
    meeting = appointments.save_appointment(sales, None, {
        "subject": "Kick-off", "starts_at": MEETING, "ends_at": MEETING + timedelta(hours=1),
        "contact_ids": [ana.id, bob.id, quiet.id], "user_ids": [colleague.id],
    })  # fmt: skip
    db.session.commit()
    invitations.send_confirmation(sales, meeting)
    db.session.commit()
    [(_, _, sent_mail)] = smtp_server.messages
    by_contact = {row.contact_id: row for row in db.session.scalars(select(SentEmail))}
    assert set(by_contact) == {ana.id, bob.id}  # not the do-not-email one, not the colleague
    assert by_contact[bob.id].to_address == "bob@example.com"
    for row in by_contact.values():
        assert (row.kind, row.subject, row.sent_by_id) == (
            EmailKind.MEETING,
            "Invitation: Kick-off",
            sales.id,
        )
        assert row.message_id == sent_mail["Message-ID"] and "What:  Kick-off" in row.body_text
    [row] = emails.emails_of_contact(sales, ana.id).rows
    assert (row.kind, row.subject, row.status) == (
        "Meeting confirmation",
        "Invitation: Kick-off",
        "Sent",
    )


def test_a_generated_login_mail_is_logged_without_its_link(admin_user, ana, smtp_server):
    made = logins.generate_login(admin_user, ana, "ana.login@example.com")
    db.session.commit()
    assert made.mailed
    [(_, rcpts, sent_mail)] = smtp_server.messages
    assert made.link in sent_mail.get_content()
    [logged] = _logged(ana.id)
    assert (logged.kind, logged.to_address, logged.sent_by_id) == (
        EmailKind.PASSWORD_LINK, "ana.login@example.com", admin_user.id,
    )  # fmt: skip
    # Whoever reads the card must not be able to set the login's password.
    assert made.link not in logged.body_text and "/set-password/" not in logged.body_text
    assert LINK_NOT_KEPT in logged.body_text
    assert logged.message_id == sent_mail["Message-ID"]


def test_a_password_reset_of_a_contacts_login_is_logged(
    client, admin_user, make_user, ana, smtp_server
):
    logins.generate_login(admin_user, ana, "ana.login@example.com")
    staff = make_user("crm_sales", email="staff@example.com")
    db.session.commit()
    smtp_server.messages.clear()
    ask(client, "ana.login@example.com")
    ask(client, staff.email)
    assert mails_to(smtp_server, "ana.login@example.com")
    assert mails_to(smtp_server, staff.email)
    wait_for_mail_threads()
    reset = [row for row in _logged(ana.id) if row.subject.startswith("A new password")]
    assert len(reset) == 1
    assert reset[0].sent_by_id is None and "/set-password/" not in reset[0].body_text
    assert count(SentEmail) == 2  # the login's invitation and its reset: nothing for staff
    rows = emails.emails_of_contact(admin_user, ana.id).rows
    assert [(r.kind, r.who) for r in rows] == [
        ("Password link", "the app"),
        ("Password link", admin_user.full_name),
    ]


# ---- campaigns ----------------------------------------------------------------------------


def test_campaign_mails_are_listed_beside_the_others_with_their_status(
    sales, manager, ana, make_contact
):
    spring = _campaign("Spring sale", manager)
    summer = _campaign("Summer", manager, started_at=SPRING + timedelta(days=90))
    autumn = _campaign("Autumn", manager, started_at=SPRING + timedelta(days=180))
    winter = _campaign("Winter", manager, started_at=SPRING + timedelta(days=270),
                       status=CampaignStatus.SENDING)  # fmt: skip
    cancelled = _campaign("Never", manager, started_at=SPRING + timedelta(days=300))
    _recipient(spring, ana, unsubscribed_at=SPRING + timedelta(days=1))
    _recipient(summer, ana, bounced_at=SPRING + timedelta(days=91))
    _recipient(autumn, ana, status=RecipientStatus.FAILED, sent_at=None,
               error="550 mailbox unavailable")  # fmt: skip
    _recipient(winter, ana, status=RecipientStatus.QUEUED, sent_at=None)
    _recipient(cancelled, ana, status=RecipientStatus.EXCLUDED, sent_at=None,
               reason=ExclusionReason.NO_CONSENT)  # fmt: skip
    bob = make_contact(first_name="Bob", email="bob@example.com")
    _recipient(spring, bob)
    email_log.record(EmailKind.GREETING, ana, "ana@example.com",
                     mail.Mail(to=["ana@example.com"], subject="Happy birthday", body="Hi"),
                     message_id=None)  # fmt: skip
    db.session.commit()

    rows = emails.emails_of_contact(sales, ana.id).rows
    # The greeting was sent now, after every campaign; the excluded one was never sent.
    assert [(r.kind, r.status) for r in rows] == [
        ("Birthday greeting", "Sent"),
        ("Campaign: Winter", "Queued"),
        ("Campaign: Autumn", "Failed: 550 mailbox unavailable"),
        ("Campaign: Summer", "Bounced"),
        ("Campaign: Spring sale", "Unsubscribed"),
    ]
    assert rows[-1].subject == "Hello Ana" and rows[-1].to == "ana@example.com"
    assert rows[-1].who == manager.full_name and rows[0].who == "the app"
    assert rows[-1].when == "2025-03-04 09:30"

    campaigns = emails.campaigns_of_contact(sales, ana.id).rows
    assert [(r.name, r.status) for r in campaigns] == [
        ("Never", "Not sent: No consent to email marketing"),
        ("Winter", "Queued"),
        ("Autumn", "Failed: 550 mailbox unavailable"),
        ("Summer", "Sent on 2025-06-02 09:30 · Bounced on 2025-06-03 09:30"),
        ("Spring sale", "Sent on 2025-03-04 09:30 · Unsubscribed on 2025-03-05 09:30"),
    ]
    assert [r.emailed for r in campaigns] == [False, True, True, True, True]


def test_a_campaign_mail_is_made_again_for_the_contact(sales, manager, ana, make_contact):
    spring = _campaign("Spring sale", manager)
    mine = _recipient(spring, ana, message_id="<1@example.com>")
    message = emails.campaign_mail(sales, ana.id, mine.id)
    assert message.row.subject == "Hello Ana" and message.row.kind == "Campaign: Spring sale"
    assert message.text.startswith("Dear Ana,\n\n**20%** off this week.")
    assert "<strong>20%</strong>" in message.html and "Dear Ana," in message.html
    assert "(the recipient's own unsubscribe link)" in message.text
    assert 'href="about:blank"' in message.html
    assert message.note == emails.RERENDERED
    # Another contact's mail, an excluded recipient, a missing one: not found on Ana's card.
    bob = make_contact(first_name="Bob", email="bob@example.com")
    bobs = _recipient(spring, bob)
    excluded = _recipient(_campaign("Other"), ana, status=RecipientStatus.EXCLUDED,
                          reason=ExclusionReason.DO_NOT_EMAIL, sent_at=None)  # fmt: skip
    for recipient_id in (bobs.id, excluded.id, 10**6, "x"):
        with pytest.raises(NotFound):
            emails.campaign_mail(sales, ana.id, recipient_id)


def test_a_page_holds_fifty_newest_first(sales, ana):
    start = datetime(2030, 1, 1, tzinfo=UTC)
    for number in range(55):
        message = mail.Mail(to=["ana@example.com"], subject=f"Mail {number}", body="x")
        row = email_log.record(EmailKind.ONE_OFF, ana, "ana@example.com", message,
                               message_id=None, actor=sales)  # fmt: skip
        row.created_at = row.sent_at = start + timedelta(minutes=number)
    db.session.commit()
    first = emails.emails_of_contact(sales, ana.id)
    assert len(first.rows) == 50 and first.has_more
    assert first.rows[0].subject == "Mail 54" and first.rows[-1].subject == "Mail 5"
    second = emails.emails_of_contact(sales, ana.id, 2)
    assert [r.subject for r in second.rows] == [f"Mail {n}" for n in range(4, -1, -1)]
    assert not second.has_more
    assert emails.emails_of_contact(sales, ana.id, "-3").page == 1


# ---- the activity feed ----------------------------------------------------------------------


def test_each_sent_message_is_in_the_activity_feed_once(sales, manager, ana, smtp_server):
    messages.email_contact(sales, ana, "ana@example.com", "Your quote", "Hello")
    email_log.record(EmailKind.GREETING, ana, "ana@example.com",
                     mail.Mail(to=["ana@example.com"], subject="Happy birthday", body="Hi"),
                     message_id=None)  # fmt: skip
    _recipient(_campaign("Spring sale", manager), ana)
    db.session.commit()
    feed = [(i.kind, i.title, i.who) for i in activity.feed(sales, ana.id)]
    assert ("email", "Was sent an email: Your quote", sales.full_name) in feed
    assert ("email", "Birthday greeting sent", "the app") in feed
    assert ("email", "Campaign Spring sale sent", manager.full_name) in feed
    # The email's interaction is the same message: not told twice.
    assert not [f for f in feed if f[0] == "interaction"]
    links = [i.link for i in activity.feed(sales, ana.id) if i.kind == "email"]
    assert all(link[0].startswith("contact_emails.") for link in links)


# ---- who may read them ----------------------------------------------------------------------


def test_only_users_who_see_the_contact_read_its_messages(make_user, make_contact, smtp_server):
    board = AccessClass(name="Board")
    db.session.add(board)
    admin = make_user("crm_admin")
    kept = make_contact(admin, email="kept@example.com", access_class=board)
    messages.email_contact(admin, kept, "kept@example.com", "Board matters", "Secret")
    recipient = _recipient(_campaign("Spring sale", admin), kept)
    db.session.commit()
    [logged] = _logged(kept.id)
    assert emails.sent_email(admin, kept.id, logged.id).text == "Secret"
    sales = make_user("crm_sales")
    for read in (
        lambda who: emails.emails_of_contact(who, kept.id),
        lambda who: emails.campaigns_of_contact(who, kept.id),
        lambda who: emails.sent_email(who, kept.id, logged.id),
        lambda who: emails.campaign_mail(who, kept.id, recipient.id),
    ):
        with pytest.raises(NotFound):
            read(sales)
        with pytest.raises(PermissionDenied):
            read(make_user("crm_list_manager"))
    assert emails.sent_notices(sales, kept.id, 50) == []
    # A message of another contact is not found through a contact one may see.
    mine = make_contact(admin, email="mine@example.com")
    with pytest.raises(NotFound):
        emails.sent_email(sales, mine.id, logged.id)
    assert len(smtp_server.messages) == 1  # reading sends nothing
