"""The browser's side of server-side sessions (crm.services.platform.sessions): the session cookie
carries a random token, and a request is signed in only while the token's row says so.

Before each request the token is checked (one indexed query, which also loads the user);
without a live session, a "keep me signed in" cookie may start a new one. Flask-Login keeps
`current_user`, `login_required` and its session protection; its own remember cookie (the user
id and an HMAC, valid for a year) is never set and, when a browser still sends one, refused
and deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from flask_login import login_user, logout_user

from crm.extensions import db, login_manager
from crm.models import User, UserSession
from crm.services.platform import sessions

SESSION_KEY = "crm_sid"
REMEMBER_COOKIE = "crm_remember"
LEGACY_REMEMBER_COOKIE = "remember_token"  # Flask-Login's, from before server sessions
_UNCHECKED = object()


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load_user)
    app.before_request(_resume)
    app.after_request(_write_remember_cookie)


def _static_request() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def _load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of this browser's live session, else nobody."""
    found = g.get("crm_session", _UNCHECKED)
    if found is _UNCHECKED:  # a request that skipped `_resume` (a static file)
        found = sessions.find(session.get(SESSION_KEY))
        g.crm_session = found
    if not isinstance(found, UserSession) or str(found.user_id) != str(user_id):
        return None
    return found.user


def _resume() -> None:
    """Check this browser's session; without one, try its remember cookie."""
    if _static_request():
        return
    token = session.get(SESSION_KEY)
    found = sessions.find(token) if token else None
    if found is not None and sessions.touch_due(found):
        # Nothing else has happened in this request yet: this commit is the touch alone.
        db.session.commit()
        found = sessions.find(token)  # it may have ended in another request meanwhile
    if found is not None:
        g.crm_session = found
        return
    g.crm_session = None
    if token or "_user_id" in session:
        _forget_browser_login()  # ended elsewhere, idle too long, or the user deactivated
    cookie = request.cookies.get(REMEMBER_COOKIE)
    if not cookie:
        return
    resumed = sessions.resume(cookie, address=request.remote_addr, user_agent=_user_agent())
    db.session.commit()
    if resumed is None:
        g.crm_remember = None  # delete the browser's cookie
        return
    _sign_in_browser(resumed.user, resumed.token, fresh=False)
    if resumed.cookie:
        g.crm_remember = (resumed.cookie, resumed.expires_at)


def _user_agent() -> str:
    return request.headers.get("User-Agent", "")[:200]


def _forget_browser_login() -> None:
    for key in (SESSION_KEY, "_user_id", "_fresh", "_id", "_remember", "_remember_seconds"):
        session.pop(key, None)


def _sign_in_browser(user: User, token: str, *, fresh: bool) -> None:
    # A new session starts from a clean cookie: nothing of a session before it (an
    # attacker's planted one included) carries over, the CSRF token neither.
    session.clear()
    session[SESSION_KEY] = token
    g.crm_session = sessions.find(token)
    login_user(user, remember=False, fresh=fresh)


def open_session(user: User, *, remember: bool) -> None:
    """Sign this browser in as `user` (after the password was checked). The caller commits."""
    sessions.purge_expired()
    token = sessions.start(user, address=request.remote_addr, user_agent=_user_agent())
    if remember:
        cookie = sessions.remember(user)
        g.crm_remember = (cookie, datetime.now().astimezone() + sessions.remember_period())
    _sign_in_browser(user, token, fresh=True)


def close_session() -> None:
    """Sign this browser out: its session and remember cookie end on the server. The caller
    commits."""
    sessions.end(session.get(SESSION_KEY))
    sessions.forget(request.cookies.get(REMEMBER_COOKIE))
    g.crm_remember = None
    logout_user()
    _forget_browser_login()


def current_token() -> str | None:
    """This browser's session token (kept when the user ends their other sessions)."""
    return session.get(SESSION_KEY)


def current_remember_cookie() -> str | None:
    return request.cookies.get(REMEMBER_COOKIE)


def sign_out_everywhere(user: User) -> int:
    """End every session and remember cookie of `user`, this browser's included. The caller
    commits. Returns how many sessions ended."""
    ended = sessions.end_all(user, why="Signed out everywhere")
    g.crm_remember = None
    logout_user()
    _forget_browser_login()
    return ended


def _write_remember_cookie(response: Response) -> Response:
    """Set, replace or delete the remember cookie as this request decided; delete Flask-Login's
    own remember cookie wherever a browser still sends one."""
    decided: Any = g.get("crm_remember", _UNCHECKED)
    if decided is not _UNCHECKED:
        if decided is None:
            if REMEMBER_COOKIE in request.cookies:
                response.delete_cookie(REMEMBER_COOKIE, path="/")
        else:
            value, expires = decided
            response.set_cookie(
                REMEMBER_COOKIE,
                value,
                expires=expires,
                path="/",
                httponly=True,
                samesite="Lax",
                secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            )
    if LEGACY_REMEMBER_COOKIE in request.cookies:
        response.delete_cookie(LEGACY_REMEMBER_COOKIE, path="/")
    return response
