"""Bounces: delivery status notifications read from .eml files, folders and mboxes mark the
addresses that fail for good, and the campaign mail that bounced."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import BouncingAddress, Campaign, CampaignRecipient, Contact, RecipientStatus
from crm.services.marketing import bounces
from crm.services.marketing.bounces import BounceFileError
from crm.services.platform.local_time import as_utc
from tests.services.conftest import count

BOUNCES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
POSTFIX = BOUNCES / "postfix-user-unknown.eml"
MBOX = BOUNCES / "mixed.mbox"
DELAYED = BOUNCES / "delayed-mailbox-full.eml"
QMAIL = BOUNCES / "qmail-failure-notice.eml"


def recipient(contact: Contact, email: str, message_id: str | None, sent: datetime,
              name: str = "Autumn offers") -> CampaignRecipient:  # fmt: skip
    campaign = Campaign(name=name, subject="Our autumn offers", body_text="Hello")
    row = CampaignRecipient(
        campaign=campaign, contact_id=contact.id, email=email, status=RecipientStatus.SENT,
        sent_at=sent, message_id=message_id,
    )  # fmt: skip
    db.session.add(row)
    db.session.commit()
    return row


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_dsn_marks_its_address_and_the_campaign_mail_it_names(app, make_contact):
    contact = make_contact(email="gone@example.org")
    bounced = recipient(contact, "gone@example.org", "<173062890.1234.5678@crm.example.com>",
                        at("2026-11-03 10:00"))  # fmt: skip
    later = recipient(contact, "gone@example.org", "<other@crm.example.com>",
                      at("2026-11-04 10:00"), name="Winter offers")  # fmt: skip

    report = bounces.record_bounces(POSTFIX)
    db.session.commit()

    assert (report.files, report.messages, report.bounces) == (1, 1, 1)
    assert report.addresses == ["gone@example.org"] and report.recipients == 1
    assert report.skipped == []
    row = bounces.bouncing("Gone@Example.org ")
    assert row.bounces == 1
    assert row.reason == (
        "The mailbox does not exist (5.1.1): Recipient address rejected: User unknown in "
        "virtual mailbox table"
    )
    assert as_utc(row.first_bounced_at) == as_utc(row.last_bounced_at) == at("2026-11-03 10:15:01")
    db.session.expire_all()
    assert as_utc(db.session.get(CampaignRecipient, bounced.id).bounced_at) == at(
        "2026-11-03 10:15:01"
    )
    # The Message-ID names the mail: the later campaign to the same address is not touched.
    assert db.session.get(CampaignRecipient, later.id).bounced_at is None
    assert bounces.bouncing("someone.else@example.org") is None
    assert bounces.bouncing("") is None


def test_an_mbox_with_two_bounces_and_a_reply_marks_two_addresses(app):
    report = bounces.record_bounces(MBOX)
    db.session.commit()

    assert (report.files, report.messages, report.bounces) == (1, 3, 2)
    assert report.addresses == ["old.address@gmail.com", "nobody@closed.example.org"]
    assert report.skipped == [
        ("mixed.mbox, message 2", "not a delivery status notification (no bounce in it)")
    ]
    gmail = bounces.bouncing("old.address@gmail.com")
    assert gmail.reason.startswith(
        "The mailbox does not exist (5.1.1): The email account that you tried to reach does "
        "not exist. Please try double-checking"
    )
    assert "550" not in gmail.reason and "smtp;" not in gmail.reason
    # Exim's X-Failed-Recipients bounce: the server's answer in plain words.
    assert bounces.bouncing("nobody@closed.example.org").reason == (
        "The mailbox is disabled (5.2.1): This mailbox has been disabled"
    )
    assert bounces.bouncing("bob@example.com") is None  # the out-of-office reply


def test_a_temporary_failure_marks_nothing(app):
    report = bounces.record_bounces(DELAYED)
    db.session.commit()
    assert (report.messages, report.bounces, report.addresses) == (1, 0, [])
    assert report.skipped == [
        ("delayed-mailbox-full.eml", "full@example.org: a temporary failure (4.2.2), not a bounce")
    ]
    assert count(BouncingAddress) == 0


def test_without_a_message_id_the_address_s_latest_campaign_mail_bounced(app, make_contact):
    contact = make_contact(email="left.company@example.net")
    older = recipient(contact, "left.company@example.net", "<a@x>", at("2026-10-01 09:00"))
    newer = recipient(contact, "left.company@example.net", "<b@x>", at("2026-11-06 09:00"),
                      name="Winter offers")  # fmt: skip

    report = bounces.record_bounces(QMAIL)  # qmail's "failure notice": no headers returned
    db.session.commit()

    assert report.addresses == ["left.company@example.net"] and report.recipients == 1
    db.session.expire_all()
    assert db.session.get(CampaignRecipient, newer.id).bounced_at is not None
    assert db.session.get(CampaignRecipient, older.id).bounced_at is None
    assert bounces.bouncing("left.company@example.net").reason.startswith(
        "The mailbox does not exist (5.1.1): 192.0.2.40 does not like recipient."
    )


def test_a_folder_is_read_whole_and_the_same_bounce_is_counted_once(app, tmp_path):
    folder = tmp_path / "bounces"
    shutil.copytree(BOUNCES, folder)
    (folder / "notes.txt").write_text("not a mail at all\n")
    (folder / ".hidden.eml").write_bytes(POSTFIX.read_bytes())

    first = bounces.record_bounces(folder)
    db.session.commit()
    assert (first.files, first.messages, first.bounces) == (5, 6, 4)
    assert sorted(first.addresses) == [
        "gone@example.org", "left.company@example.net", "nobody@closed.example.org",
        "old.address@gmail.com",
    ]  # fmt: skip
    assert ("notes.txt", "not an email: it starts with no mail header") in first.skipped

    again = bounces.record_bounces(folder)
    db.session.commit()
    assert again.addresses == [] and again.recipients == 0
    assert ("postfix-user-unknown.eml", "gone@example.org: this bounce was recorded before") in (
        again.skipped
    )
    assert {row.bounces for row in db.session.scalars(select(BouncingAddress))} == {1}

    # A new bounce a week later counts, and its reason is now the address's.
    later = POSTFIX.read_bytes().replace(b"Tue,  3 Nov 2026 10:15:01", b"Tue, 10 Nov 2026 08:00:00")
    later = later.replace(b"Status: 5.1.1", b"Status: 5.2.1")
    (tmp_path / "later.eml").write_bytes(later)
    report = bounces.record_bounces(tmp_path / "later.eml")
    db.session.commit()
    assert report.addresses == ["gone@example.org"]
    row = bounces.bouncing("gone@example.org")
    assert row.bounces == 2
    assert as_utc(row.first_bounced_at) == at("2026-11-03 10:15:01")
    assert as_utc(row.last_bounced_at) == at("2026-11-10 08:00:00")
    assert row.reason.startswith("The mailbox is disabled (5.2.1)")


def test_unreadable_input_records_nothing(app, tmp_path):
    with pytest.raises(BounceFileError, match="does not exist"):
        bounces.record_bounces(tmp_path / "missing.mbox")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BounceFileError, match="holds no files"):
        bounces.record_bounces(tmp_path / "empty")
    garbage = tmp_path / "picture.eml"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(BounceFileError, match="is not an email"):
        bounces.record_bounces(garbage)

    if not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux's /proc/self/mem: a file even root cannot read")
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(POSTFIX, folder / "a.eml")  # read first, then the unreadable one
    (folder / "b.eml").symlink_to("/proc/self/mem")
    with pytest.raises(BounceFileError, match=r"Could not read .*b\.eml: Input/output error"):
        bounces.record_bounces(folder)
    db.session.rollback()
    assert count(BouncingAddress) == 0


def test_a_bouncing_address_is_found_by_a_query_until_the_address_changes(app, make_contact):
    bouncing_one = make_contact(first_name="Gone", email="gone@example.org")
    fine = make_contact(first_name="Fine", email="fine@example.org")
    make_contact(first_name="Nobody", email=None)
    bounces.record_bounces(POSTFIX)
    db.session.commit()

    def bouncing_names() -> list[str]:
        query = select(Contact.first_name).where(bounces.address_bounces(Contact.email))
        return list(db.session.scalars(query.order_by(Contact.first_name)))

    assert bouncing_names() == ["Gone"]
    assert fine.first_name not in bouncing_names()
    bouncing_one.email = "new.address@example.org"
    db.session.commit()
    assert bouncing_names() == []
