"""HTTP hardening: security headers with a Content-Security-Policy the admin pages work
under, cookies marked Secure when served over HTTPS, and the proxy headers to trust.

The policy allows scripts from this site and, for inline ones, a nonce per response
(Flask-Admin puts it on its own inline scripts). Flask-Admin's templates also carry a few
inline event handlers (the "With selected" actions, the delete confirmation, "Add" under an
inline list, the filter menu): those are allowed by hash ('unsafe-hashes'), and only when
they match the fixed shapes below, so text injected into a page could never be allowed
this way.

Nothing but the static files may be kept by a browser or a proxy: every other response
(pages, API answers, downloads, error pages) is `Cache-Control: private, no-store`, so a
new API token, a set-password link or a contact's data never stays in a cache or the
browser's history after the page is left.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

# The inline handlers Flask-Admin's templates render, by shape (values are names or fixed
# English messages, never user input).
_HANDLERS = re.compile(
    r"^(?:return false;"
    r"|return faHelpers\.safeConfirm\('[A-Za-z ?.,']*'\);"
    r"|return modelActions\.execute\('[a-z_]+'\);"
    r"|faForm\.addInlineField\(this, '[a-z_0-9-]+'\);)$"
)
_HANDLER_ATTRIBUTE = re.compile(r'\son[a-z]+="([^"]*)"')
_JAVASCRIPT_VOID = "javascript:void(0)"


def csp_nonce() -> str:
    """This response's nonce for inline scripts."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _sha256(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _allowed_handler_hashes(body: str) -> list[str]:
    hashes = set()
    for raw in _HANDLER_ATTRIBUTE.findall(body):
        handler = html.unescape(raw)
        if _HANDLERS.match(handler):
            hashes.add(_sha256(handler))
    if _JAVASCRIPT_VOID in body:
        hashes.add(_sha256(_JAVASCRIPT_VOID))
    return sorted(hashes)


def _tile_origin() -> str:
    """The origin of the map tile server the settings name (CRM_MAP_TILES_URL), if any:
    the card's maps load its images."""
    url = current_app.config.get("CRM_MAP_TILES_URL") or ""
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    host = parts.netloc.replace("a.", "*.", 1) if "{s}." in url else parts.netloc
    return f"{parts.scheme}://{host}"


def content_security_policy(body: str | None = None) -> str:
    scripts = ["'self'", f"'nonce-{csp_nonce()}'"]
    tiles = _tile_origin()
    hashes = _allowed_handler_hashes(body) if body else []
    if hashes:
        scripts += ["'unsafe-hashes'", *hashes]
    return "; ".join(
        (
            "default-src 'self'",
            "script-src " + " ".join(scripts),
            # Inline style attributes (Flask-Admin's widgets and ours) are allowed; styles
            # cannot run code.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:" + (f" {tiles}" if tiles else ""),
            "font-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "object-src 'none'",
        )
    )


def _secure_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    body = None
    if response.mimetype == "text/html" and not response.direct_passthrough:
        body = response.get_data(as_text=True)
    headers["Content-Security-Policy"] = content_security_policy(body)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # Every cookie (session, remember-me) only over HTTPS when served over HTTPS.
        cookies = headers.getlist("Set-Cookie")
        if cookies:
            headers.remove("Set-Cookie")
            for cookie in cookies:
                secure = "; secure" in cookie.lower()
                headers.add("Set-Cookie", cookie if secure else cookie + "; Secure")
    return response


# A view that already forbids storing (`no-store`, with whatever else it adds) keeps its own
# header; anything weaker is replaced.
NO_STORE = "private, no-store"


def _is_static_file() -> bool:
    """Our /static/ files and Flask-Admin's /admin/static/ (no personal data: cacheable)."""
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def _cache_control(response: Response) -> Response:
    if _is_static_file() or response.cache_control.no_store:
        return response
    response.headers["Cache-Control"] = NO_STORE
    return response


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure when configured so, or when the request came over HTTPS
    (it is written after the after-request hooks, so it is marked here)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = super().get_cookie_secure(app)
        return configured or (has_request_context() and request.is_secure)


def init_app(app: Flask) -> None:
    if app.config.get("CRM_PROXY_FIX"):
        # Behind one reverse proxy: trust its X-Forwarded-For/-Proto/-Host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.session_interface = SessionInterface()
    app.after_request(_secure_headers)
    app.after_request(_cache_control)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
