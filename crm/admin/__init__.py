"""Flask-Admin wiring: a new Admin and new views for every app (create_app runs per test)."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from crm.admin.account import AccountView
from crm.admin.api_tokens import ApiTokenView
from crm.admin.appointments import AppointmentView
from crm.admin.audit import AuditView
from crm.admin.automations import AutomationView
from crm.admin.campaigns import CampaignView
from crm.admin.contact_card import ContactCardView
from crm.admin.contact_emails import ContactEmailsView
from crm.admin.contact_files import ContactFilesView
from crm.admin.contact_lifecycle import ContactLifecycleView
from crm.admin.contact_messages import ContactMessagesView
from crm.admin.contacts.quick import quick_create_offer
from crm.admin.contacts.segment_members import dynamic_members
from crm.admin.contacts.view import ContactView
from crm.admin.deals import DealView
from crm.admin.duplicates import DuplicatesView
from crm.admin.exports import ExportView
from crm.admin.imports import ImportView
from crm.admin.interactions import InteractionView
from crm.admin.leads import LeadView
from crm.admin.lookups import (
    AccessClassView,
    AddressTypeView,
    CategoryView,
    ConnectionTypeView,
    CriterionView,
    PhoneTypeView,
    SocialPlatformView,
)
from crm.admin.menu import cached_menu
from crm.admin.merge import MergeView
from crm.admin.orders import OrderView, PaymentView
from crm.admin.pages import DashboardView
from crm.admin.permissions import PermissionMatrixView
from crm.admin.profile import ProfileView
from crm.admin.responsibles import ResponsiblesView
from crm.admin.segments import MarketingListView, SegmentView
from crm.admin.tags import TagCloudView, TagView
from crm.admin.tasks import TaskView
from crm.admin.trash import TrashView
from crm.admin.users import RoleView, UserView
from crm.security import csp_nonce
from crm.services.marketing import audience


def init_admin(app: Flask) -> Admin:
    admin = Admin(
        app,
        name=app.config.get("CRM_NAME", "Contacts CRM"),
        index_view=DashboardView(name="Home", url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/crm_base.html", fluid=True),
        csp_nonce_generator=csp_nonce,
    )
    contacts = ContactView()
    admin.add_view(contacts)
    # A dynamic segment's members are what the contact list shows for its saved filter.
    audience.register_dynamic_members(dynamic_members(contacts))
    admin.add_view(TagCloudView())
    admin.add_view(ResponsiblesView())
    admin.add_view(SegmentView())
    admin.add_view(MarketingListView())
    admin.add_view(TrashView())
    admin.add_view(MergeView())
    admin.add_view(ImportView())
    admin.add_view(ExportView())
    admin.add_view(DuplicatesView())
    admin.add_view(AccountView())
    admin.add_view(LeadView())
    admin.add_view(DealView())
    admin.add_view(OrderView())
    admin.add_view(PaymentView())
    admin.add_view(ContactLifecycleView())
    admin.add_view(ContactFilesView())
    admin.add_view(ContactCardView())
    admin.add_view(ContactEmailsView())
    admin.add_view(InteractionView())
    admin.add_view(ContactMessagesView())
    admin.add_view(PhoneTypeView())
    admin.add_view(AddressTypeView())
    admin.add_view(SocialPlatformView())
    admin.add_view(CategoryView())
    admin.add_view(CriterionView())
    admin.add_view(ConnectionTypeView())
    admin.add_view(TagView())
    admin.add_view(UserView())
    admin.add_view(RoleView())
    admin.add_view(AccessClassView())
    admin.add_view(PermissionMatrixView())
    admin.add_view(ApiTokenView())
    admin.add_view(ProfileView())
    admin.add_view(AuditView())
    admin.add_view(TaskView())
    admin.add_view(AppointmentView())
    admin.add_view(CampaignView())
    admin.add_view(AutomationView())

    @app.context_processor
    def saved_views_menu():
        from flask_login import current_user

        from crm.services.lists.segments import saved_views

        return {"crm_saved_views": lambda: saved_views(current_user)}

    @app.context_processor
    def quick_create_dialog():
        return {"crm_quick_create": quick_create_offer}

    app.jinja_env.globals["crm_cached_menu"] = cached_menu

    return admin
