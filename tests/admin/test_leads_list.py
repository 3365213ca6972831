"""The Leads list: its Name column shows the whole name, sorts by last name and opens the
lead."""

from __future__ import annotations

import re

from crm.extensions import db
from crm.models import Lead


def test_the_name_column_shows_the_whole_name(client, login_as):
    user = login_as("crm_sales")
    for first, last in (("Lena", "Vogel"), ("Anton", "Berg")):
        db.session.add(Lead(first_name=first, last_name=last, kind="b2c", owner_id=user.id))
    db.session.commit()
    page = client.get("/admin/lead/").get_data(as_text=True)
    assert re.search(r"<th[^>]*>\s*(<a [^>]*>)?\s*Name\b", page)
    assert not re.search(r"<th[^>]*>\s*(<a [^>]*>)?\s*First name", page)
    names = re.findall(r'<a href="/admin/lead/details/\?id=\d+[^"]*">([^<]+)</a>', page)
    assert sorted(names) == ["Anton Berg", "Lena Vogel"]
    # Sorted by the name column: by last name.
    sort = re.search(r'href="([^"]*sort=(\d+)[^"]*)"[^>]*>\s*Name', page)
    assert sort, "the Name column cannot be sorted"
    by_name = client.get(sort.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert by_name.index("Anton Berg") < by_name.index("Lena Vogel")
