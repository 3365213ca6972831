"""Property test (hypothesis): for random audiences of contacts with random consent,
do-not-email, trash, bounces, shared addresses and exclusions, the campaign reaches exactly
the addresses of the contacts allowed to get it, each once, and nobody else."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.extensions import db
from crm.models import (
    BouncingAddress,
    MarketingList,
    MarketingListMember,
    Segment,
    SegmentKind,
    segment_members,
)
from crm.models.base import utcnow
from crm.services.marketing import campaigns, sending

_run = itertools.count()

person = st.fixed_dictionaries({
    "address": st.one_of(st.none(), st.integers(0, 5)),  # a small pool: shared addresses
    "upper": st.booleans(),
    "consent": st.booleans(),
    "do_not_email": st.booleans(),
    "trashed": st.booleans(),
    "in_segment": st.booleans(),
    "in_list": st.booleans(),
    "left_out": st.booleans(),
})  # fmt: skip


@given(people=st.lists(person, min_size=1, max_size=8), bouncing=st.sets(st.integers(0, 5)))
@settings(
    max_examples=25, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
def test_only_the_allowed_get_the_campaign_once_per_address(
    inline_jobs, smtp_server, marketeer, make_contact, people, bouncing
):
    run = next(_run)
    smtp_server.messages.clear()
    domain = f"run{run}.example.org"
    segment = Segment(name=f"Segment {run}", kind=SegmentKind.STATIC)
    left_out = Segment(name=f"Left out {run}", kind=SegmentKind.STATIC)
    mlist = MarketingList(name=f"List {run}")
    db.session.add_all([segment, left_out, mlist])
    for number in bouncing:
        db.session.add(BouncingAddress(email=f"a{number}@{domain}", reason="550 no such user"))
    db.session.flush()
    allowed: set[str] = set()
    for i, p in enumerate(people):
        email = None
        if p["address"] is not None:
            email = f"a{p['address']}@{domain}"
            email = email.upper() if p["upper"] else email
        contact = make_contact(
            first_name=f"P{i}", last_name=f"Run{run}", email=email,
            email_marketing=p["consent"], do_not_email=p["do_not_email"],
        )  # fmt: skip
        if p["trashed"]:
            contact.deleted_at = utcnow()
        if p["in_segment"]:
            db.session.execute(segment_members.insert().values(segment_id=segment.id,
                                                               contact_id=contact.id))  # fmt: skip
        if p["in_list"]:
            db.session.add(MarketingListMember(list_id=mlist.id, contact_id=contact.id))
        if p["left_out"]:
            db.session.execute(segment_members.insert().values(segment_id=left_out.id,
                                                               contact_id=contact.id))  # fmt: skip
        in_audience = (p["in_segment"] or p["in_list"]) and not p["left_out"]
        if (in_audience and email and p["consent"] and not p["do_not_email"]
                and not p["trashed"] and p["address"] not in bouncing):  # fmt: skip
            allowed.add(email.lower())
    db.session.commit()
    campaign = campaigns.save_campaign(marketeer, None, {
        "name": f"Run {run}", "subject": "Hi", "body_text": "Hello.",
        "segment_ids": [segment.id], "marketing_list_ids": [mlist.id],
        "excluded_segment_ids": [left_out.id],
    })  # fmt: skip
    db.session.commit()
    try:
        sending.send_campaign(marketeer, campaign)
    except Exception as exc:  # noqa: BLE001 - "nobody to send to" is right when none is allowed
        assert not allowed, exc
        db.session.rollback()
        assert smtp_server.messages == []
        return
    sending.commit_and_queue(campaign)
    received = Counter(to[0] for _, to, _ in smtp_server.messages)
    assert set(received) == allowed
    assert all(n == 1 for n in received.values())
    counted = campaigns.counts(campaign)
    assert counted["sent"] == len(allowed)
    assert counted["total"] == sum(1 for p in people if p["in_segment"] or p["in_list"])
