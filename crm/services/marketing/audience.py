"""A campaign's audience, resolved when sending starts: its segments (static members, or a
dynamic segment's saved filter as the contact list applies it), marketing lists and chosen
contacts, less the excluded groups, each contact checked again and recorded as a recipient:
queued, or excluded with its reason. One mail per address: the first contact with it gets it.

The whole resolution is a few INSERT ... SELECT and UPDATE statements, so a 100,000-contact
audience is resolved in the database, not row by row in Python."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    union,
    update,
)

from crm.auth.permissions import Actor
from crm.extensions import db
from crm.models import (
    Campaign,
    CampaignRecipient,
    Contact,
    ExclusionReason,
    MarketingListMember,
    RecipientStatus,
    Segment,
    SegmentKind,
    campaign_contacts,
    segment_members,
)
from crm.services.marketing.bounces import address_bounces
from crm.services.platform.access import contact_visibility
from crm.services.platform.counted_insert import insert_counted

# (actor, the dynamic segment's saved list arguments) -> a select of contact ids. The contact
# list's view registers it (the filters are the list's): the services do not know the view.
DynamicMembers = Callable[[Actor, str], Select]
_dynamic_members: list[DynamicMembers] = []


def register_dynamic_members(resolver: DynamicMembers) -> None:
    """Called once by the admin layer: how a dynamic segment's filter selects its contacts."""
    _dynamic_members[:] = [resolver]


def segment_ids_select(actor: Actor, segment: Segment) -> Select:
    """The ids of the segment's members (a dynamic one's as the list shows them to `actor`)."""
    if segment.kind == SegmentKind.DYNAMIC:
        if not _dynamic_members:
            raise RuntimeError("No resolver of dynamic segments is registered")
        return _dynamic_members[0](actor, segment.query or "")
    return select(segment_members.c.contact_id).where(segment_members.c.segment_id == segment.id)


def _groups(actor: Actor, campaign: Campaign, excluded: bool) -> list[Select]:
    selects: list[Select] = []
    for group in campaign.audience:
        if group.excluded != excluded:
            continue
        if group.segment_id is not None:
            segment = db.session.get(Segment, group.segment_id)
            if segment is not None:
                selects.append(segment_ids_select(actor, segment))
        else:
            selects.append(
                select(MarketingListMember.contact_id).where(
                    MarketingListMember.list_id == group.marketing_list_id
                )
            )
    if not excluded:
        selects.append(
            select(campaign_contacts.c.contact_id).where(
                campaign_contacts.c.campaign_id == campaign.id
            )
        )
    return selects


def has_audience(campaign: Campaign) -> bool:
    """Whether the campaign names any group or contact to send to."""
    if any(not group.excluded for group in campaign.audience):
        return True
    return (
        db.session.scalar(
            select(campaign_contacts.c.contact_id)
            .where(campaign_contacts.c.campaign_id == campaign.id)
            .limit(1)
        )
        is not None
    )


def _reason(actor: Actor, excluded_ids: Select | None) -> ColumnElement:
    """Why a contact of the audience gets no mail, in the order the checks are made (None:
    it gets one). Trashed and merged first: the visibility gate hides those too."""
    checks: list[tuple[ColumnElement[bool], str]] = []
    if excluded_ids is not None:
        checks.append((Contact.id.in_(excluded_ids), ExclusionReason.EXCLUDED_LIST.value))
    checks += [
        (Contact.merged_into_id.is_not(None), ExclusionReason.MERGED.value),
        (Contact.deleted_at.is_not(None), ExclusionReason.TRASHED.value),
        (not_(contact_visibility(actor)), ExclusionReason.NOT_VISIBLE.value),
        (or_(Contact.email.is_(None), Contact.email == ""), ExclusionReason.NO_EMAIL.value),
        (Contact.do_not_email.is_(True), ExclusionReason.DO_NOT_EMAIL.value),
        (Contact.email_marketing.is_not(True), ExclusionReason.NO_CONSENT.value),
        (address_bounces(Contact.email), ExclusionReason.BOUNCING.value),
    ]
    return case(*checks, else_=None)


def resolve(actor: Actor, campaign: Campaign) -> int:
    """Record the campaign's recipients, checked for `actor` (who sends); how many will be
    mailed. Run once, when sending starts (a campaign's recipients are never resolved twice)."""
    included = _groups(actor, campaign, excluded=False)
    excluded = _groups(actor, campaign, excluded=True)
    audience_ids = union(*included) if len(included) > 1 else included[0]
    excluded_ids = None
    if excluded:
        excluded_ids = (union(*excluded) if len(excluded) > 1 else excluded[0]).subquery()
        excluded_ids = select(excluded_ids.c[0])
    reason = _reason(actor, excluded_ids)
    status = case(
        (reason.is_(None), literal(RecipientStatus.QUEUED.value)),
        else_=literal(RecipientStatus.EXCLUDED.value),
    )
    members = audience_ids.subquery()
    source = select(
        literal(campaign.id), Contact.id, func.lower(Contact.email), status, reason, literal(0)
    ).where(Contact.id.in_(select(members.c[0])))
    insert_counted(
        CampaignRecipient,
        ["campaign_id", "contact_id", "email", "status", "reason", "attempts"],
        source,
    )
    _one_per_address(campaign.id)
    return (
        db.session.scalar(
            select(func.count()).where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.status == RecipientStatus.QUEUED,
            )
        )
        or 0
    )


def _one_per_address(campaign_id: int) -> None:
    """Of the queued recipients sharing an address, the first (lowest id) keeps it."""
    first = (
        select(func.min(CampaignRecipient.id))
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status == RecipientStatus.QUEUED,
        )
        .group_by(CampaignRecipient.email)
        .scalar_subquery()
    )
    db.session.execute(
        update(CampaignRecipient)
        .where(
            and_(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status == RecipientStatus.QUEUED,
                CampaignRecipient.id.not_in(first),
            )
        )
        .values(status=RecipientStatus.EXCLUDED, reason=ExclusionReason.DUPLICATE_ADDRESS)
        .execution_options(synchronize_session=False)
    )
