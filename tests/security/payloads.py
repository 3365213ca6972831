"""The hostile values, the fields they are typed into and the places they are read back.

Every payload goes into every field below (fields x payloads combinations, counted in
HOSTILE_INPUTS and printed at the end of the run); the URL payloads go into the fields that
hold web addresses; the query payloads are the same values typed into search boxes, filters
and autocompletes.
"""

from __future__ import annotations

SCRIPT = "<script>alert(1)</script>"

PAYLOADS: dict[str, str] = {
    "script-tag": SCRIPT,
    "attribute-break-double": '"><img src=x onerror=alert(1)>',
    "attribute-break-single": "' onmouseover='alert(1)",
    "javascript-url": "javascript:alert(1)",
    "sql-drop": "'; DROP TABLE contacts; --",
    "sql-or": "1 OR 1=1",
    "formula-hyperlink": '=HYPERLINK("http://evil","x")',
    "formula-plus": "+1+1",
    "formula-minus": "-2+3",
    "formula-at": "@SUM(A1)",
    "formula-after-tab": "\t=1+1",
    "long-10000": SCRIPT * 400,  # 10,000 characters of script tags
    "rtl-override": "abc\u202etxt.exe",
    "zero-width": "a\u200bb\u200cc\u200dd",
    "byte-order-mark": "\ufeffbom",
    "nul": "a\x00b",
    "control-characters": "a\x01b\x07c\x1b[31md\x7fe\x9bf",
    "tab-and-newlines": "line one\nline\ttwo\r\nthree",
    "template": "{{7*7}}{{config.SECRET_KEY}}${7*7}",
    "format-string": "%s%n%x {0} {0.__class__}",
    "html-entities": "&lt;b&gt; &amp; &#60;script&#62;",
    "astral-unicode": "Zoë Ωμέγα 漢字 🙂",
}
assert len(PAYLOADS["long-10000"]) == 10_000

# Web addresses that must never become a clickable script link.
URL_PAYLOADS: dict[str, str] = {
    "javascript": "javascript:alert(1)",
    "javascript-mixed-case": "JaVaScRiPt:alert(1)",
    "javascript-leading-space": "  javascript:alert(1)",
    "javascript-slashes": "javascript://example.com/%0Aalert(1)",
    "javascript-tab-inside": "java\tscript:alert(1)",
    "javascript-entity": "javascript&colon;alert(1)",
    "javascript-control-prefix": "\x01javascript:alert(1)",
    "vbscript": "vbscript:msgbox(1)",
    "data-html": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "https-with-markup": 'https://example.com/"><script>alert(1)</script>',
    "https-userinfo-javascript": "https://javascript:alert(1)@example.com/",
}

# Contact form fields (their form names) and where the saved value is read back.
CONTACT_FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "title",
    "job_title",
    "department",
    "certificate",
    "email",
    "email_secondary",
    "website",
    "notes",
    "other_contacts",
    "phones-0-number",
    "phones-0-extension",
    "addresses-0-street",
    "addresses-0-street2",
    "addresses-0-city",
    "addresses-0-region",
    "addresses-0-postal_code",
    "social_links-0-handle",
)
TAG_FIELDS: tuple[str, ...] = ("tags (contact form)", "tags (bulk action)")
ACCOUNT_FIELDS: tuple[str, ...] = ("account name", "account website", "account notes")

# List management and the other named lists: the form creating one.
LOOKUP_FORMS: dict[str, str] = {
    "phone type name": "/admin/phone-types/new/",
    "address type name": "/admin/address-types/new/",
    "social platform name": "/admin/social-platforms/new/",
    "category name": "/admin/categories/new/",
    "criterion name": "/admin/criteria/new/",
    "access class name": "/admin/access-classes/new/",
    "segment name": "/admin/segments/new/",
    "marketing list name": "/admin/marketing-lists/new/",
}
EXTRA_FIELDS: tuple[str, ...] = ("access class description",)

ALL_FIELDS: tuple[str, ...] = (
    *CONTACT_FIELDS,
    *TAG_FIELDS,
    *ACCOUNT_FIELDS,
    *LOOKUP_FORMS,
    *EXTRA_FIELDS,
)
URL_FIELDS: tuple[str, ...] = (
    "website",
    "social_links-0-handle (Website platform)",
    "social_links-1-handle (platform with a URL pattern)",
    "account website",
)

# Where typed text is read from the URL: the list's search box, filters, autocompletes and
# the search boxes of other lists. {} is the (URL-encoded) payload.
QUERY_TARGETS: dict[str, str] = {
    "contact search": "/admin/contact/?show=all&search={}",
    "tag filter": "/admin/contact/?show=all&flt0_tag_is={}",
    "city filter": "/admin/contact/?show=all&flt0_city_is={}",
    "account name filter": "/admin/contact/?show=all&flt0_account_name_starts_with={}",
    "manager autocomplete": "/admin/contact/ajax/lookup/?name=manager&query={}",
    "account autocomplete": "/admin/contact/ajax/lookup/?name=account&query={}",
    "account search": "/admin/account/?search={}",
    "tag list search": "/admin/tags/manage/?search={}",
    "phone type search": "/admin/phone-types/?search={}",
}

# Bytes that are not UTF-8, posted raw in a form body (or a query string): (URL, field,
# bytes as they go on the wire).
INVALID_UTF8: dict[str, tuple[str, str, bytes]] = {
    "contact first name, percent-encoded": ("/admin/contact/new/", "first_name", b"%FF%FE%FA"),
    "contact notes, raw bytes": ("/admin/contact/new/", "notes", b"\xff\xfe\xfa"),
    "contact city, encoded surrogate": ("/admin/contact/new/", "addresses-0-city", b"%ED%A0%80"),
    "contact job title, overlong slash": ("/admin/contact/new/", "job_title", b"%C0%AF"),
    "contact tags, truncated sequence": ("/admin/contact/new/", "tags", b"ok%E2%82"),
    "account name": ("/admin/account/new/", "name", b"Acme %FF%FE"),
    "phone type name": ("/admin/phone-types/new/", "name", b"%FF%FE%FA"),
    "segment name": ("/admin/segments/new/", "name", b"%FFsegment"),
    "marketing list name": ("/admin/marketing-lists/new/", "name", b"list\xff"),
    "contact search": ("/admin/contact/?show=all&search=", "", b"%FF%FE%FA"),
    "tag filter": ("/admin/contact/?show=all&flt0_tag_is=", "", b"%FF"),
    "manager autocomplete": ("/admin/contact/ajax/lookup/?name=manager&query=", "", b"%FF%FE"),
}

HOSTILE_INPUTS = (
    len(ALL_FIELDS) * len(PAYLOADS)
    + len(URL_FIELDS) * len(URL_PAYLOADS)
    + len(QUERY_TARGETS) * len(PAYLOADS)
    + len(INVALID_UTF8)
)


def summary() -> str:
    return (
        f"hostile inputs: {len(ALL_FIELDS)} fields x {len(PAYLOADS)} payloads"
        f" + {len(URL_FIELDS)} address fields x {len(URL_PAYLOADS)} script URLs"
        f" + {len(QUERY_TARGETS)} search boxes, filters and autocompletes x {len(PAYLOADS)}"
        f" payloads + {len(INVALID_UTF8)} invalid UTF-8 inputs = {HOSTILE_INPUTS}"
    )
