"""Every admin page as every role: who sees what, who gets 403, who is sent to login."""

from __future__ import annotations

import re

import pytest

from crm.auth.permissions import PERMISSIONS, can
from crm.extensions import db
from crm.models import AuditEntry, Contact
from crm.services.lists.tags import tags_for_names
from tests.conftest import ROLES, csrf_from, login

# Every GET page of the admin, with the permission that opens it.
PAGES: dict[str, str] = {
    "/admin/contact/": "contact.view",
    "/admin/contact/?search=ith&show=all": "contact.view",
    "/admin/contact/new/": "contact.create",
    "/admin/contact/edit/?id={contact}": "contact.edit",
    "/admin/contact/details/?id={contact}": "contact.view",
    "/admin/contact/ajax/lookup/?name=manager&query=sm": "contact.view",
    "/admin/contact/filter-options/?arg=country_is": "contact.view",
    "/admin/contact/?show=selected": "contact.view",
    "/admin/contact/bulk/?target=selection": "contact.bulk_edit",
    "/admin/contact/bulk/?target=matching&flt0_tag_is=VIP": "contact.bulk_edit",
    "/admin/contact/bulk/?target=ids&ids={contact}": "contact.bulk_edit",
    "/admin/trash/": "contact.restore",
    "/admin/duplicates/": "contact.merge",
    "/admin/duplicates/?among=selection": "contact.merge",
    "/admin/duplicates/?among=matching&flt0_tag_is=VIP&search=smi&show=all": "contact.merge",
    "/admin/merge/": "contact.merge",
    "/admin/merge/contacts/?ids={contact}&ids={contact2}": "contact.merge",
    "/admin/merge/accounts/?ids={account}&ids={account2}": "contact.merge",
    "/admin/merge/{merge_id}/": "contact.merge",
    "/admin/imports/": "contact.import",
    "/admin/exports/": "contact.export",
    # Another user's import or export: followed by those with job.view_all only.
    "/admin/imports/{import_job}/": "job.view_all",
    "/admin/imports/{import_job}/status.json": "job.view_all",
    "/admin/exports/{export_id}/": "job.view_all",
    "/admin/exports/{export_id}/status.json": "job.view_all",
    "/admin/segments/": "contact.view",
    "/admin/segments/new/": "segment.manage",
    "/admin/segments/new/?query=flt0_tag_is%3DVIP": "segment.manage",
    "/admin/segments/edit/?id={segment}": "segment.manage",
    "/admin/marketing-lists/": "contact.view",
    "/admin/marketing-lists/new/": "marketing_list.manage",
    "/admin/marketing-lists/edit/?id={mlist}": "marketing_list.manage",
    "/admin/marketing-lists/members/?id={mlist}": "contact.view",
    "/admin/tags/": "contact.view",
    "/admin/responsibles/": "contact.view",
    "/admin/tags/manage/": "tag.manage",
    "/admin/tags/manage/?search=vi": "tag.manage",
    "/admin/tags/manage/edit/?id={tag}": "tag.manage",
    "/admin/tags/manage/confirm-delete/?id={tag}": "tag.manage",
    "/admin/tags/manage/merge/?ids={tag}&ids={tag2}": "tag.manage",
    "/admin/categories/": "lookup.manage",
    "/admin/categories/new/": "lookup.manage",
    "/admin/categories/edit/?id=1": "lookup.manage",
    "/admin/criteria/": "lookup.manage",
    "/admin/criteria/new/": "lookup.manage",
    "/admin/criteria/edit/?id=1": "lookup.manage",
    "/admin/account/": "account.view",
    "/admin/account/new/": "account.create",
    "/admin/account/edit/?id={account}": "account.edit",
    "/admin/account/details/?id={account}": "account.view",
    "/admin/phone-types/": "lookup.manage",
    "/admin/phone-types/new/": "lookup.manage",
    "/admin/phone-types/edit/?id=1": "lookup.manage",
    "/admin/address-types/": "lookup.manage",
    "/admin/address-types/new/": "lookup.manage",
    "/admin/address-types/edit/?id=1": "lookup.manage",
    "/admin/social-platforms/": "lookup.manage",
    "/admin/social-platforms/new/": "lookup.manage",
    "/admin/social-platforms/edit/?id=1": "lookup.manage",
    "/admin/users/": "user.manage",
    "/admin/users/new/": "user.manage",
    "/admin/users/edit/?id={user}": "user.manage",
    "/admin/users/details/?id={user}": "user.manage",
    "/admin/roles/": "user.manage",
    "/admin/access-classes/": "access_class.manage",
    "/admin/access-classes/new/": "access_class.manage",
    "/admin/access-classes/edit/?id={access_class}": "access_class.manage",
    "/admin/history/": "audit.view",
    "/admin/permissions/": "permissions.view",
    "/admin/api-tokens/": "api.tokens",
    "/admin/profile/": "profile.edit",
    "/admin/automations/": "automation.manage",
    "/admin/history/details/?id={audit}": "audit.view",
    "/admin/lead/": "lead.view",
    "/admin/lead/?search=smi&flt0_status_equals=new": "lead.view",
    "/admin/lead/new/": "lead.edit",
    "/admin/lead/edit/?id={lead}": "lead.edit",
    "/admin/lead/details/?id={lead}": "lead.view",
    "/admin/deal/": "deal.view",
    "/admin/deal/new/": "deal.edit",
    "/admin/deal/new/?contact_id={contact}": "deal.edit",
    "/admin/deal/edit/?id={deal}": "deal.edit",
    "/admin/deal/details/?id={deal}": "deal.view",
    "/admin/deal/ajax/lookup/?name=contacts&query=smi": "deal.view",
    "/admin/order/": "order.view",
    "/admin/order/details/?id={order}": "order.view",
    "/admin/payment/": "order.view",
    "/admin/payment/details/?id={payment}": "order.view",
    "/admin/contact/details/?id={contact}&tab=history&since=2020-01-01&until=2030-12-31": (
        "contact.view"
    ),
    "/admin/contact-card/{contact_id}/comments.json?after=0": "contact.view",
    "/admin/contact-messages/{contact_id}/email/": "contact.message",
    "/admin/contact-messages/{contact_id}/sms/": "contact.message",
    "/admin/interactions/": "contact.view",
    "/admin/interactions/?flt0_medium_equals=call": "contact.view",
    "/admin/interactions/new/": "interaction.edit",
    "/admin/interactions/new/?contact_id={contact}": "interaction.edit",
    "/admin/interactions/edit/?id={interaction}": "interaction.edit",
    "/admin/interactions/details/?id={interaction}": "contact.view",
    "/admin/interactions/ajax/lookup/?name=contact&query=smi": "contact.view",
    "/admin/tasks/": "contact.view",
    "/admin/tasks/?show=overdue&flt0_owner_is=me": "contact.view",
    "/admin/tasks/new/": "task.edit",
    "/admin/tasks/new/?contact_id={contact}": "task.edit",
    "/admin/tasks/edit/?id={task}": "task.edit",
    "/admin/tasks/details/?id={task}": "contact.view",
    "/admin/tasks/ajax/lookup/?name=contact&query=smi": "contact.view",
    "/admin/appointments/": "contact.view",
    "/admin/appointments/new/": "appointment.edit",
    "/admin/appointments/new/?contact_id={contact}": "appointment.edit",
    "/admin/appointments/edit/?id={appointment}": "appointment.edit",
    "/admin/appointments/details/?id={appointment}": "contact.view",
    "/admin/appointments/ajax/lookup/?name=contacts&query=smi": "contact.view",
    "/admin/connection-types/": "lookup.manage",
    "/admin/connection-types/new/": "lookup.manage",
    "/admin/connection-types/edit/?id=1": "lookup.manage",
    "/admin/contact-files/{file_id}/download/": "contact.view",
    "/admin/contact-files/{contact_id}/picture/": "contact.view",
    "/admin/campaigns/": "campaign.view",
    "/admin/campaigns/?flt0_status_equals=draft": "campaign.view",
    "/admin/campaigns/new/": "campaign.edit",
    "/admin/campaigns/new/?segment={segment}": "campaign.edit",
    "/admin/campaigns/edit/?id={campaign}": "campaign.edit",
    "/admin/campaigns/details/?id={campaign}": "campaign.view",
    "/admin/campaigns/details/?id={campaign}&preview_as=Smith": "campaign.view",
    "/admin/campaigns/progress/?id={campaign}": "campaign.view",
    "/admin/contact-emails/{contact_id}/sent/{email_id}/": "contact.view",
    "/admin/contact-emails/{contact_id}/campaign/{recipient_id}/": "contact.view",
}
OTHERS_JOBS = {url for url, permission in PAGES.items() if permission == "job.view_all"}
# Pages that exist but show nothing to anyone (fixed roles, append-only history, lookups
# without a details page, views without autocomplete): a redirect, 403 or 404.
CLOSED = [
    # Another user's import mapping and export file (theirs only, whoever follows them).
    "/admin/imports/{import_job}/mapping/",
    "/admin/exports/{export_id}/download/",
    "/admin/roles/new/",
    "/admin/history/new/",
    "/admin/history/edit/?id={audit}",
    "/admin/roles/edit/?id=1",
    "/admin/roles/details/?id=1",
    "/admin/trash/new/",
    "/admin/segments/details/?id={segment}",
    "/admin/marketing-lists/details/?id={mlist}",
    "/admin/segments/ajax/lookup/?name=owner&query=a",
    "/admin/marketing-lists/ajax/lookup/?name=owner&query=a",
    "/admin/trash/edit/?id={contact}",
    "/admin/trash/details/?id={contact}",
    "/admin/trash/ajax/lookup/?name=owner&query=a",
    *(
        f"/admin/{view}/details/?id=1"
        for view in (
            "phone-types",
            "address-types",
            "social-platforms",
            "categories",
            "criteria",
            "access-classes",
            "connection-types",
        )
    ),
    "/admin/tags/manage/new/",
    "/admin/tags/manage/details/?id={tag}",
    "/admin/contact/ajax/lookup/?name=nope&query=a",
    "/admin/contact-lifecycle/",  # a redirect to the contacts
    "/admin/contact-files/",  # a redirect to the contacts
    "/admin/contact-card/",  # a redirect to the contacts
    "/admin/contact-emails/",  # a redirect to the contacts
    "/admin/contact-messages/",  # a redirect to the contacts
    # Orders and payments are written by services (the API, the contact's page) only.
    "/admin/order/new/",
    "/admin/order/edit/?id={order}",
    "/admin/payment/new/",
    "/admin/payment/edit/?id={payment}",
    "/admin/lead/ajax/lookup/?name=owner&query=a",
    "/admin/campaigns/ajax/lookup/?name=owner&query=a",
    "/admin/order/ajax/lookup/?name=owner&query=a",
    "/admin/payment/ajax/lookup/?name=owner&query=a",
    *(
        f"/admin/{view}/ajax/lookup/?name=owner&query=a"
        for view in (
            "account",
            "phone-types",
            "address-types",
            "social-platforms",
            "categories",
            "criteria",
            "tags/manage",
            "users",
            "roles",
            "history",
            "access-classes",
            "connection-types",
        )
    ),
]


