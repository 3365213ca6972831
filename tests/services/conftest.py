"""Helpers for the domain-layer tests: users per role, counting rows, reading history."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditEntry


@pytest.fixture
def cli(app):
    """cli("export", "out.csv") runs `flask crm export out.csv`; its result as Click's."""
    runner = app.test_cli_runner()

    def run(*args: str, input: str | None = None):
        result = runner.invoke(args=["crm", *args], input=input)
        db.session.expire_all()  # see what the command committed
        return result

    return run


@pytest.fixture
def manager(make_user: Callable[..., Any]):
    return make_user("crm_manager")


@pytest.fixture
def sales(make_user: Callable[..., Any]):
    return make_user("crm_sales")


@pytest.fixture
def admin_user(make_user: Callable[..., Any]):
    return make_user("crm_admin")


def count(model: type, *where: Any) -> int:
    """Rows of `model` in the database (matching `where`)."""
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def history(**filters: Any) -> list[AuditEntry]:
    """Audit entries matching the given column values, oldest first."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    for name, value in filters.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return list(db.session.scalars(query))


def reload(obj: Any) -> Any:
    """The row as stored now (forgetting what this session holds in memory)."""
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def an_admin():
    """A fresh crm_admin (purging contacts is theirs alone)."""
    from crm.services.platform.users import create_user

    return create_user(
        f"admin-{uuid.uuid4().hex[:8]}@example.com", "a-long-password", ["crm_admin"]
    )
