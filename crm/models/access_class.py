"""Access classes (Webasyst's "contact classes"): a contact or account may be put in one
class, and only users granted that class (themselves or through a role) see it. Who sees
what is decided in crm.services.platform.access."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.lookups import LookupMixin

if TYPE_CHECKING:
    from crm.models.user import Role, User

access_class_users = Table(
    "access_class_users",
    db.metadata,
    Column(
        "access_class_id", ForeignKey("access_classes.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

access_class_roles = Table(
    "access_class_roles",
    db.metadata,
    Column(
        "access_class_id", ForeignKey("access_classes.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class AccessClass(LookupMixin, db.Model):
    """A class of contacts and accounts ("Retail", "Key accounts", "Staff")."""

    __tablename__ = "access_classes"
    __audit__ = True

    description: Mapped[str] = mapped_column(String(300), default="")
    users: Mapped[list[User]] = relationship(secondary=access_class_users, order_by="User.email")
    roles: Mapped[list[Role]] = relationship(secondary=access_class_roles, order_by="Role.name")
