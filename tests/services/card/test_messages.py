"""Writing to a contact: the email reaches a real SMTP server and the SMS a local fake of
Twilio, each kept as an outgoing interaction; what may not be sent is refused with nothing
sent and nothing recorded."""

from __future__ import annotations

import logging
import socket

import pytest

from crm.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import AccessClass, Direction, Interaction, InteractionStatus, Medium
from crm.services.card import messages
from crm.services.platform.mail import MailNotSent
from crm.services.platform.sms import SmsNotSent
from tests.services.conftest import count, history
from tests.services.fake_twilio import fake_twilio

MOBILE = {"type": "Mobile", "country_code": "+44", "number": "7400 123456"}
WORK = {"type": "Work", "country_code": "+1", "number": "201-555-0123", "extension": "42"}


@pytest.fixture
def ana(make_contact):
    return make_contact(
        email="ana@example.com", email_secondary="ana.private@example.org", phones=[MOBILE, WORK]
    )


@pytest.fixture
def twilio(app):
    with fake_twilio() as fake:
        app.config.update(fake.settings())
        yield fake


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- email ------------------------------------------------------------------------------


def test_the_email_arrives_and_is_recorded_as_an_interaction(sales, ana, smtp_server):
    interaction = messages.email_contact(
        sales, ana, "ana@example.com", "Your quote", "Hello Ana,\r\n\r\nthe quote is attached."
    )
    db.session.commit()
    [(sender, recipients, mail)] = smtp_server.messages
    assert (sender, recipients) == ("crm@localhost", ["ana@example.com"])
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == "Your quote"
    assert mail["Reply-To"] == sales.email
    assert mail.get_content().replace("\r\n", "\n").strip() == (
        "Hello Ana,\n\nthe quote is attached."
    )
    stored = db.session.get(Interaction, interaction.id)
    assert stored.contact_id == ana.id
    assert (stored.medium, stored.direction, stored.status) == (
        Medium.EMAIL, Direction.OUT, InteractionStatus.CLOSED,
    )  # fmt: skip
    assert (stored.subject, stored.body, stored.address) == (
        "Your quote", "Hello Ana,\n\nthe quote is attached.", "ana@example.com",
    )  # fmt: skip
    assert stored.operator_id == stored.created_by_id == sales.id
    [entry] = history(entity_type="interaction", entity_id=stored.id)
    assert entry.action == "create" and entry.user_id == sales.id


def test_the_secondary_address_may_be_chosen_in_any_case(sales, ana, smtp_server):
    messages.email_contact(sales, ana, " Ana.Private@Example.org ", "Hi", "Hello")
    [(_, recipients, _)] = smtp_server.messages
    assert recipients == ["ana.private@example.org"]


def test_do_not_email_is_refused_and_nothing_is_sent(sales, make_contact, smtp_server):
    ana = make_contact(email="ana@example.com", do_not_email=True)
    with pytest.raises(DomainError, match="Do not email: this contact asked not to"):
        messages.email_contact(sales, ana, "ana@example.com", "Hi", "Hello")
    assert smtp_server.messages == [] and count(Interaction) == 0


def test_an_address_of_someone_else_is_refused(sales, ana, make_contact, smtp_server):
    make_contact(first_name="Bob", email="bob@example.com")
    with pytest.raises(ValidationFailed) as refused:
        messages.email_contact(sales, ana, "bob@example.com", "Hi", "Hello")
    assert refused.value.errors == {
        "to": ["bob@example.com is not an address of this contact: choose one of theirs."]
    }
    assert smtp_server.messages == [] and count(Interaction) == 0


def test_subject_and_message_are_required_and_checked(sales, ana, smtp_server):
    with pytest.raises(ValidationFailed) as refused:
        messages.email_contact(sales, ana, "", "  ", "")
    assert refused.value.errors == {
        "to": ["Choose the address to write to."],
        "subject": ["Write a subject."],
        "body": ["Write the message."],
    }
    with pytest.raises(ValidationFailed) as refused:
        messages.email_contact(sales, ana, "ana@example.com", "Hi\nBcc: x@evil.test", "Hello")
    assert refused.value.errors == {"subject": ["The subject must be a single line."]}
    with pytest.raises(ValidationFailed) as refused:
        messages.email_contact(sales, ana, "ana@example.com", "x" * 201, "a\x00b")
    assert set(refused.value.errors) == {"subject", "body"}
    assert smtp_server.messages == [] and count(Interaction) == 0


def test_a_contact_without_an_address_cannot_be_emailed(sales, make_contact, smtp_server):
    bob = make_contact(first_name="Bob")
    with pytest.raises(DomainError, match="no email address"):
        messages.email_contact(sales, bob, "bob@example.com", "Hi", "Hello")


def test_a_mail_server_that_is_down_records_nothing(app, sales, ana):
    app.config.update(CRM_MAIL_BACKEND="smtp", CRM_SMTP_HOST="127.0.0.1",
                      CRM_SMTP_PORT=_closed_port(), CRM_SMTP_TIMEOUT=2)  # fmt: skip
    with pytest.raises(MailNotSent, match="The mail could not be sent"):
        messages.email_contact(sales, ana, "ana@example.com", "Hi", "Hello")
    db.session.commit()
    assert count(Interaction) == 0


def test_mail_switched_off_is_said_rather_than_dropping_the_message(app, sales, ana):
    app.config.update(CRM_MAIL_BACKEND="none")
    with pytest.raises(DomainError, match=r"Email is switched off .*CRM_MAIL_BACKEND=smtp"):
        messages.email_contact(sales, ana, "ana@example.com", "Hi", "Hello")
    assert count(Interaction) == 0


