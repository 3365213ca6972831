"""Field labels as the forms show them, for the pages that name a field outside its form
(the history, the activity feed). Below the admin layer, so that services read them too.

Keyed by table, then column or relationship; `ANY_TABLE` holds the labels every table
shares. A column not listed reads as its name in words ("job_title" -> "Job title")."""

from __future__ import annotations

ANY_TABLE = "*"

FIELD_LABELS: dict[str, dict[str, str]] = {
    ANY_TABLE: {
        "owner_id": "Owner",
        "account_id": "Account",
        "contact_id": "Contact",
        "access_class_id": "Access class",
        "created_by_id": "Created by",
        "author_id": "Author",
        "operator_id": "Operator",
        "active": "Active",
        "notes": "Notes",
        "website": "Website",
        "deleted_at": "Moved to the trash",
        "deleted_by_id": "Moved to the trash by",
        "merged_into_id": "Merged into",
        "criteria": "Criteria",
        "tags": "Tags",
        "categories": "Categories",
        "contacts": "Contacts",
        "accounts": "Accounts",
        "users": "Users",
        "roles": "Roles",
        "email": "Email",
        "position": "Order in lists",
    },
    # The contact form (crm.admin.contacts.form and .view).
    "contacts": {
        "kind": "Contact type",
        "title": "Title",
        "email": "Primary email",
        "email_secondary": "Secondary email",
        "email_marketing": "Accepts email marketing",
        "do_not_email": "Do not send emails",
        "do_not_call": "Do not call",
        "is_primary": "Primary contact",
        "owner_id": "Contact owner",
        "responsible_id": "Responsible user",
        "linked_accounts": "Other accounts",
        "manager_id": "Manager",
        "contact_preference": "Contact preference",
        "other_contacts": "Other contacts",
        "timezone": "Time zone",
        "customer_currency": "Currency",
        "payment_terms_days": "Payment terms (days)",
        "picture": "Picture",
    },
    "phones": {"phone_type_id": "Type", "country_code": "Country code"},
    "addresses": {
        "address_type_id": "Type",
        "street2": "Street (line 2)",
        "region": "Region / state",
        "postal_code": "Postal code",
    },
    "social_links": {"platform_id": "Platform", "handle": "Profile URL or handle"},
    "accounts": {"name": "Name"},
    "connections": {"other_id": "Connected to", "type_id": "Connection", "note": "Note"},
    "deals": {"expected_close": "Expected close", "closed_at": "Closed"},
    "appointments": {
        "starts_at": "Starts",
        "ends_at": "Ends",
        "confirmation_sent_at": "Invitation sent",
        "users": "Colleagues",
    },
    "tasks": {"due_on": "Due", "completed_at": "Completed"},
    "interactions": {"occurred_at": "When", "address": "Address or number"},
    "payments": {"order_id": "Order", "paid_on": "Paid on"},
    "orders": {"ordered_on": "Ordered on", "external_id": "Reference in the shop"},
    "contact_files": {
        "filename": "File",
        "content_type": "File type",
        "uploaded_by_id": "Uploaded by",
        "uploaded_at": "Uploaded",
    },
    "leads": {
        "converted_contact_id": "Converted to",
        "converted_at": "Converted",
        "converted_by_id": "Converted by",
    },
    "comments": {"body": "Comment"},
    "notes": {"body": "Note", "private": "Private"},
    "automations": {
        "enabled": "On",
        "subject": "Subject",
        "body_text": "Message",
        "send_time": "Time of day",
        "segment_id": "Who gets it",
        "lead_minutes": "Minutes before the start",
    },
    "users": {"task_digest": "Email me my tasks every morning"},
}


def field_label(table: str, key: str) -> str:
    """The label of column or relationship `key` of `table`, as its form shows it."""
    label = FIELD_LABELS.get(table, {}).get(key) or FIELD_LABELS[ANY_TABLE].get(key)
    if label:
        return label
    words = key.removesuffix("_id").replace("_", " ").strip()
    return words[:1].upper() + words[1:]
