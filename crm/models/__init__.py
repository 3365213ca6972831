"""All models, imported here so that metadata (and Alembic) sees every table."""

from crm.models.account import Account
from crm.models.address import Address
from crm.models.audit import AuditEntry
from crm.models.contact import (
    Contact,
    ContactKind,
    ContactPreference,
    CustomerStatus,
    Gender,
    ProspectStatus,
    contact_accounts,
)
from crm.models.lookups import AddressType, PhoneType, SocialPlatform
from crm.models.phone import Phone
from crm.models.social_link import SocialLink
from crm.models.user import ROLE_NAMES, Role, User, user_roles

__all__ = [
    "ROLE_NAMES",
    "Account",
    "Address",
    "AddressType",
    "AuditEntry",
    "Contact",
    "ContactKind",
    "ContactPreference",
    "CustomerStatus",
    "Gender",
    "Phone",
    "PhoneType",
    "ProspectStatus",
    "Role",
    "SocialLink",
    "SocialPlatform",
    "User",
    "contact_accounts",
    "user_roles",
]
