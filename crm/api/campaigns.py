"""Email campaigns through the JSON API, for integrations (a website's newsletter, an online
store's mail): list and read them with their counts, write one, and send it now or at a time.
The rules are the campaign pages' (crm.services.marketing.campaigns and .sending): the same
checks, the same audience resolved for the token's user, the same job queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, g, jsonify, request, url_for
from sqlalchemy.orm import selectinload

from crm.api.blueprint import bp, require
from crm.api.paging import paged
from crm.api.responses import answer, committed, error
from crm.errors import NotFound, ValidationFailed
from crm.models import Campaign, CampaignStatus
from crm.services.marketing import campaigns, sending
from crm.services.platform import audit
from crm.services.platform.local_time import as_utc, from_local

TEXT_FIELDS = frozenset(
    {"name", "subject", "body_text", "body_html", "sender_name", "sender_email", "reply_to"}
)
ID_FIELDS = frozenset(
    {
        "segment_ids",
        "marketing_list_ids",
        "excluded_segment_ids",
        "excluded_marketing_list_ids",
        "contact_ids",
    }
)
SEND_AT_EXAMPLE = "2026-12-01T09:00:00+01:00"


def _moment(value: datetime | None) -> str | None:
    moment = as_utc(value)
    return moment.isoformat() if moment is not None else None


def status_text(campaign: Campaign) -> str:
    """The status in words, as the campaign page shows it: "Scheduled for 1 Jan 2030 09:00",
    "Sent, 8 Dec 2026 14:30", "Sending, waiting: the mail server could not be reached..."."""
    label, detail = campaign.status.label, sending.status_detail(campaign)
    if not detail:
        return label
    return f"{label} {detail}" if detail.startswith("for ") else f"{label}, {detail}"


def campaign_json(campaign: Campaign, full: bool = False) -> dict[str, Any]:
    """A campaign as the API shows it; `full` adds its message, chosen contacts and counts."""
    body: dict[str, Any] = {
        "id": campaign.id,
        "url": url_for("api.get_campaign", campaign_id=campaign.id, _external=True),
        "name": campaign.name,
        "kind": campaign.kind.value,
        "status": campaign.status.value,
        "status_text": status_text(campaign),
        "subject": campaign.subject,
        "sender_name": campaign.sender_name,
        "sender_email": campaign.sender_email,
        "reply_to": campaign.reply_to,
        **campaigns.audience_of(campaign),
        "send_at": _moment(campaign.send_at),
        "started_at": _moment(campaign.started_at),
        "finished_at": _moment(campaign.finished_at),
        "created_at": _moment(campaign.created_at),
        "last_error": campaign.last_error,
    }
    if full:
        body["body_text"] = campaign.body_text
        body["body_html"] = campaign.body_html
        body["contacts"] = campaigns.chosen_contact_count(campaign)
        body["counts"] = campaigns.counts(campaign)
    return body


@bp.get("/campaigns")
def list_campaigns():
    """The campaigns, newest first; `?status=draft|scheduled|sending|paused|sent|cancelled`."""
    require("campaign.view", "campaigns:read")
    query = campaigns.visible_campaigns(g.api_user).options(selectinload(Campaign.audience))
    status = request.args.get("status")
    if status:
        if status not in CampaignStatus._value2member_map_:
            known = ", ".join(s.value for s in CampaignStatus)
            return error(400, f"status is one of: {known}.")
        query = query.where(Campaign.status == CampaignStatus(status))
    return paged(query.order_by(Campaign.created_at.desc(), Campaign.id.desc()), campaign_json)


def _found(campaign_id: int) -> Campaign | None:
    try:
        return campaigns.get_campaign(g.api_user, campaign_id)
    except NotFound:
        return None


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int):
    """One campaign: its `status` and `counts` (queued, sent, failed, bounced, unsubscribed,
    excluded and `excluded_by_reason`)."""
    require("campaign.view", "campaigns:read")
    campaign = _found(campaign_id)
    if campaign is None:
        return error(404, "No such campaign.")
    return jsonify(campaign_json(campaign, full=True))


def _campaign_data(payload: Any) -> dict[str, Any]:
    """The posted campaign, checked for shape (the campaign rules check the values)."""
    if not isinstance(payload, dict):
        raise ValidationFailed({"body": ["Send a JSON object."]})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(payload) - TEXT_FIELDS - ID_FIELDS):
        errors[key] = ["Not a field you can set."]
    for key in TEXT_FIELDS & set(payload):
        if payload[key] is not None and not isinstance(payload[key], str):
            errors[key] = ["Text is expected."]
    for key in ID_FIELDS & set(payload):
        ids = payload[key]
        if ids is not None and not (
            isinstance(ids, list)
            and all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            errors[key] = ["A list of ids is expected, e.g. [3, 7]."]
    if errors:
        raise ValidationFailed(errors)
    return dict(payload)


@bp.post("/campaigns")
def post_campaign():
    """Write a campaign (a draft): 201 with it; 422 with the errors by field."""
    require("campaign.edit", "campaigns:write")
    payload = request.get_json(silent=True)
    campaign = committed(
        lambda: campaigns.save_campaign(g.api_user, None, _campaign_data(payload)),
        "The campaign was not saved.",
        what="campaign",
    )
    if isinstance(campaign, Response):
        return campaign
    return answer(
        campaign_json(campaign, full=True), url_for("api.get_campaign", campaign_id=campaign.id)
    )


def _send_at(value: Any) -> datetime | None:
    """`send_at` as ISO-8601 (without an offset: office time), or None to send now."""
    if value is None or value == "":
        return None
    message = f"A time as ISO-8601 is expected, e.g. {SEND_AT_EXAMPLE}."
    if not isinstance(value, str):
        raise ValidationFailed({"send_at": [message]})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed({"send_at": [message]}) from None
    return from_local(moment)


@bp.post("/campaigns/<int:campaign_id>/send")
def send_campaign(campaign_id: int):
    """Send the campaign now, or at `send_at`: 202 with it (the mails go out through the job
    queue); 422 with the errors by field; 409 when it cannot be sent (sent already, an empty
    audience, everybody excluded, no mail server)."""
    require("campaign.send", "campaigns:write")
    campaign = _found(campaign_id)
    if campaign is None:
        return error(404, "No such campaign.")
    payload = request.get_json(silent=True)
    if payload is None and request.get_data().strip():
        payload = "not JSON"

    def send() -> Campaign:
        data = {} if payload is None else payload
        if not isinstance(data, dict):
            raise ValidationFailed({"body": ["Send a JSON object, or nothing."]})
        unknown = sorted(set(data) - {"send_at"})
        if unknown:
            raise ValidationFailed({key: ["Not a field you can set."] for key in unknown})
        return sending.send_campaign(g.api_user, campaign, _send_at(data.get("send_at")))

    sent = committed(send, "The campaign was not sent.", conflict=409, what="campaign")
    if isinstance(sent, Response):
        return sent
    with audit.acting_as(g.api_user):
        problem = sending.commit_and_queue(sent)
    body = campaign_json(sent, full=True)
    if problem:
        body["warning"] = f"{problem} It is tried again within a minute."
    return answer(body, url_for("api.get_campaign", campaign_id=sent.id), 202)
