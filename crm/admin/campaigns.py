"""Marketing > Campaigns: the list (a ModelView), the compose page, and the campaign's page with
its preview, test send, send now or schedule, pause, resume and cancel, and its progress. The
work is crm.services.marketing's; these pages only carry forms to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, request
from flask_admin import expose
from flask_admin.form import Select2Widget
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import SelectMultipleField, StringField, TextAreaField

from crm.admin.base import CrmModelView
from crm.admin.committing import CHANGED_MEANWHILE, NOTHING_SAVED, commit_or_explain
from crm.admin.fields import as_choices
from crm.admin.forms import put_errors
from crm.auth.permissions import can
from crm.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    MarketingList,
    Segment,
)
from crm.services.marketing import campaigns, sending, templating
from crm.services.platform.local_time import from_local, to_local, zone_name

FORM_EXPIRED = "The form expired or was not sent from this page: reload it and try again."


class ComposeForm(FlaskForm):
    name = StringField("Campaign name", description="For you: recipients do not see it.")
    segment_ids = SelectMultipleField("Segments", coerce=str, widget=Select2Widget(multiple=True))
    marketing_list_ids = SelectMultipleField(
        "Marketing lists", coerce=str, widget=Select2Widget(multiple=True)
    )
    excluded_segment_ids = SelectMultipleField(
        "Leave out segments", coerce=str, widget=Select2Widget(multiple=True)
    )
    excluded_marketing_list_ids = SelectMultipleField(
        "Leave out marketing lists", coerce=str, widget=Select2Widget(multiple=True)
    )
    sender_name = StringField("Sender name")
    sender_email = StringField("Sender address")
    reply_to = StringField("Replies go to", description="Leave empty: to the sender address.")
    subject = StringField("Subject")
    body_text = TextAreaField("Message")

    def fill_choices(self) -> None:
        segment_choices = as_choices(
            (str(s.id), s.name) for s in db_scalars(select(Segment).order_by(Segment.name))
        )
        list_choices = as_choices(
            (str(m.id), m.name)
            for m in db_scalars(select(MarketingList).order_by(MarketingList.name))
        )
        self.segment_ids.choices = self.excluded_segment_ids.choices = segment_choices
        self.marketing_list_ids.choices = list_choices
        self.excluded_marketing_list_ids.choices = list_choices

    def data_for_service(self) -> dict[str, Any]:
        return {
            "name": self.name.data,
            "subject": self.subject.data,
            "body_text": self.body_text.data,
            "sender_name": self.sender_name.data,
            "sender_email": self.sender_email.data,
            "reply_to": self.reply_to.data,
            "segment_ids": self.segment_ids.data,
            "marketing_list_ids": self.marketing_list_ids.data,
            "excluded_segment_ids": self.excluded_segment_ids.data,
            "excluded_marketing_list_ids": self.excluded_marketing_list_ids.data,
        }


def db_scalars(query):
    from crm.extensions import db

    return db.session.scalars(query)


def _status(view: Any, _context: Any, model: Campaign, _name: str) -> Markup:
    colour = {
        CampaignStatus.DRAFT: "secondary", CampaignStatus.SCHEDULED: "info",
        CampaignStatus.SENDING: "primary", CampaignStatus.PAUSED: "warning",
        CampaignStatus.SENT: "success", CampaignStatus.CANCELLED: "dark",
    }[model.status]  # fmt: skip
    return Markup('<span class="badge badge-{}">{}</span> <span class="small">{}</span>').format(
        colour, model.status.label, sending.status_detail(model)
    )


def _name(view: Any, _context: Any, model: Campaign, _name: str) -> Markup:
    return Markup('<a href="{}">{}</a>').format(
        view.get_url(".details_view", id=model.id), model.name
    )


def _results(view: Any, _context: Any, model: Campaign, _name: str) -> str:
    sent, to_send = getattr(model, "_counts", (0, 0))
    return f"{sent:,} sent of {to_send:,}" if to_send else ""


class CampaignView(CrmModelView):
    """The campaigns; a campaign opens on its own page (details), written on the compose page."""

    permission_prefix = "campaign"
    column_list = ("name", "status", "results", "created_by", "updated_at")
    column_labels = {"created_by": "Written by", "updated_at": "Changed", "results": "Results"}
    column_formatters = {"name": _name, "status": _status, "results": _results}
    column_sortable_list = ("name", "updated_at")
    column_default_sort = [("updated_at", True)]
    column_filters = ("status",)
    column_searchable_list = ("name",)
    can_view_details = True
    # Campaigns are written on the compose page; the scaffolded form is never shown.
    form_columns = ("name",)

    def __init__(self, **kwargs: Any):
        super().__init__(
            Campaign, name="Campaigns", endpoint="campaign", url="campaigns",
            category="Marketing", **kwargs,
        )  # fmt: skip

    def _allowed(self, verb: str) -> bool:
        return can(current_user, {
            "view": "campaign.view", "create": "campaign.edit", "edit": "campaign.edit",
            "delete": "campaign.edit",
        }[verb])  # fmt: skip

    def get_query(self):
        return super().get_query().options(selectinload(Campaign.created_by))

    def get_list(self, *args: Any, **kwargs: Any):
        count, rows = super().get_list(*args, **kwargs)
        counted = campaigns.sent_counts([row.id for row in rows])  # one query per page
        for row in rows:
            row._counts = counted.get(row.id, (0, 0))
        return count, rows

    def delete_record(self, model: Campaign) -> None:
        campaigns.delete_campaign(current_user, model)

    # ---- compose -----------------------------------------------------------------------
    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        return self._compose(None)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        campaign = self.get_one(request.args.get("id"))
        if campaign.status not in campaigns.EDITABLE:
            flash(campaigns.STARTED, "error")
            return redirect(self.get_url(".details_view", id=campaign.id))
        return self._compose(campaign)

    def _compose(self, campaign: Campaign | None):
        form = ComposeForm()
        form.fill_choices()
        failure = None
        if request.method == "GET":
            if campaign is not None:
                form.process(data=_form_data(campaign))
            else:
                config = current_app.config
                form.sender_name.data = config.get("CRM_NAME", "Contacts CRM")
                form.sender_email.data = config["CRM_MAIL_FROM"]
                wanted = request.args.get("segment")
                if wanted:
                    form.segment_ids.data = [wanted]
                wanted_list = request.args.get("list")
                if wanted_list:
                    form.marketing_list_ids.data = [wanted_list]
        elif not form.validate_on_submit():
            failure = FORM_EXPIRED
        else:
            with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
                saved = campaigns.save_campaign(current_user, campaign, form.data_for_service())
            if outcome:
                flash(f"{saved.name}: saved.", "success")
                return redirect(self.get_url(".details_view", id=saved.id) + "#preview")
            failure = (
                (put_errors(form, outcome.errors) or NOTHING_SAVED)
                if outcome.errors
                else outcome.message
            )
        chosen = campaigns.chosen_contact_count(campaign) if campaign is not None else 0
        return self.render(
            "admin/campaign_compose.html",
            form=form,
            campaign=campaign,
            failure=failure,
            chosen=chosen,
            merge_fields=templating.FIELDS,
            fallback_example=templating.FALLBACK_EXAMPLE,
            senders=campaigns.allowed_senders(),
            cancel_url=(
                self.get_url(".details_view", id=campaign.id)
                if campaign is not None else self.get_url(".index_view")
            ),
        )  # fmt: skip

    # ---- the campaign's page -----------------------------------------------------------
    @expose("/details/")
    def details_view(self):
        campaign = self.get_one(request.args.get("id"))
        preview_as = (request.args.get("preview_as") or "").strip()
        contact, note = sending.preview_contact(current_user, preview_as)
        try:
            shown, _ = sending.preview(current_user, campaign, contact.id if contact else None)
            preview_error = None
        except (templating.TemplateProblem, Exception) as exc:  # noqa: BLE001 - shown as text
            shown, preview_error = None, str(exc)
        counted = campaigns.counts(campaign)
        shown_recipients = request.args.get("recipients", "")
        if shown_recipients not in campaigns.RECIPIENT_FILTERS:
            shown_recipients = ""
        page = max(0, request.args.get("page", 0, type=int) or 0)
        recipients, more = campaigns.recipients_page(current_user, campaign, shown_recipients, page)
        return self.render(
            "admin/campaign_details.html",
            recipients=recipients,
            recipients_shown=shown_recipients,
            recipients_page=page,
            recipients_more=more,
            recipient_words=campaigns.recipient_words,
            campaign=campaign,
            status_detail=sending.status_detail(campaign),
            counts=counted,
            reasons=[
                (campaigns.reason_label(code), n)
                for code, n in counted["excluded_by_reason"].items()
            ],
            progress=_progress(counted),
            audience=_audience_words(campaign),
            shown=shown,
            preview_error=preview_error,
            preview_as=preview_as,
            preview_contact=contact,
            preview_note=note,
            may_edit=can(current_user, "campaign.edit") and campaign.status in campaigns.EDITABLE,
            may_send=can(current_user, "campaign.send"),
            may_test=can(current_user, "campaign.edit"),
            my_email=getattr(current_user, "email", ""),
            zone=zone_name(),
            scheduled_local=(
                to_local(campaign.send_at).strftime("%Y-%m-%dT%H:%M") if campaign.send_at else ""
            ),
            when=sending.moment_text,
            mail_backend=current_app.config.get("CRM_MAIL_BACKEND", "console"),
            Status=CampaignStatus,
        )

    @expose("/progress/")
    def progress_view(self):
        """The campaign's counts as JSON, for its page to follow the sending."""
        campaign = self.get_one(request.args.get("id"))
        counted = campaigns.counts(campaign)
        return jsonify(
            status=campaign.status.value,
            status_detail=sending.status_detail(campaign),
            last_error=campaign.last_error,
            progress=_progress(counted),
            counts={
                k: counted[k]
                for k in ("queued", "sent", "failed", "bounced", "unsubscribed", "excluded")
            },  # fmt: skip
        )

    @expose("/act/", methods=("POST",))
    def act_view(self):
        """The campaign page's buttons: test, send, schedule, unschedule, pause, resume,
        cancel. Each answers with the campaign's page and a message."""
        campaign = self.get_one(request.args.get("id"))
        form = FlaskForm()
        back = self.get_url(".details_view", id=campaign.id)
        if not form.validate_on_submit():
            flash(FORM_EXPIRED, "error")
            return redirect(back)
        what = request.form.get("do", "")
        if what not in {"test", "send", "schedule", "unschedule", "pause", "resume", "cancel"}:
            abort(400)
        message = ""
        with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
            if what == "test":
                preview_as, _ = sending.preview_contact(
                    current_user, request.form.get("preview_as", "")
                )
                address = sending.test_send(
                    current_user, campaign, preview_as.id if preview_as else None
                )
                message = f"A test was sent to {address}."
            elif what == "send":
                sending.send_campaign(current_user, campaign)
                message = "Sending has started."
            elif what == "schedule":
                moment = _moment(request.form.get("send_at", ""))
                sending.send_campaign(current_user, campaign, moment)
                message = f"Scheduled {sending.status_detail(campaign)}."
            elif what == "unschedule":
                sending.unschedule(current_user, campaign)
                message = "Unscheduled: the campaign is a draft again."
            elif what == "pause":
                sending.pause(current_user, campaign)
                message = "Paused: no more mail goes out until you resume."
            elif what == "resume":
                sending.resume(current_user, campaign)
                message = "Resumed."
            else:
                left = sending.cancel(current_user, campaign)
                message = f"Cancelled: {left:,} recipient(s) will not get it."
        if not outcome:
            flash(outcome.message, "error")
            return redirect(back)
        trouble = sending.commit_and_queue(campaign) if what in ("send", "resume") else None
        flash(message, "success")
        if trouble:
            flash(trouble, "warning")
        return redirect(back)


