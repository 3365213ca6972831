"""SMS: one message at a time, through the provider the configuration names.

`console` (the default) writes each message to the app's log, for development; `twilio` sends
it through Twilio's Programmable Messaging API (CRM_TWILIO_*); `none` switches SMS off (the
contact's page then says how to set it up). A message the provider does not take raises
SmsNotSent with a reason fit to show. Numbers go out in E.164 (+447400123456)."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests
from flask import current_app

from crm.errors import DomainError

log = logging.getLogger(__name__)

# Twilio's limit for one message (it splits longer text into up to 10 segments itself).
MAX_SMS_CHARACTERS = 1600
E164 = re.compile(r"\+[1-9]\d{1,14}")

# GSM 03.38: the characters a 7-bit SMS can carry; those of the extension table take two.
# (The compose page hands both to crm.js, which counts as the server does.)
GSM_BASIC_TEXT = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED_TEXT = "^{}\\[~]|€\f"
_GSM_BASIC = frozenset(GSM_BASIC_TEXT)
_GSM_EXTENDED = frozenset(GSM_EXTENDED_TEXT)
_NOT_SHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

SETUP_HINT = (
    "To send SMS, set CRM_SMS_BACKEND=twilio, CRM_TWILIO_ACCOUNT_SID, CRM_TWILIO_AUTH_TOKEN "
    "and CRM_TWILIO_FROM (a number of the Twilio account, or CRM_TWILIO_MESSAGING_SERVICE_SID) "
    "in the server's environment, and restart it."
)


class SmsNotSent(DomainError):
    """The SMS provider refused the message or could not be reached."""


@dataclass(frozen=True)
class Sms:
    to: str  # E.164
    body: str


@dataclass(frozen=True)
class SmsReceipt:
    """What the provider answered: its id for the message and the message's status."""

    backend: str
    message_id: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class SegmentCount:
    """How a text travels: its length, the encoding it needs and the SMS it takes."""

    characters: int
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int


def count_segments(body: str) -> SegmentCount:
    """Segments of `body`: 160 GSM-7 characters in one SMS or 153 per part of a longer one;
    any other character makes the whole text UCS-2, 70 (or 67 per part) UTF-16 units."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in body)
        encoding, single, part = "GSM-7", 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        encoding, single, part = "UCS-2", 70, 67
    segments = 0 if units == 0 else 1 if units <= single else math.ceil(units / part)
    return SegmentCount(characters=len(body), encoding=encoding, segments=segments)


class SmsBackend(Protocol):
    name: str

    def send(self, sms: Sms) -> SmsReceipt:
        """Hand `sms` to the provider; SmsNotSent when it does not take it."""


class ConsoleSms:
    """Development: the message goes to the log, nowhere else."""

    name = "console"

    def send(self, sms: Sms) -> SmsReceipt:
        current_app.logger.info("SMS (console backend, not sent) to %s:\n%s", sms.to, sms.body)
        return SmsReceipt(backend=self.name, status="logged")


class TwilioSms:
    """Twilio's Programmable Messaging API: POST {api_url}/2010-04-01/Accounts/{sid}/
    Messages.json with To, Body and From (or MessagingServiceSid), HTTP basic auth."""

    name = "twilio"

    def __init__(self, *, api_url: str, account_sid: str, auth_token: str, sender: str = "",
                 messaging_service_sid: str = "", timeout: float = 10.0):  # fmt: skip
        self.api_url = api_url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid
        self.timeout = timeout

    @property
    def messages_url(self) -> str:
        account = quote(self.account_sid, safe="")
        return f"{self.api_url}/2010-04-01/Accounts/{account}/Messages.json"

    def send(self, sms: Sms) -> SmsReceipt:
        form = {"To": sms.to, "Body": sms.body}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.sender
        try:
            response = requests.post(
                self.messages_url,
                data=form,
                auth=(self.account_sid, self.auth_token),
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise SmsNotSent(
                f"The SMS could not be sent: Twilio did not answer within {self.timeout:g} "
                "seconds. Try again later."
            ) from None
        except requests.RequestException as exc:
            log.warning("Twilio could not be reached at %s: %s", self.api_url, exc)
            host = urlsplit(self.api_url).netloc or self.api_url
            raise SmsNotSent(
                f"The SMS could not be sent: Twilio ({host}) could not be reached. Try again later."
            ) from None
        answer = _json_of(response)
        if not response.ok:
            raise SmsNotSent(f"The SMS could not be sent: {_twilio_refusal(response, answer)}")
        if answer is None:
            raise SmsNotSent(
                "The SMS may not have been sent: Twilio's answer could not be read "
                f"(HTTP {response.status_code})."
            )
        status = _shown(answer.get("status"))
        if status in ("failed", "undelivered") or answer.get("error_code"):
            reason = _shown(answer.get("error_message")) or status or "refused"
            code = _shown(answer.get("error_code"))
            raise SmsNotSent(
                f"The SMS could not be sent: Twilio answered: {reason}"
                + (f" (error {code})." if code else ".")
            )
        return SmsReceipt(backend=self.name, message_id=_shown(answer.get("sid")), status=status)


def _json_of(response: requests.Response) -> dict[str, Any] | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _shown(value: Any, limit: int = 300) -> str | None:
    """A value of the provider's answer as one line of text for a message (or None)."""
    if value is None or value == "":
        return None
    text = _NOT_SHOWN.sub(" ", str(value)).strip()
    return text[:limit] + ("…" if len(text) > limit else "")


