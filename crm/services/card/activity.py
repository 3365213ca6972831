"""A contact's activity feed (SimpleOne's Activity feed widget): comments, notes,
interactions, the messages sent to the contact and the history of the record in one stream,
newest first. Comments are posted
by the roles of `activity.comment`; everyone who sees the contact reads the feed, and new
comments reach the page of the others without a reload (it asks for those after the last
one it has)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.auth.permissions import Actor, can
from crm.errors import PermissionDenied, ValidationFailed
from crm.extensions import db
from crm.models import Comment, Contact, Interaction, Note
from crm.services.card import emails, history
from crm.services.card.notes import note_visibility
from crm.services.platform import audit
from crm.services.platform import validation as v
from crm.services.platform.access import contact_visibility
from crm.services.platform.local_time import local_text

MAX_COMMENT = 5_000
FEED_SIZE = 50


@dataclass
class FeedItem:
    kind: str  # comment, note, interaction, email, change
    at: datetime
    who: str
    title: str
    text: str
    private: bool = False
    comment_id: int | None = None
    link: tuple[str, dict] | None = None  # (endpoint, arguments): where the entry leads

    @property
    def when(self) -> str:
        """The moment in the office's time zone, to the minute."""
        return local_text(self.at)


def post_comment(actor: Actor, contact: Contact, body: str | None) -> Comment:
    if not can(actor, "activity.comment"):
        raise PermissionDenied("Your role may read the activity feed but not comment in it.")
    text = v.clean_free_text(body)
    if not text:
        raise ValidationFailed({"body": ["Write something: the comment is empty."]})
    if len(text) > MAX_COMMENT:
        raise ValidationFailed({"body": [f"A comment holds at most {MAX_COMMENT:,} characters."]})
    audit.note_actor(db.session, actor)
    comment = Comment(contact_id=contact.id, author_id=actor.id, body=text)
    db.session.add(comment)
    db.session.flush()
    return comment


def comments_after(actor: Actor, contact_id: int, after_id: int = 0) -> list[Comment]:
    """The contact's comments newer than `after_id`, oldest first (what a page that has
    shown up to `after_id` has not seen yet); at most FEED_SIZE."""
    return list(
        db.session.scalars(
            select(Comment)
            .join(Contact, Contact.id == Comment.contact_id)
            .where(
                Comment.contact_id == contact_id, Comment.id > after_id, contact_visibility(actor)
            )  # fmt: skip
            .order_by(Comment.id)
            .limit(FEED_SIZE)
            .options(selectinload(Comment.author))
        )
    )


def _name(user) -> str:
    return str(user) if user is not None else "someone"


def feed(
    actor: Actor, contact_id: int, recent: history.HistoryPage | None = None
) -> list[FeedItem]:
    """The newest FEED_SIZE things that happened with the contact, of every kind the actor
    may read (private notes: their own only). `recent`: the first page of its history, when
    the caller has read it already."""
    seen = contact_visibility(actor)
    items: list[FeedItem] = []
    comments = db.session.scalars(
        select(Comment).join(Contact, Contact.id == Comment.contact_id)
        .where(Comment.contact_id == contact_id, seen)
        .order_by(Comment.id.desc()).limit(FEED_SIZE).options(selectinload(Comment.author))
    )  # fmt: skip
    for c in comments:
        items.append(FeedItem("comment", c.created_at, _name(c.author), "commented", c.body,
                              comment_id=c.id))  # fmt: skip
    notes = db.session.scalars(
        select(Note).join(Contact, Contact.id == Note.contact_id)
        .where(Note.contact_id == contact_id, seen, note_visibility(actor))
        .order_by(Note.created_at.desc()).limit(FEED_SIZE).options(selectinload(Note.author))
    )  # fmt: skip
    for n in notes:
        title = "wrote a private note" if n.private else "wrote a note"
        items.append(FeedItem("note", n.created_at, _name(n.author), title, n.body, n.private))
    sent = emails.sent_notices(actor, contact_id, FEED_SIZE)
    for notice in sent:
        items.append(FeedItem("email", notice.at, notice.who, notice.title, notice.text,
                              link=notice.link))  # fmt: skip
    interactions = db.session.scalars(
        select(Interaction).join(Contact, Contact.id == Interaction.contact_id)
        .where(Interaction.contact_id == contact_id, seen)
        .order_by(Interaction.occurred_at.desc()).limit(FEED_SIZE)
        .options(selectinload(Interaction.operator), selectinload(Interaction.created_by))
    )  # fmt: skip
    for i in interactions:
        if (
            i.direction.value == "out"
            and i.medium.value == "email"
            and emails.is_logged_twice(sent, i.address, i.created_by_id, i.occurred_at)
        ):
            continue  # the sent message above tells it
        towards = "to" if i.direction.value == "out" else "from"
        medium = i.medium.label if i.medium.label.isupper() else i.medium.label.lower()
        title = f"logged {medium} {towards} the contact"
        items.append(FeedItem("interaction", i.occurred_at, _name(i.operator or i.created_by),
                              title, i.subject))  # fmt: skip
    if recent is None or recent.page != 1 or recent.since or recent.until:
        recent = history.contact_history(actor, contact_id)
    for item in recent.items:
        entry = item.entry
        if entry.entity_type in {"comment", "note", "interaction"}:
            continue  # shown above, as themselves
        # What changed, by the fields' labels ("Job title, Primary email"): the History tab
        # has the values.
        changed = ", ".join(item.fields[:6]) + (", ..." if len(item.fields) > 6 else "")
        text = changed if entry.action == "update" else ""
        items.append(FeedItem("change", entry.at, item.who, item.what, text,
                              link=item.link))  # fmt: skip
    items.sort(key=lambda item: _aware(item.at), reverse=True)
    return items[:FEED_SIZE]


def _aware(at: datetime) -> datetime:
    """SQLite hands timestamps back without their zone: they are UTC."""
    from datetime import UTC

    return at if at.tzinfo else at.replace(tzinfo=UTC)