class _Who:
    def __init__(self, roles):
        self.role_names = set(roles)
        self.is_authenticated = True
        self.is_active = True


@pytest.fixture
def ids(make_contact, make_user):
    from crm.models import AccessClass, Account, MarketingList, Segment
    from crm.services.merge.contacts import merge_contacts

    contact = make_contact(first_name="Ana", last_name="Smith")
    contact2 = make_contact(first_name="Anna", last_name="Smith")
    merged = [make_contact(first_name="Mo", last_name=f"Merged{i}") for i in range(2)]
    record = merge_contacts(make_user("crm_manager"), [m.id for m in merged])
    from crm.services.transfer.importing.jobs import create_job

    import_job = create_job(make_user("crm_manager"), b"First name,Last name\nA,B\n", "a.csv")
    from sqlalchemy import select

    from crm.services.transfer.export_jobs import start_export

    export_job = start_export(make_user("crm_manager"), select(Contact.id), "csv", "everyone")
    account, account2 = Account(name="Acme"), Account(name="Acme Ltd")
    segment = Segment(name="Fair")
    mlist = MarketingList(name="Newsletter")
    retail = AccessClass(name="Retail")
    db.session.add_all([account, account2, segment, mlist, retail])
    vip, loyal = tags_for_names(["VIP", "Loyal"])
    db.session.commit()
    from crm.models import Deal, Lead
    from crm.services.sales import orders

    admin = make_user("crm_admin")
    lead = Lead(first_name="Lea", last_name="Smith", company="Acme")
    deal = Deal(title="Relaunch")
    deal.contacts = [contact]
    db.session.add_all([lead, deal])
    import io

    from PIL import Image

    from crm.services.card import files

    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(picture, "PNG")
    picture.seek(0)
    contact_file = files.upload_file(admin, contact, "a.pdf", io.BytesIO(b"%PDF-1.4\n%%EOF\n"))
    files.set_picture(admin, contact, "a.png", picture)
    from crm.services.card import interactions

    interaction = interactions.register(admin, contact, {"medium": "call", "subject": "Call"})
    from crm.services.card import appointments, tasks

    task = tasks.save_task(admin, None, {"title": "Call back", "contact_id": contact.id})
    appointment = appointments.save_appointment(admin, None, {
        "subject": "Visit", "starts_at": "2030-01-02T10:00", "ends_at": "2030-01-02T11:00",
        "contact_ids": [contact.id],
    })  # fmt: skip
    from crm.services.marketing import campaigns

    campaign = campaigns.save_campaign(admin, None, {
        "name": "News", "subject": "Hi {{ first_name }}", "body_text": "Hello.",
        "segment_ids": [segment.id],
    })  # fmt: skip
    order = orders.create_order(admin, contact, {"total": "10"})
    from crm.models import Campaign, CampaignRecipient, EmailKind
    from crm.services.marketing import email_log
    from crm.services.platform import mail

    sent = email_log.record(EmailKind.ONE_OFF, contact, "ana@example.com",
                            mail.Mail(to=["ana@example.com"], subject="Hi", body="Hello"),
                            message_id=None, actor=admin)  # fmt: skip
    campaign = Campaign(name="Spring", subject="Hi", body_text="Hello")
    db.session.add(campaign)
    db.session.flush()
    recipient = CampaignRecipient(campaign_id=campaign.id, contact_id=contact.id,
                                  email="ana@example.com")  # fmt: skip
    db.session.add(recipient)
    payment = orders.record_payment(admin, contact, {"amount": "10"})
    db.session.commit()
    return {
        "tag": vip.id,
        "tag2": loyal.id,
        "contact": contact.id,
        "contact2": contact2.id,
        "merge_id": record.id,
        "import_job": import_job.id,
        "export_id": export_job.id,
        "account": account.id,
        "account2": account2.id,
        "segment": segment.id,
        "mlist": mlist.id,
        "access_class": retail.id,
        "user": make_user("crm_sales").id,
        "audit": db.session.query(AuditEntry.id).first()[0],
        "lead": lead.id,
        "deal": deal.id,
        "order": order.id,
        "payment": payment.id,
        "file_id": contact_file.id,
        "contact_id": contact.id,
        "interaction": interaction.id,
        "task": task.id,
        "appointment": appointment.id,
        "campaign": campaign.id,
        "email_id": sent.id,
        "recipient_id": recipient.id,
    }


