"""The demo's campaigns, so that Marketing > Campaigns and the cards' Campaigns and Emails
tabs have something on a first visit: a newsletter sent in October (its recipients resolved
by the same rules as any campaign, a few of them unsubscribed or bounced since), an
invitation scheduled for later, and a draft. No mail leaves the machine: the sent campaign's
recipients are recorded as sent on the day it went out."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select, update

from crm.extensions import db
from crm.models import (
    BouncingAddress,
    CampaignRecipient,
    CampaignStatus,
    Contact,
    MarketingList,
    RecipientStatus,
    Segment,
    User,
)
from crm.models.base import utcnow
from crm.services.marketing import audience, campaigns
from crm.services.platform import mail
from crm.services.platform.audit import acting_as

NEWSLETTER = (
    'Dear {{ first_name | default("tea lover") }},\n\n'
    "Autumn is here, and so are our **new season teas**:\n\n"
    "- a smoky Lapsang from Fujian\n- a first-flush Darjeeling\n- our own winter blend\n\n"
    "Order before 31 October and we ship for free.\n\n"
    'Warm regards,\n{{ owner | default("The tea team") }}'
)
INVITATION = (
    "Dear {{ first_name }},\n\n"
    "We would be glad to welcome you at our stand at the **spring trade fair** "
    "(hall 4, stand 12). Reply to this email to book a tasting.\n\n"
    "{{ owner }}"
)


def seed_demo_campaigns(marketeer: User, seed: int | None = None) -> None:
    """The demo's three campaigns, written (and the first sent) by `marketeer`."""
    rng = random.Random(seed)
    newsletter = db.session.scalar(
        select(MarketingList).where(MarketingList.name == "Autumn newsletter")
    )
    fair = db.session.scalar(select(Segment).where(Segment.name == "Spring trade fair invitations"))
    vip = db.session.scalar(select(Segment).where(Segment.name == "VIP customers"))
    now = utcnow()
    with acting_as(marketeer):
        if newsletter is not None:
            sent = campaigns.save_campaign(marketeer, None, {
                "name": "Autumn newsletter: new season teas",
                "subject": "New season teas for you, {{ first_name }}",
                "body_text": NEWSLETTER, "marketing_list_ids": [newsletter.id],
            })  # fmt: skip
            _sent_earlier(
                marketeer, sent, (now - timedelta(days=41)).replace(hour=9, minute=30), rng
            )
        if fair is not None:
            later = campaigns.save_campaign(marketeer, None, {
                "name": "Trade fair invitation", "subject": "See you at the spring trade fair?",
                "body_text": INVITATION, "segment_ids": [fair.id],
            })  # fmt: skip
            later.status, later.sent_by_id = CampaignStatus.SCHEDULED, marketeer.id
            later.send_at = (now + timedelta(days=12)).replace(hour=8, minute=0, second=0,
                                                               microsecond=0)  # fmt: skip
        if vip is not None:
            campaigns.save_campaign(marketeer, None, {
                "name": "Winter opening hours (draft)",
                "subject": "Our opening hours over the holidays",
                "body_text": "Dear {{ first_name }},\n\nOver the holidays we open 10:00-16:00.",
                "segment_ids": [vip.id],
            })  # fmt: skip
    db.session.flush()


def _sent_earlier(marketeer: User, campaign, at, rng: random.Random) -> None:
    """The campaign as if sent at `at`: recipients resolved now, recorded as sent then."""
    audience.resolve(marketeer, campaign)
    campaign.status, campaign.sent_by_id = CampaignStatus.SENT, marketeer.id
    campaign.send_at = campaign.started_at = at
    campaign.finished_at = at + timedelta(minutes=3)
    queued = db.session.scalars(
        select(CampaignRecipient).where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.status == RecipientStatus.QUEUED,
        )
    ).all()
    for n, recipient in enumerate(queued):
        recipient.status = RecipientStatus.SENT
        recipient.sent_at = at + timedelta(seconds=n)
        recipient.message_id = mail.new_message_id()
        recipient.attempts = 1
    if len(queued) >= 6:
        for recipient in rng.sample(queued, 2):
            recipient.unsubscribed_at = at + timedelta(days=rng.randint(1, 20))
        bounced = rng.choice(queued)
        bounced.bounced_at = at + timedelta(minutes=5)
        if bounced.email and db.session.get(BouncingAddress, bounced.email) is None:
            db.session.add(BouncingAddress(
                email=bounced.email, first_bounced_at=bounced.bounced_at,
                last_bounced_at=bounced.bounced_at,
                reason="550 5.1.1 The mailbox does not exist",
            ))  # fmt: skip
        # Those who unsubscribed have no consent any more.
        gone = [r.contact_id for r in queued if r.unsubscribed_at is not None]
        db.session.execute(
            update(Contact).where(Contact.id.in_(gone)).values(email_marketing=False)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
