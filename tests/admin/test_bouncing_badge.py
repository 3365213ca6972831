"""The contact card marks a bouncing address with a badge: the reason and date on hover."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from crm.extensions import db
from crm.models import BouncingAddress
from crm.services.marketing import bounces

POSTFIX = Path(__file__).resolve().parents[1] / "fixtures" / "bounces" / "postfix-user-unknown.eml"
BADGE = re.compile(r'<span class="badge badge-warning contact-bouncing"[^>]*title="([^"]*)"')


def _emails_box(client, contact) -> str:
    html = client.get(f"/admin/contact/details/?id={contact.id}").get_data(as_text=True)
    start = html.index('id="details-emails"')
    return html[start : html.index("</ul>", start)]


def test_a_bouncing_address_carries_a_badge_with_its_reason(app, client, login_as, make_contact):
    login_as("crm_sales")
    contact = make_contact(email="gone@example.org", email_secondary="fine@example.org")
    assert "contact-bouncing" not in _emails_box(client, contact)

    bounces.record_bounces(POSTFIX)
    db.session.commit()
    box = _emails_box(client, contact)
    titles = BADGE.findall(box)
    assert titles == [
        "Mail to this address bounces: The mailbox does not exist (5.1.1): Recipient address "
        "rejected: User unknown in virtual mailbox table. Last bounce 2026-11-03 10:15."
    ]
    gone, fine = box.index("gone@example.org"), box.index("fine@example.org")
    assert gone < box.index("Bouncing") < fine  # beside the address that bounces

    # Shown in the office's time zone; what a server said is text, never markup.
    app.config["CRM_TIMEZONE"] = "Europe/Oslo"
    row = db.session.get(BouncingAddress, "gone@example.org")
    row.reason, row.bounces = "<b>Blocked</b> & gone", 3
    row.last_bounced_at = datetime(2026, 11, 5, 9, 30, tzinfo=UTC)
    db.session.commit()
    assert BADGE.findall(_emails_box(client, contact)) == [
        "Mail to this address bounces: &lt;b&gt;Blocked&lt;/b&gt; &amp; gone. Last bounce "
        "2026-11-05 10:30 (3 bounces)."
    ]

    # A new address is not bouncing.
    contact.email = "new@example.org"
    db.session.commit()
    assert "contact-bouncing" not in _emails_box(client, contact)
