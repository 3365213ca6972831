"""API tokens: made by users for themselves, shown once, stored as a hash, revocable. The
JSON API acts with the rights (and the access classes) of the token's user."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from crm.auth.permissions import Actor, can
from crm.errors import NotFound, PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import ApiToken, User
from crm.models.base import utcnow
from crm.services.platform import audit
from crm.services.platform import validation as v

PREFIX = "crm_"
MAX_TOKENS = 20  # live tokens per user
# What a token may be used for, and the right its user needs to give it that scope.
SCOPES: dict[str, tuple[str, str]] = {
    "contacts:read": ("read contacts and their statuses", "contact.view"),
    "contacts:write": ("create and update contacts", "contact.edit"),
    "orders:read": ("read orders", "order.view"),
    "orders:write": ("post orders (an online store)", "order.edit"),
    "campaigns:read": ("read email campaigns and their results", "campaign.view"),
    "campaigns:write": ("write and send email campaigns", "campaign.send"),
}


def scopes_for(actor: Actor) -> list[str]:
    """The scopes the actor may give their tokens (those their rights allow)."""
    return [scope for scope, (_label, right) in SCOPES.items() if can(actor, right)]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(actor: Actor, name: str, scopes: list[str] | None = None) -> tuple[ApiToken, str]:
    """A new token for `actor` named `name`, for `scopes` (None: every scope the actor's
    rights allow): (the row, the token to show once)."""
    if not can(actor, "api.tokens"):
        raise PermissionDenied("You may not make API tokens.")
    name = v.clean_text(name) or ""
    if not name:
        raise ValidationFailed({"name": ["Name the token (what will use it?)."]})
    limit = ApiToken.__table__.c["name"].type.length
    if len(name) > limit:
        raise ValidationFailed({"name": [f"Too long (at most {limit} characters)."]})
    live = len(tokens_of(actor))
    if live >= MAX_TOKENS:
        raise ValidationFailed(
            {"name": [f"You have {live} tokens: revoke one you no longer use first."]}
        )
    allowed = scopes_for(actor)
    chosen = allowed if scopes is None else [s for s in SCOPES if s in set(scopes)]
    unknown = sorted(set(scopes or []) - set(SCOPES))
    if unknown or not set(chosen) <= set(allowed):
        raise ValidationFailed({"scopes": ["Choose among the scopes your rights allow."]})
    if not chosen:
        raise ValidationFailed({"scopes": ["Choose what the token may do."]})
    plain = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=actor.id, name=name, token_hash=_digest(plain), prefix=plain[:10],
        scopes=" ".join(chosen),
    )  # fmt: skip
    db.session.add(token)
    db.session.flush()
    audit.record_event(
        db.session, actor, "create", "api_token", f"API token {name!r} made",
        {"scopes": chosen}, token.id,
    )  # fmt: skip
    return token, plain


def tokens_of(actor: Actor) -> list[ApiToken]:
    """The actor's tokens that are not revoked, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == getattr(actor, "id", None), ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens (someone else's is not found)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != getattr(actor, "id", None) or token.revoked_at:
        raise NotFound("No such API token.")
    token.revoked_at = utcnow()
    audit.record_event(
        db.session, actor, "delete", "api_token", f"API token {token.name!r} revoked", {}, token.id
    )
    return token


def token_for(plain: str | None) -> ApiToken | None:
    """The live token of an active user with this text, else None; notes its last use."""
    if not plain or not plain.startswith(PREFIX) or len(plain) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = utcnow()
    return token


def user_for_token(plain: str | None) -> User | None:
    """The active user whose live token this is, else None; notes when it was last used."""
    token = token_for(plain)
    return token.user if token is not None else None


def has_scope(token: ApiToken, scope: str) -> bool:
    return scope in (token.scopes or "").split()
