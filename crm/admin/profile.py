"""My profile (the user menu): change one's own password, see where one is signed in, end a
session there or everywhere. Every signed-in user has it, whatever their roles."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from crm.admin.committing import CHANGED_MEANWHILE, commit_or_explain
from crm.admin.pages import PermissionPage
from crm.auth import session_guard
from crm.auth.forms import ChangePasswordForm, show_errors
from crm.extensions import db
from crm.models import ROLE_NAMES
from crm.services.automation import settings as automations
from crm.services.platform import sessions
from crm.services.platform.local_time import local_text
from crm.services.platform.users import change_own_password

# (pattern, name) looked for in a browser's User-Agent, the first match wins: Edge and Opera
# also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    (r"Edg/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrom(e|ium)/|CriOS/", "Chrome"),
    (r"Safari/", "Safari"),
)
_SYSTEMS = (
    (r"iPhone", "iPhone"),
    (r"iPad", "iPad"),
    (r"Android", "Android"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"CrOS", "ChromeOS"),
    (r"Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """'Firefox on Windows', as a person names the browser they used."""
    browser = next((name for rx, name in _BROWSERS if re.search(rx, user_agent)), None)
    system = next((name for rx, name in _SYSTEMS if re.search(rx, user_agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Another program"


class ProfileView(PermissionPage):
    """Reached from the user menu; not in the main menu."""

    permission = "profile.edit"

    def __init__(self, **kwargs: Any):
        super().__init__(name="My profile", endpoint="profile", url="profile", **kwargs)

    def is_visible(self) -> bool:
        return False

    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = ChangePasswordForm()
        status = 200
        if form.validate_on_submit():
            with commit_or_explain(
                form, quiet=True, conflict_message=CHANGED_MEANWHILE, attach=show_errors
            ) as outcome:
                change_own_password(
                    current_user,
                    form.current_password.data,
                    form.new_password.data,
                    form.again.data,
                    keep_session=session_guard.current_token(),
                    keep_remember=session_guard.current_remember_cookie(),
                )
            if outcome:
                flash("Your password is changed. You were signed out everywhere else.", "success")
                return redirect(url_for(".index"))
            if not outcome.errors:
                flash(outcome.message, "error")
        if request.method == "POST":
            status = 422
        current = session_guard.current_token()
        here = sessions.find(current) if current else None
        rows = [
            {
                "id": found.id,
                "device": device_label(found.user_agent),
                "address": found.address or "unknown",
                "started": local_text(found.created_at),
                "seen": local_text(found.last_seen_at),
                "remembered": found.remembered,
                "here": here is not None and found.id == here.id,
            }
            for found in sessions.live_sessions(current_user)
        ]
        roles = [ROLE_NAMES[name].split(":")[0] for name in sorted(current_user.role_names)]
        minutes = int(sessions.idle_limit().total_seconds() // 60)
        idle = f"{minutes // 60} hours" if minutes % 60 == 0 else f"{minutes} minutes"
        return (
            self.render(
                "admin/profile.html",
                form=form,
                rows=rows,
                roles=roles,
                idle=idle,
                remember_days=sessions.remember_period().days,
                digest=automations.current(automations.DIGEST),
                time_text=automations.time_text,
            ),
            status,
        )

    @expose("/task-digest/", methods=("POST",))
    def task_digest(self):
        """Switch my morning task email on or off."""
        wanted = request.form.get("task_digest") == "y"
        with commit_or_explain(conflict_message=CHANGED_MEANWHILE) as outcome:
            automations.set_task_digest(current_user, wanted)
        if outcome:
            flash(
                "You will get your tasks by email each morning."
                if wanted
                else "You will no longer get your tasks by email each morning.",
                "success",
            )
        return redirect(url_for(".index") + "#task-digest")

    @expose("/sessions/end/", methods=("POST",))
    def end_session(self):
        """End one other session of mine (a browser left signed in elsewhere)."""
        if sessions.end_by_id(current_user, request.form.get("id", type=int) or 0):
            db.session.commit()
            flash("That session is signed out.", "success")
        else:
            flash("That session had already ended.", "info")
        return redirect(url_for(".index"))

    @expose("/sign-out-everywhere/", methods=("POST",))
    def sign_out_everywhere(self):
        ended = session_guard.sign_out_everywhere(current_user)
        db.session.commit()
        flash(
            f"You were signed out everywhere ({ended} session{'s' if ended != 1 else ''}).",
            "info",
        )
        return redirect(url_for("auth.login"))
