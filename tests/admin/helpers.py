"""Building Flask-Admin form posts the way the browser sends them."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from crm.extensions import db
from crm.models import AddressType, PhoneType, SocialPlatform
from tests.conftest import csrf_from


def lookup_id(model: type, name: str) -> int:
    return db.session.query(model).filter_by(name=name).one().id


def contact_form(**overrides: Any) -> dict[str, Any]:
    """A complete create-form post for Ana Smith (B2C) with two phones, two addresses
    and a LinkedIn link; `overrides` replace or add fields."""
    data: dict[str, Any] = {
        "kind": "b2c",
        "first_name": "Ana",
        "middle_name": "",
        "last_name": "Smith",
        "title": "Ms",
        "account": "",
        "owner": "__None",
        "customer_status": "customer",
        "prospect_status": "non_prospect",
        "birthday": "1990-04-12",
        "gender": "female",
        "email": "Ana.Smith@Example.com",
        "email_secondary": "",
        "website": "anasmith.example",
        "email_marketing": "y",
        "contact_preference": "mobile_phone",
        "active": "y",
        "job_title": "",
        "department": "",
        "manager": "",
        "certificate": "",
        "timezone": "Europe/London",
        "language": "en",
        "other_contacts": "",
        "notes": "Met at the fair.",
        "phones-0-phone_type": lookup_id(PhoneType, "Mobile"),
        "phones-0-country_code": "+44",
        "phones-0-number": "7400 123456",
        "phones-0-extension": "",
        "phones-1-phone_type": lookup_id(PhoneType, "Work"),
        "phones-1-country_code": "+1",
        "phones-1-number": "201-555-0123",
        "phones-1-extension": "42",
        "addresses-0-address_type": lookup_id(AddressType, "Delivery"),
        "addresses-0-street": "221B Baker Street",
        "addresses-0-city": "London",
        "addresses-0-postal_code": "NW1 6XE",
        "addresses-0-country": "GB",
        "addresses-1-address_type": lookup_id(AddressType, "Invoice"),
        "addresses-1-street": "1 Invoice Lane",
        "addresses-1-city": "Manchester",
        "addresses-1-postal_code": "M1 1AA",
        "addresses-1-country": "GB",
        "social_links-0-platform": lookup_id(SocialPlatform, "LinkedIn"),
        "social_links-0-handle": "ana-smith",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def post_form(client: FlaskClient, url: str, data: dict[str, Any], *, with_csrf: bool = True):
    """GET the form page (for its CSRF token), then POST `data` to it."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    if with_csrf:
        data = {"csrf_token": csrf_from(page.get_data(as_text=True)), **data}
    return client.post(url, data=data)


def field_errors(html: str) -> str:
    """The text of the form's error lists (what the user sees under the fields)."""
    import html as html_module
    import re

    found = re.findall(r'<div class="invalid-feedback">(.*?)</div>', html, re.S)
    return html_module.unescape(" ".join(found))