def test_every_admin_page_is_in_the_table(app):
    """A new admin page must be added to PAGES (and so be checked for every role)."""
    known = {re.sub(r"\?.*", "", url) for url in [*PAGES, *CLOSED]}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin/") or "GET" not in rule.methods:
            continue
        if rule.endpoint.endswith(".static") or rule.rule.endswith(
            ("/export/<export_type>/", "/ajax/update/", "/action/", "/delete/")
        ):
            continue
        if rule.rule in ("/admin/",):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # /<int:merge_id>/: {merge_id}
        path = path.replace("{job_id}", "{import_job}")
        assert path in known or path.rstrip("/") + "/" in known, rule.rule


@pytest.mark.parametrize("roles", [(), *((role,) for role in ROLES)], ids=lambda r: r or "none")
def test_every_page_as_every_role(client, make_user, ids, roles):
    user = make_user(*roles)
    assert login(client, user.email).status_code == 302
    who = _Who(roles)
    for template, permission in PAGES.items():
        url = template.format(**ids)
        response = client.get(url)
        response.close()  # a download holds its file open until then
        status = response.status_code
        # Pages, downloads and refusals alike: nothing kept by a browser or proxy.
        assert response.headers["Cache-Control"] == "private, no-store", (roles, url)
        if can(who, permission):
            assert status == 200, (roles, url, status)
        else:  # another user's job is "not found" to those who may import or export
            refused = {403, 404} if template in OTHERS_JOBS else {403}
            assert status in refused, (roles, url, status)
    for template in CLOSED:
        url = template.format(**ids)
        response = client.get(url)
        assert response.status_code in (302, 403, 404), (roles, url)  # never shown
        assert response.headers["Cache-Control"] == "private, no-store", (roles, url)
    home = client.get("/admin/")
    assert home.status_code == 200 and home.headers["Cache-Control"] == "private, no-store"


