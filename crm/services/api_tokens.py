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
from crm.services import audit
from crm.services import validation as v

PREFIX = "crm_"
MAX_TOKENS = 20  # live tokens per user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(actor: Actor, name: str) -> tuple[ApiToken, str]:
    """A new token for `actor` named `name`: (the row, the token to show once)."""
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
    plain = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=actor.id, name=name, token_hash=_digest(plain), prefix=plain[:10])
    db.session.add(token)
    db.session.flush()
    audit.record_event(
        db.session, actor, "create", "api_token", f"API token {name!r} made", {}, token.id
    )
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


def user_for_token(plain: str | None) -> User | None:
    """The active user whose live token this is, else None; notes when it was last used."""
    if not plain or not plain.startswith(PREFIX) or len(plain) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = utcnow()
    return token.user
