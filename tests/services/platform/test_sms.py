"""The SMS provider interface: the Twilio adapter against a local fake of Twilio's API (a real
HTTP server), the console backend, the limits, the segment count and the settings."""

from __future__ import annotations

import base64
import logging
import socket

import pytest

from crm import create_app
from crm.services.platform import sms
from crm.services.platform.sms import Sms, SmsNotSent, count_segments
from tests.services.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, fake_twilio

TO = "+447400123456"


@pytest.fixture
def twilio(app):
    with fake_twilio() as fake:
        app.config.update(fake.settings())
        yield fake


def test_twilio_gets_the_message_at_its_messages_url_with_basic_auth(twilio):
    receipt = sms.send(Sms(to=TO, body="Your order is ready: 2 × boxes. 🙂"))
    assert receipt.backend == "twilio"
    assert receipt.message_id == "SM" + "0" * 32 and receipt.status == "queued"
    [request] = twilio.received
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": TO, "From": SENDER, "Body": "Your order is ready: 2 × boxes. 🙂"}


def test_a_messaging_service_is_named_instead_of_a_sender_number(app, twilio):
    app.config.update(CRM_TWILIO_FROM="", CRM_TWILIO_MESSAGING_SERVICE_SID="MG123")
    sms.send(Sms(to=TO, body="Hello"))
    [request] = twilio.received
    assert request.form == {"To": TO, "MessagingServiceSid": "MG123", "Body": "Hello"}


def test_twilios_error_answer_becomes_a_readable_message(twilio):
    twilio.answer_with(400, {
        "code": 21211,
        "message": "Invalid 'To' Phone Number: +44740012XXXX",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    })  # fmt: skip
    with pytest.raises(SmsNotSent) as refused:
        sms.send(Sms(to=TO, body="Hello"))
    assert refused.value.message == (
        "The SMS could not be sent: Twilio refused it (HTTP 400): Invalid 'To' Phone Number: "
        "+44740012XXXX (error 21211, https://www.twilio.com/docs/errors/21211)."
    )
    assert AUTH_TOKEN not in refused.value.message


def test_refused_credentials_name_the_settings_to_check(twilio):
    twilio.answer_with(401, {"code": 20003, "message": "Authenticate", "status": 401})
    with pytest.raises(SmsNotSent) as refused:
        sms.send(Sms(to=TO, body="Hello"))
    assert "refused the account's credentials (check CRM_TWILIO_ACCOUNT_SID" in str(refused.value)
    assert "Authenticate (error 20003)" in str(refused.value)


def test_an_error_page_that_is_not_json_still_gives_the_status(twilio):
    twilio.answer_with(502, "<html>Bad gateway</html>")
    with pytest.raises(SmsNotSent, match=r"Twilio refused it \(HTTP 502\)\.$"):
        sms.send(Sms(to=TO, body="Hello"))


def test_an_accepted_answer_that_cannot_be_read_is_not_taken_for_sent(twilio):
    twilio.answer_with(201, "not json")
    with pytest.raises(SmsNotSent, match="may not have been sent"):
        sms.send(Sms(to=TO, body="Hello"))


def test_a_message_twilio_marks_failed_is_refused(twilio):
    twilio.answer_with(201, {"sid": "SM1", "status": "failed", "error_code": 30003,
                             "error_message": "Unreachable destination handset"})  # fmt: skip
    with pytest.raises(SmsNotSent) as refused:
        sms.send(Sms(to=TO, body="Hello"))
    assert str(refused.value) == (
        "The SMS could not be sent: Twilio answered: Unreachable destination handset (error 30003)."
    )


def test_a_provider_that_is_down_gives_a_readable_error(app):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with fake_twilio() as fake:
        app.config.update(fake.settings())
    app.config.update(CRM_TWILIO_API_URL=f"http://127.0.0.1:{port}")
    with pytest.raises(SmsNotSent) as refused:
        sms.send(Sms(to=TO, body="Hello"))
    assert str(refused.value) == (
        f"The SMS could not be sent: Twilio (127.0.0.1:{port}) could not be reached. "
        "Try again later."
    )