def test_signed_out_visitors_are_sent_to_login_from_every_page(client, ids):
    for template in PAGES:
        response = client.get(template.format(**ids))
        assert response.status_code == 302, template
        assert response.headers["Cache-Control"] == "private, no-store", template
        assert response.headers["Location"].startswith("/login?next=")


def test_permission_table_names_every_role_it_grants():
    for action, roles in PERMISSIONS.items():
        assert roles <= set(ROLES), action


def test_sales_cannot_delete_contacts_even_by_posting(client, login_as, make_contact):
    ana = make_contact()
    login_as("crm_sales")
    token = csrf_from(client.get("/admin/contact/").get_data(as_text=True))
    response = client.post("/admin/contact/delete/", data={"id": ana.id, "csrf_token": token})
    assert response.status_code == 403
    response = client.post(
        "/admin/contact/action/",
        data={"action": "delete", "rowid": [str(ana.id)], "csrf_token": token},
    )
    assert db.session.get(Contact, ana.id) is not None
    assert response.status_code in (302, 403)


def test_list_manager_cannot_post_a_contact(client, login_as):
    login_as("crm_list_manager")
    response = client.post("/admin/contact/new/", data={"first_name": "X", "last_name": "Y"})
    assert response.status_code in (400, 403)
    assert db.session.query(Contact).count() == 0


