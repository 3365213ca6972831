"""Users of the CRM (employees) and their roles."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, String, Table, true
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from crm.extensions import db
from crm.models.base import utcnow

ROLE_NAMES: dict[str, str] = {
    "crm_admin": "Administrator: everything, including users, roles and the audit log",
    "crm_manager": "Manager: all contacts, may delete, export and transfer ownership",
    "crm_sales": "Sales: works with contacts, may not give them away",
    "crm_marketeer": "Marketing: works with contacts, may export",
    "crm_list_manager": "List manager: edits the lookup lists (phone, address, social types)",
}

user_roles = Table(
    "user_roles",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Role(db.Model):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")

    def __str__(self) -> str:
        return self.name


class User(UserMixin, db.Model):
    """An employee who logs in. Flask-Login's `is_active` follows the `active` column."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The morning email of one's tasks due today and overdue (My profile switches it off).
    task_digest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return (value or "").strip().lower()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    @property
    def role_names(self) -> set[str]:
        return {role.name for role in self.roles}

    def has_role(self, *names: str) -> bool:
        return bool(self.role_names.intersection(names))

    def __str__(self) -> str:
        return self.full_name or self.email