def test_a_provider_that_does_not_answer_in_time(app, twilio):
    app.config.update(CRM_SMS_TIMEOUT=0.3)
    twilio.delay = 1.5
    with pytest.raises(SmsNotSent, match="did not answer within 0.3 seconds"):
        sms.send(Sms(to=TO, body="Hello"))


def test_the_console_backend_logs_the_message(app, caplog):
    assert app.config["CRM_SMS_BACKEND"] == "console"  # the default
    caplog.set_level(logging.INFO, logger=app.logger.name)
    receipt = sms.send(Sms(to=TO, body="Hello from the console"))
    assert receipt.backend == "console" and receipt.message_id is None
    assert "SMS (console backend, not sent) to +447400123456:\nHello from the console" in (
        caplog.text
    )


def test_sms_switched_off_says_how_to_set_it_up(app):
    app.config.update(CRM_SMS_BACKEND="none")
    assert not sms.sends_sms()
    with pytest.raises(SmsNotSent, match="SMS is not configured .* CRM_SMS_BACKEND=twilio"):
        sms.send(Sms(to=TO, body="Hello"))


def test_twilio_without_its_credentials_says_what_is_missing(app):
    app.config.update(CRM_SMS_BACKEND="twilio", CRM_TWILIO_ACCOUNT_SID="AC1")
    with pytest.raises(SmsNotSent) as refused:
        sms.send(Sms(to=TO, body="Hello"))
    assert "CRM_TWILIO_AUTH_TOKEN, CRM_TWILIO_FROM (or CRM_TWILIO_MESSAGING_SERVICE_SID)" in str(
        refused.value
    )


@pytest.mark.parametrize(
    ("to", "body", "reason"),
    [
        ("07400 123456", "Hello", "not a phone number in international form"),
        ("+44 7400 123456", "Hello", "not a phone number in international form"),
        (TO, "   ", "The message is empty."),
        (TO, "x" * 1601, "too long: 1601 characters, at most 1600"),
    ],
)
def test_what_no_provider_would_take_is_refused_before_sending(twilio, to, body, reason):
    with pytest.raises(SmsNotSent, match=reason):
        sms.send(Sms(to=to, body=body))
    assert twilio.received == []


def test_1600_characters_are_sent(twilio):
    sms.send(Sms(to=TO, body="x" * 1600))
    assert len(twilio.received[0].form["Body"]) == 1600


@pytest.mark.parametrize(
    ("body", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("Café à Zürich", "GSM-7", 1),
        ("€" * 80, "GSM-7", 1),  # the extension table: two septets each
        ("€" * 81, "GSM-7", 2),
        ("ш" * 70, "UCS-2", 1),
        ("ш" * 71, "UCS-2", 2),
        ("😀" * 35, "UCS-2", 1),  # two UTF-16 units each
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_segments_are_counted_as_the_networks_do(body, encoding, segments):
    count = count_segments(body)
    assert (count.characters, count.encoding, count.segments) == (len(body), encoding, segments)


def test_the_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("CRM_SMS_BACKEND", "twilio")
    monkeypatch.setenv("CRM_TWILIO_ACCOUNT_SID", "AC9")
    monkeypatch.setenv("CRM_TWILIO_AUTH_TOKEN", "secret")
    monkeypatch.setenv("CRM_TWILIO_FROM", "+15005550006")
    monkeypatch.setenv("CRM_SMS_TIMEOUT", "2.5")
    config = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"}).config
    assert config["CRM_SMS_BACKEND"] == "twilio" and config["CRM_TWILIO_AUTH_TOKEN"] == "secret"
    assert config["CRM_SMS_TIMEOUT"] == 2.5
    assert config["CRM_TWILIO_API_URL"] == "https://api.twilio.com"


@pytest.mark.parametrize(
    ("settings", "refusal"),
    [
        ({"CRM_SMS_BACKEND": "carrier-pigeon"}, "CRM_SMS_BACKEND must be"),
        ({"CRM_SMS_BACKEND": "twilio"}, "CRM_SMS_BACKEND=twilio needs CRM_TWILIO_ACCOUNT_SID"),
    ],
)
def test_an_sms_setting_without_meaning_stops_the_start(tmp_path, monkeypatch, settings, refusal):
    for name in ("CRM_SMS_BACKEND", "CRM_TWILIO_ACCOUNT_SID", "CRM_TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=refusal):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", **settings})