def _moment(text: str) -> datetime:
    from crm.errors import ValidationFailed

    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed({"send_at": ["Choose a date and a time."]}) from None
    moment = from_local(naive.replace(tzinfo=None))
    assert moment is not None
    return moment


def _form_data(campaign: Campaign) -> dict[str, Any]:
    groups = campaigns.audience_of(campaign)
    return {
        "name": campaign.name,
        "subject": campaign.subject,
        "body_text": campaign.body_text,
        "sender_name": campaign.sender_name,
        "sender_email": campaign.sender_email,
        "reply_to": campaign.reply_to or "",
        **{field: [str(i) for i in ids] for field, ids in groups.items()},
    }


def _progress(counted: dict[str, Any]) -> int:
    to_send = counted["to_send"]
    if not to_send:
        return 0
    return int(100 * (counted["sent"] + counted["failed"]) / to_send)


def _audience_words(campaign: Campaign) -> list[tuple[str, str]]:
    included, excluded = [], []
    for group in campaign.audience:
        name = str(group.segment or group.marketing_list or "")
        kind = "segment" if group.segment_id is not None else "marketing list"
        (excluded if group.excluded else included).append(f"{name} ({kind})")
    chosen = campaigns.chosen_contact_count(campaign)
    if chosen:
        included.append(f"{chosen:,} chosen contact{'s' if chosen != 1 else ''}")
    lines = [("Audience", ", ".join(included) or "nobody yet")]
    if excluded:
        lines.append(("Leaving out", ", ".join(excluded)))
    if campaign.kind == CampaignKind.ONE_OFF:
        lines.append(("Kind", campaign.kind.label))
    return lines