def test_manager_bulk_deletes_selected_contacts(client, login_as, make_contact):
    first, second, kept = (make_contact(first_name=n) for n in ("One", "Two", "Kept"))
    login_as("crm_manager")
    token = csrf_from(client.get("/admin/contact/").get_data(as_text=True))
    response = client.post(
        "/admin/contact/action/",
        data={"action": "delete", "rowid": [str(first.id), str(second.id)], "csrf_token": token},
    )
    assert response.status_code == 302
    live = db.session.query(Contact).filter(Contact.deleted_at.is_(None))
    assert [c.first_name for c in live] == ["Kept"]  # the others are in the trash
    without_token = client.post(
        "/admin/contact/action/", data={"action": "delete", "rowid": [str(kept.id)]}
    )
    assert without_token.status_code == 400
    assert live.count() == 1


def test_autocomplete_caps_the_page_size(client, login_as, make_contact):
    for index in range(30):
        make_contact(first_name=f"Sam{index}", last_name="Smithers")
    login_as("crm_sales")
    response = client.get("/admin/contact/ajax/lookup/?name=manager&query=smi&limit=100000")
    assert response.status_code == 200
    assert len(response.get_json()) == 20


def test_a_type_in_use_cannot_be_deleted_but_can_be_deactivated(client, login_as, make_contact):
    from crm.models import PhoneType

    make_contact(phones=[{"type": "Mobile", "country_code": "GB", "number": "07400 123456"}])
    mobile = db.session.query(PhoneType).filter_by(name="Mobile").one()
    login_as("crm_list_manager")
    page = client.get("/admin/phone-types/")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/admin/phone-types/delete/",
        data={"id": mobile.id, "csrf_token": token},
        follow_redirects=True,
    )
    assert "is used by 1 phone number(s) and cannot be deleted" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PhoneType, mobile.id) is not None
    unused_id = db.session.query(PhoneType).filter_by(name="Fax").one().id
    client.post("/admin/phone-types/delete/", data={"id": unused_id, "csrf_token": token})
    assert db.session.get(PhoneType, unused_id) is None


# GET pages outside the admin table, also walked below.
OTHER_GETS = ["/", "/login", "/logout", "/healthz", "/admin/", "/no-such-page"]


@pytest.mark.parametrize("roles", [(), *((role,) for role in ROLES)], ids=lambda r: r or "none")
def test_walking_every_get_route_changes_nothing(client, make_user, ids, roles):
    """Every state change needs a POST with a CSRF token: no GET writes anything."""
    from tests.db_state import changed_tables, snapshot

    user = make_user(*roles)
    assert login(client, user.email).status_code == 302
    before = snapshot()
    for template in [*PAGES, *CLOSED, *OTHER_GETS]:
        client.get(template.format(**ids)).close()  # a download holds its file until closed
    assert changed_tables(before, snapshot()) == []
    # The same comparison sees a real change (a sign-out is a POST, and is recorded nowhere,
    # but a sign-in is).
    login(client.application.test_client(), user.email)
    assert "login_attempts" in changed_tables(before, snapshot())