def test_writing_needs_the_right_and_a_visible_contact(make_user, ana, make_contact, smtp_server):
    with pytest.raises(PermissionDenied):
        messages.email_contact(make_user("crm_list_manager"), ana, "ana@example.com", "Hi", "x")
    hidden_class = AccessClass(name="Board")
    db.session.add(hidden_class)
    admin = make_user("crm_admin")
    kept = make_contact(admin, email="kept@example.com", access_class=hidden_class)
    with pytest.raises(NotFound):
        messages.email_contact(make_user("crm_sales"), kept, "kept@example.com", "Hi", "x")
    with pytest.raises(NotFound):
        messages.text_contact(make_user("crm_sales"), kept, 1, "x")
    assert smtp_server.messages == [] and count(Interaction) == 0


# ---- SMS --------------------------------------------------------------------------------


def _mobile(contact):
    return next(phone for phone in contact.phones if phone.e164 == "+447400123456")


def test_an_sms_goes_to_the_provider_and_is_recorded(sales, ana, twilio):
    body = "Hello Ana, your order is ready.\r\nSee you soon!"
    interaction = messages.text_contact(sales, ana, str(_mobile(ana).id), body)
    db.session.commit()
    [request] = twilio.received
    assert request.form["To"] == "+447400123456"
    assert request.form["Body"] == "Hello Ana, your order is ready.\nSee you soon!"
    stored = db.session.get(Interaction, interaction.id)
    assert (stored.medium, stored.direction, stored.status) == (
        Medium.SMS, Direction.OUT, InteractionStatus.CLOSED,
    )  # fmt: skip
    assert stored.address == "+447400123456"
    assert stored.subject == "SMS: Hello Ana, your order is ready. See you soon!"
    assert stored.body == "Hello Ana, your order is ready.\nSee you soon!"
    assert stored.operator_id == stored.created_by_id == sales.id


def test_the_console_backend_records_the_sms_it_logs(app, sales, ana, caplog):
    caplog.set_level(logging.INFO, logger=app.logger.name)
    long_text = "Reminder: " + "word " * 40
    interaction = messages.text_contact(sales, ana, _mobile(ana).id, long_text)
    assert "to +447400123456" in caplog.text
    assert len(interaction.subject) == 80 and interaction.subject.endswith("…")


def test_do_not_call_refuses_sms_too(sales, make_contact, twilio):
    ana = make_contact(do_not_call=True, phones=[MOBILE])
    with pytest.raises(DomainError, match="Do not call: this contact asked not to be called"):
        messages.text_contact(sales, ana, ana.phones[0].id, "Hello")
    assert twilio.received == [] and count(Interaction) == 0


def test_a_phone_of_another_contact_is_refused(sales, ana, make_contact, twilio):
    bob = make_contact(first_name="Bob", phones=[{"number": "+1 202 555 0199"}])
    with pytest.raises(ValidationFailed) as refused:
        messages.text_contact(sales, ana, bob.phones[0].id, "Hello")
    assert refused.value.errors == {"phone_id": ["Choose one of this contact's phone numbers."]}
    assert twilio.received == [] and count(Interaction) == 0


def test_an_empty_or_too_long_sms_is_refused_on_its_field(sales, ana, twilio):
    phone_id = _mobile(ana).id
    with pytest.raises(ValidationFailed) as refused:
        messages.text_contact(sales, ana, phone_id, " ")
    assert refused.value.errors == {"body": ["Write the message."]}
    with pytest.raises(ValidationFailed) as refused:
        messages.text_contact(sales, ana, phone_id, "x" * 1601)
    assert refused.value.errors == {"body": ["Too long: 1601 characters, at most 1600 in one SMS."]}
    assert twilio.received == []


def test_a_provider_refusal_records_nothing(sales, ana, twilio):
    twilio.answer_with(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"})
    with pytest.raises(SmsNotSent, match="unsubscribed recipient"):
        messages.text_contact(sales, ana, _mobile(ana).id, "Hello")
    db.session.commit()
    assert count(Interaction) == 0


def test_sms_switched_off_is_refused_with_the_way_to_set_it_up(app, sales, ana):
    app.config.update(CRM_SMS_BACKEND="none")
    with pytest.raises(DomainError, match="SMS is not configured .*CRM_SMS_BACKEND=twilio"):
        messages.text_contact(sales, ana, _mobile(ana).id, "Hello")


# ---- what the card shows ----------------------------------------------------------------


def test_reach_of_tells_the_card_what_is_possible(app, make_user, sales, make_contact):
    open_contact = make_contact(email="a@example.com")
    assert messages.reach_of(sales, open_contact) == {
        "may_message": True,
        "email_blocked_reason": None,
        "call_blocked_reason": None,
        "sms_enabled": True,
        "bouncing": {},
    }
    closed = make_contact(email="b@example.com", do_not_email=True, do_not_call=True)
    reach = messages.reach_of(make_user("crm_list_manager"), closed)
    assert reach["may_message"] is False
    assert reach["email_blocked_reason"].startswith("Do not email")
    assert reach["call_blocked_reason"].startswith("Do not call")
    app.config.update(CRM_SMS_BACKEND="none", CRM_MAIL_BACKEND="none")
    reach = messages.reach_of(sales, open_contact)
    assert reach["sms_enabled"] is False
    assert reach["email_blocked_reason"].startswith("Email is switched off")
