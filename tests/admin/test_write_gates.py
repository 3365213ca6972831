"""Every state-changing request, generated from the permission matrix: each role without the
permission is refused and changes nothing; a role with it changes what it asked for.
Writes nobody may do (fixed roles, append-only history, inline list editing) change nothing
for anyone."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from crm.auth.permissions import can
from crm.extensions import db
from crm.models import (
    AccessClass,
    Account,
    ApiToken,
    AuditEntry,
    Contact,
    MarketingList,
    SavedView,
    Segment,
    SegmentKind,
)
from crm.services.contacts import selection
from crm.services.contacts.bulk import add_to_marketing_list, move_to_trash
from crm.services.lists.tags import tags_for_names
from crm.services.merge.contacts import merge_contacts
from tests.admin.helpers import contact_form
from tests.conftest import ROLES, csrf_from, login
from tests.db_state import changed_tables, snapshot

Data = Callable[[dict[str, int]], dict[str, Any]]


def _lookup(name: str) -> Data:
    return lambda ids: {"name": name, "active": "y", "position": "3"}


# (method URL, permission that allows it or None for nobody, form data)
WRITES: list[tuple[str, str | None, Data]] = [
    ("/admin/contact/new/", "contact.create", lambda ids: contact_form(first_name="Gen")),
    (
        "/admin/contact/quick/",
        "contact.create",
        lambda ids: {"first_name": "Quick", "last_name": "Made", "email": "quick@example.com"},
    ),
    (
        "/admin/contact/edit/?id={contact}",
        "contact.edit",
        lambda ids: contact_form(
            first_name="Edited", expected_version=str(ids["versions"][ids["contact"]])
        ),
    ),
    ("/admin/contact/delete/", "contact.delete", lambda ids: {"id": ids["contact"]}),
    (
        "/admin/contact/action/",
        "contact.bulk_edit",
        lambda ids: {"action": "select", "rowid": [str(ids["contact"])]},
    ),
    (
        "/admin/contact/action/#delete",
        "contact.delete",
        lambda ids: {"action": "delete", "rowid": [str(ids["contact"])]},
    ),
    (
        "/admin/contact/bulk/?target=ids&ids={contact}",
        "contact.bulk_edit",
        lambda ids: {"operation": "add_tags", "tags": "Gen", "confirm": "y"},
    ),
    (
        "/admin/contact/bulk/?target=ids&ids={contact}#responsible",
        "contact.assign_responsible",
        lambda ids: {"operation": "set_responsible", "responsible": "none", "confirm": "y"},
    ),
    (
        "/admin/contact/bulk/?target=ids&ids={contact}#class",
        "contact.set_class",
        lambda ids: {
            "operation": "set_access_class",
            "access_class": str(ids["access_class"]),
            "confirm": "y",
        },
    ),
    (
        "/admin/contact/bulk/?target=ids&ids={contact}#trash",
        "contact.delete",
        lambda ids: {"operation": "trash", "confirm": "y"},
    ),
    (
        "/admin/contact/bulk/?target=ids&ids={contact}#list",
        "marketing_list.add_members",
        lambda ids: {
            "operation": "add_to_marketing_list",
            "marketing_list": str(ids["mlist"]),
            "confirm": "y",
        },
    ),
    ("/admin/contact/selection/clear/", "contact.view", lambda ids: {}),
    (
        "/admin/contact/views/save/",
        "contact.view",
        lambda ids: {"name": "Mine", "query": "search=ana"},
    ),
    ("/admin/contact/views/delete/", "contact.view", lambda ids: {"id": ids["view"]}),
    ("/admin/contact/ajax/update/", None, lambda ids: {"list_form_pk": ids["contact"]}),
    (
        "/admin/duplicates/not-duplicates/",
        "contact.merge",
        lambda ids: {"ids": [str(ids["contact"]), str(ids["member"])]},
    ),
    (
        "/admin/merge/contacts/",
        "contact.merge",
        lambda ids: {
            "ids": [str(ids["contact"]), str(ids["member"])],
            "master": str(ids["contact"]),
            f"v_{ids['contact']}": str(ids["versions"][ids["contact"]]),
            f"v_{ids['member']}": str(ids["versions"][ids["member"]]),
        },
    ),
    (
        "/admin/merge/accounts/",
        "contact.merge",
        lambda ids: {
            "ids": [str(ids["account"]), str(ids["account2"])],
            "master": str(ids["account"]),
            f"v_{ids['account']}": str(ids["versions"][ids["account"]]),
            f"v_{ids['account2']}": str(ids["versions"][ids["account2"]]),
        },
    ),
    ("/admin/merge/{merge_id}/undo/", "merge.undo", lambda ids: {}),
    (
        "/admin/imports/",
        "contact.import",
        lambda ids: {"file": (io.BytesIO(b"First name,Last name\nAna,Smith\n"), "people.csv")},
    ),
    (
        "/admin/trash/action/",
        "contact.restore",
        lambda ids: {"action": "restore", "rowid": [str(ids["trashed"])]},
    ),
    (
        "/admin/trash/action/#purge",
        "contact.purge",
        lambda ids: {"action": "purge", "rowid": [str(ids["trashed"])]},
    ),
    ("/admin/trash/delete/", None, lambda ids: {"id": ids["trashed"]}),
    ("/admin/trash/edit/?id={trashed}", None, lambda ids: {"first_name": "X"}),
    ("/admin/trash/new/", None, lambda ids: {"first_name": "X", "last_name": "Y"}),
    ("/admin/trash/ajax/update/", None, lambda ids: {"list_form_pk": ids["trashed"]}),
    ("/admin/account/new/", "account.create", lambda ids: {"name": "Gen Co"}),
    (
        "/admin/account/edit/?id={account}",
        "account.edit",
        lambda ids: {"name": "Renamed Co", "website": "", "notes": ""},
    ),
    ("/admin/account/delete/", "account.delete", lambda ids: {"id": ids["account"]}),
    (
        "/admin/account/action/",
        "account.delete",
        lambda ids: {"action": "delete", "rowid": [str(ids["account"])]},
    ),
    ("/admin/account/ajax/update/", None, lambda ids: {"list_form_pk": ids["account"]}),
    ("/admin/segments/new/", "segment.manage", lambda ids: {"name": "Gen", "kind": "static"}),
    (
        "/admin/segments/edit/?id={segment}",
        "segment.manage",
        lambda ids: {"name": "Renamed", "kind": "static", "description": ""},
    ),
    ("/admin/segments/delete/", "segment.manage", lambda ids: {"id": ids["segment"]}),
    (
        "/admin/segments/action/",
        "segment.manage",
        lambda ids: {"action": "delete", "rowid": [str(ids["segment"])]},
    ),
    ("/admin/segments/ajax/update/", None, lambda ids: {"list_form_pk": ids["segment"]}),
    ("/admin/marketing-lists/new/", "marketing_list.manage", lambda ids: {"name": "Gen"}),
    (
        "/admin/marketing-lists/edit/?id={mlist}",
        "marketing_list.manage",
        lambda ids: {"name": "Renamed", "description": "", "active": "y"},
    ),
    (
        "/admin/marketing-lists/delete/",
        "marketing_list.manage",
        lambda ids: {"id": ids["mlist"]},
    ),
    (
        "/admin/marketing-lists/action/",
        "marketing_list.manage",
        lambda ids: {"action": "delete", "rowid": [str(ids["mlist"])]},
    ),
    (
        "/admin/marketing-lists/members/?id={mlist}",
        "marketing_list.add_members",
        lambda ids: {"contact_id": [str(ids["member"])]},
    ),
    ("/admin/marketing-lists/ajax/update/", None, lambda ids: {"list_form_pk": ids["mlist"]}),
    ("/admin/tags/manage/new/", None, lambda ids: {"name": "Gen"}),
    ("/admin/tags/manage/edit/?id={tag}", "tag.manage", lambda ids: {"name": "Very VIP"}),
    ("/admin/tags/manage/delete/", "tag.manage", lambda ids: {"id": ids["tag"]}),
    ("/admin/tags/manage/confirm-delete/?id={tag}", "tag.manage", lambda ids: {}),
    (
        "/admin/tags/manage/merge/?ids={tag}&ids={tag2}",
        "tag.manage",
        lambda ids: {"survivor": str(ids["tag"])},
    ),
    (
        "/admin/tags/manage/action/",
        "tag.manage",
        lambda ids: {"action": "delete", "rowid": [str(ids["tag"])]},
    ),
    ("/admin/tags/manage/ajax/update/", None, lambda ids: {"list_form_pk": ids["tag"]}),
    *(
        entry
        for url, model_id in (
            ("phone-types", "phone_type"),
            ("address-types", "address_type"),
            ("social-platforms", "platform"),
            ("categories", "category"),
            ("criteria", "criterion"),
        )
        for entry in (
            (f"/admin/{url}/new/", "lookup.manage", _lookup("Gen")),
            (f"/admin/{url}/edit/?id={{{model_id}}}", "lookup.manage", _lookup("Renamed")),
            (f"/admin/{url}/delete/", "lookup.manage", lambda ids, m=model_id: {"id": ids[m]}),
            (
                f"/admin/{url}/action/",
                "lookup.manage",
                lambda ids, m=model_id: {"action": "delete", "rowid": [str(ids[m])]},
            ),
            (
                f"/admin/{url}/ajax/update/",
                None,
                lambda ids, m=model_id: {"list_form_pk": ids[m], "name": "X"},
            ),
        )
    ),
    ("/admin/access-classes/new/", "access_class.manage", _lookup("Gen")),
    ("/admin/access-classes/edit/?id={free_class}", "access_class.manage", _lookup("Renamed")),
    (
        "/admin/access-classes/delete/",
        "access_class.manage",
        lambda ids: {"id": ids["free_class"]},
    ),
    (
        "/admin/access-classes/action/",
        "access_class.manage",
        lambda ids: {"action": "delete", "rowid": [str(ids["free_class"])]},
    ),
    ("/admin/access-classes/ajax/update/", None, lambda ids: {"list_form_pk": ids["free_class"]}),
    (
        "/admin/users/new/",
        "user.manage",
        lambda ids: {
            "email": "gen@example.com",
            "full_name": "Gen",
            "active": "y",
            "new_password": "lantern-orbit-maple",
        },
    ),
    (
        "/admin/users/edit/?id={other_user}",
        "user.manage",
        lambda ids: {"email": "renamed@example.com", "full_name": "Renamed", "active": "y"},
    ),
    ("/admin/users/delete/", "user.manage", lambda ids: {"id": ids["other_user"]}),
    (
        "/admin/users/action/",
        "user.manage",
        lambda ids: {"action": "delete", "rowid": [str(ids["other_user"])]},
    ),
    ("/admin/users/ajax/update/", None, lambda ids: {"list_form_pk": ids["other_user"]}),
    ("/admin/api-tokens/", "api.tokens", lambda ids: {"name": "Web shop"}),
    ("/admin/api-tokens/revoke/", "api.tokens", lambda ids: {"id": ids["api_token"]}),
    ("/admin/automations/", "automation.manage",
     lambda ids: {"section": "digest", "enabled": "y", "send_time": "07:30"}),
    ("/admin/roles/new/", None, lambda ids: {"name": "crm_god"}),
    ("/admin/roles/edit/?id=1", None, lambda ids: {"name": "crm_god"}),
    ("/admin/roles/delete/", None, lambda ids: {"id": 1}),
    ("/admin/roles/action/", None, lambda ids: {"action": "delete", "rowid": ["1"]}),
    ("/admin/roles/ajax/update/", None, lambda ids: {"list_form_pk": 1, "name": "x"}),
    ("/admin/history/new/", None, lambda ids: {"summary": "forged"}),
    ("/admin/history/edit/?id={audit}", None, lambda ids: {"summary": "forged"}),
    ("/admin/history/delete/", None, lambda ids: {"id": ids["audit"]}),
    (
        "/admin/history/action/",
        None,
        lambda ids: {"action": "delete", "rowid": [str(ids["audit"])]},
    ),
    ("/admin/history/ajax/update/", None, lambda ids: {"list_form_pk": ids["audit"]}),
    # The customer lifecycle: leads, deals, orders and payments, the contact's lifecycle cards.
    ("/admin/lead/new/", "lead.edit", lambda ids: {"kind": "b2c", "status": "new",
                                                   "first_name": "Gen", "last_name": "Lead"}),
    ("/admin/lead/edit/?id={lead}", "lead.edit",
     lambda ids: {"kind": "b2c", "status": "working", "first_name": "Ed", "last_name": "It"}),
    ("/admin/lead/delete/", "lead.delete", lambda ids: {"id": ids["lead"]}),
    ("/admin/lead/action/", "lead.delete",
     lambda ids: {"action": "delete", "rowid": [str(ids["lead"])]}),
    ("/admin/lead/action/#convert", "lead.convert",
     lambda ids: {"action": "convert", "rowid": [str(ids["lead"])]}),
    ("/admin/lead/convert/{lead}/", "lead.convert", lambda ids: {}),
    ("/admin/lead/ajax/update/", None, lambda ids: {"list_form_pk": ids["lead"]}),
    ("/admin/deal/new/", "deal.edit", lambda ids: {"title": "Gen", "contacts": str(ids["contact"]),
                                                   "stage": "open", "currency": "EUR"}),
    ("/admin/deal/edit/?id={deal}", "deal.edit",
     lambda ids: {"title": "Renamed", "contacts": str(ids["contact"]), "stage": "open",
                  "currency": "EUR"}),
    ("/admin/deal/delete/", "deal.delete", lambda ids: {"id": ids["deal"]}),
    ("/admin/deal/action/", "deal.delete",
     lambda ids: {"action": "delete", "rowid": [str(ids["deal"])]}),
    ("/admin/deal/{deal}/stage/", "deal.edit", lambda ids: {"stage": "won"}),
    ("/admin/deal/ajax/update/", None, lambda ids: {"list_form_pk": ids["deal"]}),
    *(
        entry
        for view, key in (("order", "order"), ("payment", "payment"))
        for entry in (
            (f"/admin/{view}/new/", None, lambda ids: {"total": "1"}),
            (f"/admin/{view}/edit/?id={{{key}}}", None, lambda ids: {"total": "1"}),
            (f"/admin/{view}/delete/", None, lambda ids, k=key: {"id": ids[k]}),
            (f"/admin/{view}/action/", None,
             lambda ids, k=key: {"action": "delete", "rowid": [str(ids[k])]}),
            (f"/admin/{view}/ajax/update/", None, lambda ids, k=key: {"list_form_pk": ids[k]}),
        )
    ),
    ("/admin/order/{order}/status/", "order.edit", lambda ids: {"status": "paid"}),
    ("/admin/contact-lifecycle/{contact}/consumer/", "contact.set_consumer", lambda ids: {}),
    ("/admin/contact-lifecycle/{contact}/order/", "order.edit",
     lambda ids: {"description": "Tea", "total": "9.90"}),
    ("/admin/contact-lifecycle/{contact}/payment/", "order.edit", lambda ids: {"amount": "5"}),
    ("/admin/marketing-lists/recipients.csv?id={mlist}", "contact.export", lambda ids: {}),
    # Marketing > Campaigns (crm.admin.campaigns).
    ("/admin/campaigns/new/", "campaign.edit",
     lambda ids: {"name": "Gen", "subject": "Hi", "body_text": "Hello.",
                  "segment_ids": str(ids["segment"])}),
    ("/admin/campaigns/edit/?id={campaign}", "campaign.edit",
     lambda ids: {"name": "Renamed", "subject": "Hi", "body_text": "Hello."}),
    ("/admin/campaigns/delete/", "campaign.edit", lambda ids: {"id": ids["campaign"]}),
    ("/admin/campaigns/action/", "campaign.edit",
     lambda ids: {"action": "delete", "rowid": [str(ids["campaign"])]}),
    ("/admin/campaigns/ajax/update/", None, lambda ids: {"list_form_pk": ids["campaign"]}),
    ("/admin/campaigns/act/?id={campaign}", "campaign.send",
     lambda ids: {"do": "schedule", "send_at": "2031-01-02T10:00"}),
    ("/admin/contact/action/#email", "campaign.edit",
     lambda ids: {"action": "email", "rowid": [str(ids["contact"])]}),
    ("/admin/contact/bulk/?target=ids&ids={contact}#email", "campaign.edit",
     lambda ids: {"operation": "email", "confirm": "y"}),
    ("/admin/contact-lifecycle/{contact}/login/", "contact.generate_login",
     lambda ids: {"email": "login@example.com"}),
    ("/admin/contact-files/{contact}/upload/", "file.upload",
     lambda ids: {"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "a.pdf")}),
    ("/admin/contact-files/{contact}/picture/", "file.upload",  # and contact.edit
     lambda ids: {"picture": (io.BytesIO(_png()), "a.png")}),
    ("/admin/contact-files/{contact}/picture/delete/", "file.upload", lambda ids: {}),
    # The admin's file: its uploader and file.delete_any only.
    ("/admin/contact-files/{file_id}/delete/", "file.delete_any", lambda ids: {}),
    # The contact card (crm.admin.contact_card).
    ("/admin/contact-card/{contact}/notes/", "note.write", lambda ids: {"body": "Call back"}),
    # The admin's note: its author alone changes it (no test user is).
    ("/admin/contact-card/{contact}/notes/{note_id}/", None, lambda ids: {"body": "Changed"}),
    ("/admin/contact-card/{contact}/notes/{note_id}/delete/", None, lambda ids: {}),
    ("/admin/contact-card/{contact}/comments/", "activity.comment", lambda ids: {"body": "Hi"}),
    ("/admin/contact-card/{contact}/interactions/", "interaction.edit",
     lambda ids: {"medium": "call", "direction": "in", "subject": "Called"}),
    ("/admin/contact-card/{contact}/interactions/{interaction_id}/status/", "interaction.edit",
     lambda ids: {"status": "archived"}),
    ("/admin/contact-card/{contact}/connections/", "connection.edit",
     lambda ids: {"other_id": str(ids["member"]), "type_id": str(ids["friend"])}),
    ("/admin/contact-card/{contact}/connections/{connection_id}/delete/", "connection.edit",
     lambda ids: {}),
    ("/admin/interactions/new/", "interaction.edit",
     lambda ids: {"contact": str(ids["contact"]), "medium": "letter", "direction": "out",
                  "status": "open", "subject": "Letter"}),
    ("/admin/interactions/edit/?id={interaction_id}", "interaction.edit",
     lambda ids: {"contact": str(ids["contact"]), "medium": "letter", "direction": "out",
                  "status": "closed", "subject": "Renamed"}),
    ("/admin/interactions/delete/", "interaction.edit", lambda ids: {"id": ids["interaction_id"]}),
    ("/admin/interactions/action/", "interaction.edit",
     lambda ids: {"action": "delete", "rowid": [str(ids["interaction_id"])]}),
    ("/admin/interactions/ajax/update/", None, lambda ids: {"list_form_pk": ids["interaction_id"]}),
    ("/admin/connection-types/new/", "lookup.manage", _lookup("Mentor")),
    ("/admin/connection-types/edit/?id={connection_type}", "lookup.manage", _lookup("Renamed")),
    ("/admin/connection-types/delete/", "lookup.manage", lambda ids: {"id": ids["unused_kind"]}),
    ("/admin/connection-types/action/", "lookup.manage",
     lambda ids: {"action": "delete", "rowid": [str(ids["unused_kind"])]}),
    ("/admin/connection-types/ajax/update/", None,
     lambda ids: {"list_form_pk": ids["unused_kind"]}),
    # Tasks and appointments (crm.admin.tasks, crm.admin.appointments).
    ("/admin/tasks/new/", "task.edit",
     lambda ids: {"title": "Call back", "status": "open", "contact": str(ids["contact"])}),
    ("/admin/tasks/edit/?id={task}", "task.edit",
     lambda ids: {"title": "Renamed", "status": "open", "contact": str(ids["contact"]),
                  "version": "1"}),
    ("/admin/tasks/delete/", "task.edit", lambda ids: {"id": ids["task"]}),
    ("/admin/tasks/action/", "task.edit",
     lambda ids: {"action": "mark_done", "rowid": [str(ids["task"])]}),
    ("/admin/tasks/{task_id}/status/", "task.edit", lambda ids: {"status": "done"}),
    ("/admin/tasks/ajax/update/", None, lambda ids: {"list_form_pk": ids["task"]}),
    ("/admin/appointments/new/", "appointment.edit",
     lambda ids: {"subject": "Visit", "starts_at": "2030-01-02T10:00",
                  "ends_at": "2030-01-02T11:00", "contacts": str(ids["contact"])}),
    ("/admin/appointments/edit/?id={appointment}", "appointment.edit",
     lambda ids: {"subject": "Moved", "starts_at": "2030-01-03T10:00",
                  "ends_at": "2030-01-03T11:00", "contacts": str(ids["contact"])}),
    ("/admin/appointments/{appointment_id}/confirm/", "appointment.edit", lambda ids: {}),
    ("/admin/appointments/{appointment_id}/cancel/", "appointment.edit", lambda ids: {}),
    # Appointments are cancelled, never deleted; nothing is edited in the list.
    ("/admin/appointments/delete/", None, lambda ids: {"id": ids["appointment"]}),
    ("/admin/appointments/action/", None,
     lambda ids: {"action": "delete", "rowid": [str(ids["appointment"])]}),
    ("/admin/appointments/ajax/update/", None, lambda ids: {"list_form_pk": ids["appointment"]}),
    # Writing to a contact (crm.admin.contact_messages): each message sent is an interaction.
    ("/admin/contact-messages/{reachable}/email/", "contact.message",
     lambda ids: {"to": "eve@example.com", "subject": "Hello", "body": "Hi Eve"}),
    ("/admin/contact-messages/{reachable}/sms/", "contact.message",
     lambda ids: {"phone_id": str(ids["reachable_phone"]), "body": "Hi Eve"}),
]  # fmt: skip


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


# Sign-in and sign-out have their own tests (tests/auth), the JSON API its own (tests/api).
NOT_HERE = {
    "/login",
    "/logout",
    # One's own password and sessions (every role): tests/auth/test_sessions.py.
    "/admin/profile/",
    "/admin/profile/sessions/end/",
    "/admin/profile/sign-out-everywhere/",
    "/admin/profile/task-digest/",  # tests/admin/test_automations_page.py
    "/api/v1/contacts",
    "/api/v1/orders",
    "/api/v1/leads/{lead}/convert",
    # Campaigns written and sent through the API: tests/api/test_campaigns_api.py.
    "/api/v1/campaigns",
    "/api/v1/campaigns/{campaign_id}/send",
    # A contact's notes and interactions: tests/admin/test_contact_card.py.
    "/api/v1/contacts/{contact}/notes",
    "/api/v1/contacts/{contact}/interactions",
    # A generated login's one-time link (no session): tests/services/test_logins.py.
    "/set-password/{token}",
    # "Forgot password?" (no session): tests/auth/test_password_reset.py.
    "/forgot-password",
    # Marketing mail's unsubscribe link (no session): tests/services/test_consent.py.
    "/unsubscribe/{token}",
    # A campaign mail's unsubscribe page and RFC 8058 one-click URL (no session):
    # tests/services/marketing/test_unsubscribe.py.
    "/unsubscribe/c/{token}",
    "/unsubscribe/c/{token}/one-click",
    "/unsubscribe/{token}/one-click",
    # A user's own import (404 for everyone else): tests/admin/test_import_pages.py.
    "/admin/imports/{job_id}/mapping/",
    "/admin/imports/{job_id}/undo/",
    "/admin/imports/{job_id}/resume/",
}


class _Who:
    def __init__(self, roles):
        self.role_names = set(roles)
        self.is_authenticated = True
        self.is_active = True


def _path(url: str) -> str:
    return re.sub(r"[?#].*", "", url)


def test_every_write_route_is_in_the_table(app):
    known = {_path(url) for url, _, _ in WRITES} | NOT_HERE
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.endpoint.endswith(".static"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # <int:merge_id>: {merge_id}
            path = re.sub(r"\{(lead|deal|order|contact)_id\}", r"{\1}", path)
            path = path.replace("/contact-messages/{contact}/", "/contact-messages/{reachable}/")
            assert path in known, rule.rule


@pytest.fixture
def world(make_user, make_contact):
    from crm.models import AddressType, Category, Criterion, PhoneType, SocialPlatform

    admin = make_user("crm_admin")
    contact = make_contact(admin, first_name="Ana", last_name="Smith")
    from crm.services.card import files

    contact_file = files.upload_file(admin, contact, "a.pdf", io.BytesIO(b"%PDF-1.4\n%%EOF\n"))
    files.set_picture(admin, contact, "a.png", io.BytesIO(_png()))
    db.session.commit()
    member = make_contact(admin, first_name="Mo", last_name="Member")
    trashed = make_contact(admin, first_name="Tess", last_name="Trashed")
    move_to_trash(admin, select(Contact.id).where(Contact.id == trashed.id))
    account, account2 = Account(name="Acme"), Account(name="Acme Ltd")
    segment = Segment(name="Fair", kind=SegmentKind.STATIC)
    mlist = MarketingList(name="Newsletter")
    retail, free = AccessClass(name="Retail"), AccessClass(name="Unused")
    unused = {
        "phone_type": PhoneType(name="Pager"),
        "address_type": AddressType(name="Summer house"),
        "platform": SocialPlatform(name="Myspace"),
        "category": Category(name="Unused category"),
        "criterion": Criterion(name="Unused criterion"),
    }
    db.session.add_all([account, account2, segment, mlist, retail, free, *unused.values()])
    vip, loyal = tags_for_names(["VIP", "Loyal"])
    db.session.flush()
    manager = make_user("crm_manager")
    add_to_marketing_list(manager, select(Contact.id).where(Contact.id == member.id), mlist.id)
    merged = [make_contact(admin, first_name="Mo", last_name=f"Merged{i}") for i in range(2)]
    record = merge_contacts(manager, [m.id for m in merged])
    db.session.commit()
    from crm.models import Deal, Lead
    from crm.services.sales import orders

    lead = Lead(first_name="Lea", last_name="Lead", kind="b2c")
    buyer = make_contact(admin, first_name="Bea", last_name="Buyer")  # statuses move with these
    deal = Deal(title="Relaunch")
    deal.contacts = [buyer]
    db.session.add_all([lead, deal])
    order = orders.create_order(admin, buyer, {"total": "10"})
    payment = orders.record_payment(admin, buyer, {"amount": "10"})
    db.session.commit()
    from crm.models import ConnectionType
    from crm.services.card import connections, interactions, notes

    note = notes.add_note(admin, contact, "The admin's note")
    interaction = interactions.register(admin, contact, {"medium": "call", "subject": "Call"})
    kind = db.session.scalar(select(ConnectionType).where(ConnectionType.name == "Colleague"))
    friend = db.session.scalar(select(ConnectionType.id).where(ConnectionType.name == "Friend"))
    unused_kind = ConnectionType(name="Unused kind", inverse_name="Unused kind")
    db.session.add(unused_kind)
    connection = connections.connect(admin, contact, member.id, kind.id)
    reachable = make_contact(admin, first_name="Eve", last_name="Mail", email="eve@example.com",
                             phones=[{"number": "+44 7400 999888"}])  # fmt: skip
    from crm.services.card import appointments, tasks

    task = tasks.save_task(admin, None, {"title": "Call back", "contact_id": contact.id})
    appointment = appointments.save_appointment(admin, None, {
        "subject": "Visit", "starts_at": "2030-01-02T10:00", "ends_at": "2030-01-02T11:00",
        "contact_ids": [reachable.id],
    })  # fmt: skip
    from crm.services.marketing import campaigns

    campaign = campaigns.save_campaign(admin, None, {
        "name": "News", "subject": "Hi", "body_text": "Hello.", "segment_ids": [segment.id],
    })  # fmt: skip
    db.session.commit()
    versions = {r.id: r.version for r in (contact, member)}
    versions.update({a.id: a.version for a in (account, account2)})
    return {
        "versions": versions,
        "merge_id": record.id,
        "account2": account2.id,
        "contact": contact.id,
        "member": member.id,
        "trashed": trashed.id,
        "account": account.id,
        "segment": segment.id,
        "mlist": mlist.id,
        "tag": vip.id,
        "tag2": loyal.id,
        "access_class": retail.id,
        "free_class": free.id,
        "other_user": make_user("crm_sales").id,
        "audit": db.session.scalar(select(AuditEntry.id).limit(1)),
        "lead": lead.id,
        "deal": deal.id,
        "order": order.id,
        "payment": payment.id,
        "file_id": contact_file.id,
        "note_id": note.id,
        "interaction_id": interaction.id,
        "connection_type": kind.id,
        "friend": friend,
        "unused_kind": unused_kind.id,
        "connection_id": connection.id,
        "reachable": reachable.id,
        "task": task.id,
        "task_id": task.id,
        "appointment": appointment.id,
        "appointment_id": appointment.id,
        "reachable_phone": reachable.phones[0].id,
        "campaign": campaign.id,
        **{key: item.id for key, item in unused.items()},
    }


def _client_for(app, make_user, roles, ids):
    """A signed-in client for a new user with `roles`, with a saved view and a selection of
    its own (so that clearing and deleting them has something to change)."""
    user = make_user(*roles)
    db.session.add(SavedView(user_id=user.id, name="Berlin", query="flt0_city_is=Berlin"))
    token = ApiToken(user_id=user.id, name="Own", token_hash=f"{user.id:064d}", prefix="crm_x")
    db.session.add(token)
    db.session.flush()
    ids = {
        **ids,
        "view": db.session.scalar(select(SavedView.id).where(SavedView.user_id == user.id)),
        "api_token": token.id,
    }
    if roles:
        selection.add(user, [ids["member"]])
    db.session.commit()
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    token = csrf_from(client.get("/admin/").get_data(as_text=True))
    return client, token, ids


@pytest.mark.parametrize("url, permission, data", WRITES, ids=[w[0] for w in WRITES])
def test_only_the_roles_the_matrix_allows_change_anything(
    app, make_user, world, url, permission, data
):
    role_sets = [(), *((role,) for role in ROLES)]
    allowed = [r for r in role_sets if permission and can(_Who(r), permission)]
    refused = [r for r in role_sets if r not in allowed]
    clients = {roles: _client_for(app, make_user, roles, world) for roles in role_sets}
    before = snapshot()
    target = url.split("#")[0]
    for roles in refused:
        client, token, ids = clients[roles]
        response = client.post(target.format(**ids), data={**data(ids), "csrf_token": token})
        # Refused outright, or the form shown again with the reason (200): never changed.
        assert response.status_code in (200, 302, 400, 403, 404, 405), (roles, response.status_code)
        assert changed_tables(before, snapshot()) == [], roles
    if allowed:
        client, token, ids = clients[allowed[0]]
        response = client.post(target.format(**ids), data={**data(ids), "csrf_token": token})
        assert response.status_code in (200, 201, 302), (allowed[0], response.status_code)
        assert changed_tables(before, snapshot()) != [], (allowed[0], "nothing changed")
