"""All models, imported here so that metadata (and Alembic) sees every table."""

from crm.models.access_class import AccessClass, access_class_roles, access_class_users
from crm.models.account import Account, account_criteria
from crm.models.activity import Comment
from crm.models.address import Address
from crm.models.api_token import ApiToken
from crm.models.appointment import (
    Appointment,
    AppointmentStatus,
    appointment_accounts,
    appointment_contacts,
    appointment_users,
)
from crm.models.audit import AuditEntry, audit_bulk_contacts, audit_entry_contacts
from crm.models.automation import Automation, AutomationKind, DoneWork
from crm.models.campaign import (
    Campaign,
    CampaignAudience,
    CampaignKind,
    CampaignRecipient,
    CampaignStatus,
    ExclusionReason,
    RecipientStatus,
    campaign_contacts,
)
from crm.models.connection import Connection, ConnectionType
from crm.models.contact import (
    Contact,
    ContactKind,
    ContactPreference,
    CustomerStatus,
    Gender,
    ProspectStatus,
    contact_accounts,
    contact_categories,
    contact_criteria,
)
from crm.models.contact_file import ContactFile
from crm.models.contact_login import ContactLogin
from crm.models.counter import Counter
from crm.models.deal import Deal, DealStage, deal_contacts
from crm.models.duplicate import NotDuplicate
from crm.models.email_log import BouncingAddress, EmailKind, EmailStatus, SentEmail
from crm.models.export_job import ExportJob, export_items
from crm.models.import_job import (
    DuplicateHandling,
    ImportedRow,
    ImportJob,
    JobStatus,
    SavedMapping,
)
from crm.models.interaction import Direction, Interaction, InteractionStatus, Medium
from crm.models.lead import Lead, LeadStatus
from crm.models.login_attempt import LoginAttempt
from crm.models.lookups import (
    AddressType,
    Category,
    Criterion,
    CriterionScope,
    PhoneType,
    SocialPlatform,
)
from crm.models.merge import MergeRecord
from crm.models.note import Note
from crm.models.order import Order, OrderLine, OrderSource, OrderStatus, Payment
from crm.models.phone import Phone
from crm.models.segment import (
    MarketingList,
    MarketingListMember,
    SavedView,
    Segment,
    SegmentKind,
    segment_members,
)
from crm.models.selection import SelectedContact
from crm.models.social_link import SocialLink
from crm.models.tag import Tag, contact_tags
from crm.models.task import OPEN_TASK_STATUSES, Task, TaskStatus
from crm.models.user import ROLE_NAMES, Role, User, user_roles
from crm.models.user_session import RememberToken, UserSession

__all__ = [
    "Automation",
    "AutomationKind",
    "DoneWork",
    "Campaign",
    "CampaignAudience",
    "CampaignKind",
    "CampaignRecipient",
    "CampaignStatus",
    "ExclusionReason",
    "RecipientStatus",
    "campaign_contacts",
    "BouncingAddress",
    "EmailKind",
    "EmailStatus",
    "SentEmail",
    "Appointment",
    "AppointmentStatus",
    "Comment",
    "Connection",
    "ConnectionType",
    "ContactFile",
    "Direction",
    "Interaction",
    "InteractionStatus",
    "Medium",
    "Note",
    "OPEN_TASK_STATUSES",
    "Task",
    "TaskStatus",
    "appointment_accounts",
    "appointment_contacts",
    "appointment_users",
    "audit_bulk_contacts",
    "audit_entry_contacts",
    "ContactLogin",
    "Counter",
    "Deal",
    "DealStage",
    "deal_contacts",
    "Lead",
    "LeadStatus",
    "Order",
    "OrderLine",
    "OrderSource",
    "OrderStatus",
    "Payment",
    "export_items",
    "DuplicateHandling",
    "ImportedRow",
    "ExportJob",
    "ImportJob",
    "JobStatus",
    "SavedMapping",
    "MergeRecord",
    "NotDuplicate",
    "ApiToken",
    "LoginAttempt",
    "AccessClass",
    "access_class_roles",
    "access_class_users",
    "Category",
    "Criterion",
    "CriterionScope",
    "MarketingList",
    "MarketingListMember",
    "SavedView",
    "Segment",
    "SegmentKind",
    "SelectedContact",
    "Tag",
    "account_criteria",
    "contact_categories",
    "contact_criteria",
    "contact_tags",
    "segment_members",
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
    "UserSession",
    "RememberToken",
    "contact_accounts",
    "user_roles",
]
