"""The app's icon: the sign-in pages and every admin page name it, and it is served."""

from __future__ import annotations

import io
import re

from PIL import Image


def _icon_of(html: str) -> str:
    match = re.search(r'<link rel="icon" type="image/png" href="([^"]+)">', html)
    assert match, "the page names no icon"
    return match.group(1)


def test_sign_in_and_admin_pages_show_the_icon(client, login_as):
    icons = {_icon_of(client.get("/login").get_data(as_text=True))}
    icons.add(_icon_of(client.get("/forgot-password").get_data(as_text=True)))
    login_as("crm_sales")
    for url in ("/admin/", "/admin/contact/"):
        icons.add(_icon_of(client.get(url).get_data(as_text=True)))
    [href] = icons
    served = client.get(href)
    assert served.status_code == 200 and served.mimetype == "image/png"
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.size[0] == image.size[1] >= 32
