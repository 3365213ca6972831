"""Flask extension objects, created unbound and wired in `create_app`."""

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose metadata names every constraint predictably (for Alembic)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


# Schema objects made by migrations in raw SQL, outside the models: SQLite's FTS5 search
# tables (and their shadow tables), PostgreSQL's trigram and partial indexes.
RAW_SQL_SCHEMA_OBJECTS = (
    "contact_search",
    "order_search",
    "ix_contacts_search_trgm",
    "ix_trgm_",
    "ix_pg_",
)


def include_in_autogenerate(name: str | None, type_: str, _parent_names: dict) -> bool:
    """Alembic `include_name` hook: leave the raw-SQL search index out of comparisons."""
    return not (name and name.startswith(RAW_SQL_SCHEMA_OBJECTS))