def _twilio_refusal(response: requests.Response, answer: dict[str, Any] | None) -> str:
    """Twilio's error ({"code": 21211, "message": "...", "more_info": "..."}) as a sentence."""
    if response.status_code in (401, 403):
        lead = "Twilio refused the account's credentials (check CRM_TWILIO_ACCOUNT_SID and "
        lead += "CRM_TWILIO_AUTH_TOKEN)"
    else:
        lead = f"Twilio refused it (HTTP {response.status_code})"
    if answer is None:
        return f"{lead}."
    message, code = _shown(answer.get("message")), _shown(answer.get("code"))
    more = _shown(answer.get("more_info"))
    text = f"{lead}: {message}" if message else lead
    if code:
        text += f" (error {code}" + (f", {more})" if more else ")")
    return text + "."


def twilio_settings_missing(config: Any) -> str:
    """The names of the Twilio settings still empty ("" when none is)."""
    missing = [
        name
        for name in ("CRM_TWILIO_API_URL", "CRM_TWILIO_ACCOUNT_SID", "CRM_TWILIO_AUTH_TOKEN")
        if not config.get(name)
    ]
    if not config.get("CRM_TWILIO_FROM") and not config.get("CRM_TWILIO_MESSAGING_SERVICE_SID"):
        missing.append("CRM_TWILIO_FROM (or CRM_TWILIO_MESSAGING_SERVICE_SID)")
    return ", ".join(missing)


def sms_backend_name() -> str:
    return current_app.config.get("CRM_SMS_BACKEND", "console")


def sends_sms() -> bool:
    """Whether SMS can be written at all (any backend but `none`)."""
    return sms_backend_name() != "none"


def configured_backend() -> SmsBackend | None:
    """The backend the configuration names; None when SMS is switched off."""
    config = current_app.config
    name = sms_backend_name()
    if name == "none":
        return None
    if name == "console":
        return ConsoleSms()
    if name == "twilio":
        if missing := twilio_settings_missing(config):
            raise SmsNotSent(f"SMS is not set up completely: {missing} is missing. {SETUP_HINT}")
        return TwilioSms(
            api_url=config["CRM_TWILIO_API_URL"],
            account_sid=config["CRM_TWILIO_ACCOUNT_SID"],
            auth_token=config["CRM_TWILIO_AUTH_TOKEN"],
            sender=config.get("CRM_TWILIO_FROM", ""),
            messaging_service_sid=config.get("CRM_TWILIO_MESSAGING_SERVICE_SID", ""),
            timeout=float(config.get("CRM_SMS_TIMEOUT", 10)),
        )
    raise SmsNotSent(f"Unknown SMS backend {name!r}. {SETUP_HINT}")


def check_sms(sms: Sms) -> None:
    """Refuse what no provider would take: a number not in E.164, an empty or long text."""
    if not E164.fullmatch(sms.to):
        raise SmsNotSent(f"{sms.to!r} is not a phone number in international form (+4420...).")
    if not sms.body.strip():
        raise SmsNotSent("The message is empty.")
    if len(sms.body) > MAX_SMS_CHARACTERS:
        raise SmsNotSent(
            f"The message is too long: {len(sms.body)} characters, at most {MAX_SMS_CHARACTERS}."
        )


def send(sms: Sms) -> SmsReceipt:
    """Send `sms` with the configured backend; SmsNotSent when SMS is off or it fails."""
    check_sms(sms)
    backend = configured_backend()
    if backend is None:
        raise SmsNotSent(f"SMS is not configured on this server. {SETUP_HINT}")
    return backend.send(sms)
