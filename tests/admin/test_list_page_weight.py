"""A list page's weight: its rows' buttons rendered once per page (one delete form for the
page, a button per row), and no indentation left by the templates. Deleting a row still
works as the browser does it: the row's button posts its id with the page's one form."""

from __future__ import annotations

import re

from crm.admin.page_weight import without_indentation
from crm.extensions import db
from crm.models import Contact


def test_each_row_has_its_own_links_and_delete_button_and_the_page_one_delete_form(
    client, login_as, make_contact
):
    login_as("crm_manager")
    ids = [make_contact(last_name=f"Row{n}").id for n in range(3)]
    page = client.get("/admin/contact/").get_data(as_text=True)
    for pk in ids:
        assert f'href="/admin/contact/details/?id={pk}&amp;url=' in page
        assert f'href="/admin/contact/edit/?id={pk}&amp;url=' in page
    buttons = re.findall(r'<button type="submit" class="row-delete"[^>]*>', page)
    assert sorted(re.search(r'value="(\d+)"', b).group(1) for b in buttons) == sorted(map(str, ids))
    assert all('form="row-delete-form"' in b and 'title="Delete Record"' in b for b in buttons)
    assert all("return faHelpers.safeConfirm(" in b for b in buttons)  # asks first, as before
    forms = re.findall(r'<form id="row-delete-form".*?</form>', page, re.S)
    assert len(forms) == 1
    assert 'action="/admin/contact/delete/"' in forms[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', forms[0]).group(1)
    url = re.search(r'name="url" value="([^"]+)"', forms[0]).group(1)

    # What the browser posts for the second row's button: the form's fields and its id.
    answer = client.post(
        "/admin/contact/delete/", data={"url": url, "csrf_token": token, "id": str(ids[1])}
    )
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, ids[1]).deleted_at is not None
    assert db.session.get(Contact, ids[0]).deleted_at is None


def test_a_list_page_carries_no_indentation(client, login_as, make_contact):
    login_as("crm_manager")
    make_contact(last_name="Indented")
    for url in ("/admin/contact/", "/admin/account/", "/admin/lead/"):
        page = client.get(url).get_data(as_text=True)
        outside = re.sub(r"<(script|pre|textarea)\b.*?</\1>", "<kept>", page, flags=re.S)
        assert not re.search(r"\n[ \t]", outside), url
        assert "\n\n" not in outside, url


def test_what_a_browser_shows_as_typed_keeps_its_spaces():
    html = (
        "<div>\n    <p>\n      text\n    </p>\n\n</div>\n"
        "<pre>\n  kept\n    as typed\n</pre>\n  <textarea name=n>\n  line\n</textarea>\n"
        "<script>\n  var a = `\n    x`;\n</script>\n  <PRE class=x>\n  upper\n</PRE>"
    )
    assert without_indentation(html) == (
        "<div>\n<p>\ntext\n</p>\n</div>\n"
        "<pre>\n  kept\n    as typed\n</pre>\n<textarea name=n>\n  line\n</textarea>\n"
        "<script>\n  var a = `\n    x`;\n</script>\n<PRE class=x>\n  upper\n</PRE>"
    )
