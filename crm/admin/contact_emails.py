"""A contact's Emails and Campaigns tabs, and the page that shows one message whole. The
routes are a view of their own (not in the menu), opened by contact.view on a contact the
user may see; the work is crm.services.card.emails'."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, has_request_context, request, url_for
from flask_admin import expose
from flask_login import current_user

from crm.admin.pages import ContactPageActions
from crm.auth.permissions import can
from crm.errors import NotFound, PermissionDenied
from crm.services.card import emails

# The campaign page (Marketing > Campaigns): linked to once it exists.
CAMPAIGN_PAGE = "campaign.details_view"


def _page_arg(name: str) -> int:
    args = request.args if has_request_context() else {}
    return emails.page_number(args.get(name))


@dataclass
class EmailsTab:
    """What the Emails tab shows: a page of messages, and the links to the next ones."""

    page: emails.EmailsPage
    contact_id: int

    def message_url(self, row: emails.EmailRow) -> str:
        return message_url(self.contact_id, row)

    def page_url(self, page: int) -> str:
        return url_for("contact.details_view", id=self.contact_id, tab="emails",
                       email_page=page) + "#tab-emails"  # fmt: skip


@dataclass
class CampaignsTab:
    """What the Campaigns tab shows: the campaigns the contact was in, a page at a time."""

    page: emails.CampaignsPage
    contact_id: int
    campaign_links: bool  # the campaign pages exist and the user may open them

    def campaign_url(self, row: emails.CampaignRow) -> str | None:
        return url_for(CAMPAIGN_PAGE, id=row.campaign_id) if self.campaign_links else None

    def mail_url(self, row: emails.CampaignRow) -> str | None:
        if not row.emailed:
            return None
        return url_for("contact_emails.campaign_mail", contact_id=self.contact_id,
                       recipient_id=row.recipient_id)  # fmt: skip

    def page_url(self, page: int) -> str:
        return url_for("contact.details_view", id=self.contact_id, tab="campaigns",
                       campaign_page=page) + "#tab-campaigns"  # fmt: skip


def message_url(contact_id: int, row: emails.EmailRow) -> str:
    """The page showing the message of `row`."""
    if row.source == "campaign":
        return url_for("contact_emails.campaign_mail", contact_id=contact_id, recipient_id=row.id)
    return url_for("contact_emails.sent_email", contact_id=contact_id, email_id=row.id)


def emails_tab(user: Any, contact: Any) -> EmailsTab | None:
    """The Emails tab of the contact's page for `user` (`?email_page=` picks the page)."""
    if not can(user, "contact.view"):
        return None
    page = emails.emails_of_contact(user, contact.id, _page_arg("email_page"))
    return EmailsTab(page, contact.id)


def campaigns_tab(user: Any, contact: Any) -> CampaignsTab | None:
    """The Campaigns tab of the contact's page for `user` (`?campaign_page=`)."""
    if not can(user, "contact.view"):
        return None
    page = emails.campaigns_of_contact(user, contact.id, _page_arg("campaign_page"))
    links = can(user, "campaign.view")
    return CampaignsTab(page, contact.id, links)


class ContactEmailsView(ContactPageActions):
    """The page of one message sent to a contact (from its Emails or Campaigns tab)."""

    def __init__(self, **kwargs: Any):
        super().__init__(name="Email to a contact", endpoint="contact_emails",
                         url="/admin/contact-emails", **kwargs)  # fmt: skip

    def _show(self, contact_id: int, read) -> Any:
        contact = self.contact(contact_id, "contact.view")
        try:
            message = read(contact)
        except NotFound:
            abort(404)
        except PermissionDenied:
            abort(403)
        back = url_for("contact.details_view", id=contact.id, tab="emails") + "#tab-emails"
        return self.render("admin/contact_card/email_message.html", contact=contact,
                           message=message, back_url=back)  # fmt: skip

    @expose("/<int:contact_id>/sent/<int:email_id>/")
    def sent_email(self, contact_id: int, email_id: int):
        """A message of the email log, whole."""
        return self._show(contact_id, lambda c: emails.sent_email(current_user, c.id, email_id))

    @expose("/<int:contact_id>/campaign/<int:recipient_id>/")
    def campaign_mail(self, contact_id: int, recipient_id: int):
        """A campaign's mail to the contact, made again from the campaign's message."""
        return self._show(
            contact_id, lambda c: emails.campaign_mail(current_user, c.id, recipient_id)
        )
