"""Marketing > Automations: birthday greetings, the morning task emails and appointment
reminders, each switched on or off with its settings, on one page; the greeting previewed
for a contact of its audience. Thin over crm.services.automation."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.pages import PermissionPage
from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.models import AutomationKind, Segment
from crm.models.base import utcnow
from crm.services.automation import greetings, last_run, settings
from crm.services.marketing import templating
from crm.services.platform import local_time

# The page's sections, by the kind each one sets up (the forms post their kind by this name).
SECTIONS = {
    "greetings": AutomationKind.BIRTHDAY_GREETING,
    "digest": AutomationKind.TASK_DIGEST,
    "reminders": AutomationKind.APPOINTMENT_REMINDER,
}
SAVED = {
    AutomationKind.BIRTHDAY_GREETING: "Birthday greetings",
    AutomationKind.TASK_DIGEST: "Morning task emails",
    AutomationKind.APPOINTMENT_REMINDER: "Appointment reminders",
}
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S)


def _shown_values(row) -> dict[str, str]:
    """An automation's settings as its form shows them."""
    return {
        "enabled": "y" if row.enabled else "",
        "subject": row.subject or "",
        "body_text": row.body_text or "",
        "send_time": settings.time_text(row.send_time),
        "segment_id": str(row.segment_id or ""),
        "lead_minutes": str(row.lead_minutes or ""),
    }


def _preview_body(rendered: templating.Rendered) -> Markup:
    """The HTML part's body, to show inside the page (sanitised again: it is shown here)."""
    match = _BODY.search(rendered.html)
    return Markup(templating.sanitise_html(match.group(1) if match else ""))  # noqa: S704


class AutomationView(PermissionPage):
    permission = "automation.manage"

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("name", "Automations")
        kwargs.setdefault("category", "Marketing")
        super().__init__(endpoint="automations", url="automations", **kwargs)

    @expose("/", methods=("GET", "POST"))
    def index(self):
        automations = settings.all_automations()
        values = {kind: _shown_values(row) for kind, row in automations.items()}
        errors: dict[AutomationKind, dict[str, list[str]]] = {}
        preview = None
        status = 200
        if request.method == "POST":
            section = request.form.get("section", "")
            kind = SECTIONS.get(section)
            if kind is None:
                abort(400)
            values[kind] = {name: request.form.get(name, "") for name in values[kind]}
            if request.form.get("action") == "preview" and kind == settings.GREETING:
                preview, problems = self._preview(values[kind])
                if problems:
                    errors[kind], status = problems, 422
            else:
                with commit_or_explain(quiet=True, conflict_message=CHANGED_MEANWHILE) as outcome:
                    row = settings.save_automation(current_user, kind, request.form)
                if outcome:
                    state = "on" if row.enabled else "off"
                    flash(f"{SAVED[kind]} saved: {state}.", "success")
                    return redirect(url_for(".index") + f"#{section}")
                errors[kind], status = outcome.errors, 422
                if not outcome.errors:
                    flash(outcome.message, "error")
        now = utcnow()
        ran = last_run.scheduler_last_ran()
        return (
            self.render(
                "admin/automations.html",
                kinds=SECTIONS,
                automations=automations,
                values=values,
                errors=errors,
                preview=preview,
                segments=db.session.scalars(select(Segment).order_by(Segment.name)).all(),
                fields=templating.FIELDS,
                fallback=templating.FALLBACK_EXAMPLE,
                last_greeting=last_run.last_greeting(),
                last_work=last_run.last_work(),
                scheduler_ran=ran,
                scheduler_late=last_run.scheduler_is_late(now, ran),
                office_zone=local_time.zone_name(),
                local_text=local_time.local_text,
            ),
            status,
        )

    def _preview(self, posted: dict[str, str]):
        """(what the greeting in the form looks like, None) or (None, errors by field)."""
        try:
            draft = settings.draft(current_user, settings.GREETING, {**posted, "enabled": "y"})
            rendered, who = greetings.preview(current_user, draft)
        except ValidationFailed as exc:
            return None, exc.errors
        except DomainError as exc:
            return None, {"body_text": [exc.message]}
        finally:
            db.session.rollback()  # a preview changes nothing
        return {"who": who, "subject": rendered.subject, "body": _preview_body(rendered)}, None
