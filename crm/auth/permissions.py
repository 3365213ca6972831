"""The one policy of who may do what: `can(user, action)`.

Roles are additive: a user holding several roles may do what any of them may.
Which *records* a user may see is decided by `crm.services.platform.access`.
"""

from __future__ import annotations

from typing import Protocol

ADMIN, MANAGER, SALES, MARKETEER, LIST_MANAGER = (
    "crm_admin",
    "crm_manager",
    "crm_sales",
    "crm_marketeer",
    "crm_list_manager",
)
CONTACT_ROLES = frozenset({ADMIN, MANAGER, SALES, MARKETEER})

PERMISSIONS: dict[str, frozenset[str]] = {
    "contact.view": CONTACT_ROLES,
    "contact.create": CONTACT_ROLES,
    "contact.edit": CONTACT_ROLES,
    "contact.delete": frozenset({ADMIN, MANAGER}),
    "contact.export": frozenset({ADMIN, MANAGER, MARKETEER}),
    # Bringing contacts in from files, and merging duplicates (the import and merge pages
    # ask these when they come).
    "contact.import": frozenset({ADMIN, MANAGER}),
    "contact.merge": frozenset({ADMIN, MANAGER}),
    # Undoing a merge puts every moved row back: administrators only.
    "merge.undo": frozenset({ADMIN}),
    # Every user's imports and exports, with their progress and errors (not their files).
    "job.view_all": frozenset({ADMIN}),
    # Giving a contact (or account) to another owner; sales may not give contacts away.
    "contact.transfer": frozenset({ADMIN, MANAGER}),
    # Tags, categories, segments and the selection basket, on many contacts at once.
    "contact.bulk_edit": CONTACT_ROLES,
    "contact.assign_responsible": frozenset({ADMIN, MANAGER}),
    "contact.restore": frozenset({ADMIN, MANAGER}),
    "contact.purge": frozenset({ADMIN}),
    # Access classes (Webasyst's contact classes): seeing contacts of every class, putting a
    # contact or account in a class, and creating classes and granting them.
    "contact.all_classes": frozenset({ADMIN, MANAGER}),
    "contact.set_class": frozenset({ADMIN, MANAGER}),
    "access_class.manage": frozenset({ADMIN}),
    # SimpleOne: "Add to marketing list ... only available for the roles crm_sales, crm_manager".
    "marketing_list.add_members": frozenset({SALES, MANAGER}),
    "marketing_list.manage": frozenset({ADMIN, MANAGER, MARKETEER}),
    "segment.manage": CONTACT_ROLES,
    "tag.manage": frozenset({ADMIN, LIST_MANAGER}),
    "account.view": CONTACT_ROLES,
    "account.create": CONTACT_ROLES,
    "account.edit": CONTACT_ROLES,
    "account.delete": frozenset({ADMIN, MANAGER}),
    "lookup.manage": frozenset({ADMIN, LIST_MANAGER}),
    "user.manage": frozenset({ADMIN}),
    "audit.view": frozenset({ADMIN}),
    "permissions.view": frozenset({ADMIN, MANAGER, SALES, MARKETEER, LIST_MANAGER}),
    # Making one's own API tokens; the JSON API then acts with the user's own rights.
    "api.tokens": CONTACT_ROLES,
    # The customer lifecycle: leads (Sellution), deals (24SevenOffice's sales opportunities),
    # orders and payments (SECUTIX's purchase and financial history).
    "lead.view": CONTACT_ROLES,
    "lead.edit": CONTACT_ROLES,
    "lead.convert": frozenset({ADMIN, MANAGER, SALES}),
    "lead.delete": frozenset({ADMIN, MANAGER}),
    "deal.view": CONTACT_ROLES,
    "deal.edit": frozenset({ADMIN, MANAGER, SALES}),
    "deal.delete": frozenset({ADMIN, MANAGER}),
    "order.view": frozenset({ADMIN, MANAGER, SALES}),
    "order.edit": frozenset({ADMIN, MANAGER}),
    # Set as consumer: a customer number, so that orders and invoices can be made for it.
    "contact.set_consumer": frozenset({ADMIN, MANAGER, SALES}),
    # Generate login (SimpleOne's action): a user account, with no roles, for a contact.
    "contact.generate_login": frozenset({ADMIN, MANAGER}),
    # The contact card (as SimpleOne, 24SevenOffice and SECUTIX have it): what is written on a
    # contact's page. Reading it follows the contact's visibility; notes are changed by their
    # author only.
    "note.write": CONTACT_ROLES,
    # SimpleOne: "Commenting is available for the roles crm_marketeer, crm_admin, crm_sales,
    # crm_manager"; others read the feed only.
    "activity.comment": frozenset({MARKETEER, ADMIN, SALES, MANAGER}),
    "interaction.edit": CONTACT_ROLES,
    "task.edit": CONTACT_ROLES,
    "appointment.edit": CONTACT_ROLES,
    # Writing to a contact from its page: an email, or an SMS through the SMS provider.
    "contact.message": CONTACT_ROLES,
    "file.upload": CONTACT_ROLES,
    # Anyone may delete the files they uploaded; these roles delete anyone's.
    "file.delete_any": frozenset({ADMIN, MANAGER}),
    "connection.edit": CONTACT_ROLES,
    # Marketing > Campaigns: email to segments and marketing lists; sales may read them.
    "campaign.view": CONTACT_ROLES,
    "campaign.edit": frozenset({ADMIN, MANAGER, MARKETEER}),
    "campaign.send": frozenset({ADMIN, MANAGER, MARKETEER}),
    # Marketing > Automations: birthday greetings and reminders.
    "automation.manage": frozenset({ADMIN, MANAGER, MARKETEER}),
    # Every role: one's own password and sessions (My profile).
    "profile.edit": frozenset({ADMIN, MANAGER, SALES, MARKETEER, LIST_MANAGER}),
}

# What each action lets a user do, in the order the permission matrix shows them.
LABELS: dict[str, str] = {
    "contact.view": "see contacts (of the access classes they see)",
    "contact.create": "create contacts",
    "contact.edit": "edit contacts",
    "contact.delete": "move contacts to the trash",
    "contact.restore": "restore contacts from the trash",
    "contact.purge": "delete contacts for good (purge the trash)",
    "contact.export": "export contacts (CSV, XLSX, vCard)",
    "contact.import": "import contacts from files",
    "contact.merge": "merge duplicate contacts and accounts",
    "merge.undo": "undo a merge (while nothing changed since)",
    "job.view_all": "follow every user's imports and exports",
    "contact.bulk_edit": "tag, categorise, select contacts in bulk",
    "contact.transfer": "transfer a contact or account to another owner",
    "contact.assign_responsible": "assign responsible users",
    "contact.all_classes": "see contacts and accounts of every access class",
    "contact.set_class": "put contacts and accounts in an access class",
    "access_class.manage": "create access classes and grant them",
    "segment.manage": "create and edit segments",
    "marketing_list.manage": "create and edit marketing lists",
    "marketing_list.add_members": "add contacts to and remove them from marketing lists",
    "account.view": "see accounts",
    "account.create": "create accounts",
    "account.edit": "edit accounts",
    "account.delete": "delete accounts",
    "tag.manage": "rename, merge and delete tags",
    "lookup.manage": "edit lookup lists (List management)",
    "user.manage": "manage users and roles",
    "audit.view": "read the history",
    "api.tokens": "make API tokens and use the JSON API (with their own rights)",
    "profile.edit": "change their own password and sign out their own sessions",
    "lead.view": "see leads",
    "lead.edit": "create and edit leads",
    "lead.convert": "convert leads to customer contacts",
    "lead.delete": "delete leads",
    "deal.view": "see deals (of the contacts they see)",
    "deal.edit": "create, edit, win and lose deals",
    "deal.delete": "delete deals",
    "order.view": "see orders and payments (of the contacts they see)",
    "order.edit": "enter and change orders and payments",
    "contact.set_consumer": "set a contact as consumer (customer number)",
    "contact.generate_login": "generate a login (a user without roles) for a contact",
    "note.write": "write notes on contacts (and change their own)",
    "activity.comment": "comment in a contact's activity feed",
    "interaction.edit": "register and change interactions (calls, emails, letters, ...)",
    "task.edit": "create and change tasks",
    "appointment.edit": "create and change appointments, and send their confirmations",
    "contact.message": "email and text (SMS) a contact from its page",
    "file.upload": "upload files and pictures to contacts (and delete their own)",
    "file.delete_any": "delete any file of a contact",
    "connection.edit": "connect contacts to each other",
    "permissions.view": "read the permission matrix",
    "campaign.view": "see email campaigns and their results",
    "campaign.edit": "write email campaigns",
    "campaign.send": "send and schedule email campaigns (to the contacts they see)",
    "automation.manage": "set up birthday greetings and reminders",
}
ROLE_ORDER = (ADMIN, MANAGER, SALES, MARKETEER, LIST_MANAGER)


def matrix() -> list[tuple[str, str, list[bool]]]:
    """(action, label, [granted to each role of ROLE_ORDER]) for every action."""
    return [
        (action, LABELS[action], [role in PERMISSIONS[action] for role in ROLE_ORDER])
        for action in LABELS
    ]


def matrix_markdown() -> str:
    """The permission matrix as a Markdown table (the README's copy is checked against it)."""
    lines = [
        "| right | " + " | ".join(ROLE_ORDER) + " |",
        "| --- |" + " :-: |" * len(ROLE_ORDER),
    ]
    for action, label, granted in matrix():
        cells = " | ".join("yes" if g else "" for g in granted)
        lines.append(f"| {label} (`{action}`) | {cells} |")
    return "\n".join(lines) + "\n"


class Actor(Protocol):
    """What the policy needs of a user (crm.models.User, or Flask-Login's anonymous user)."""

    is_authenticated: bool
    is_active: bool


def roles_of(user: Actor | None) -> set[str]:
    # Flask-Login's `current_user` is a proxy that looks the user up again at each of the
    # attributes read below: the user itself, once (a page asks a hundred times).
    unwrap = getattr(user, "_get_current_object", None)
    if unwrap is not None:
        user = unwrap()
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    if not getattr(user, "is_active", False):
        return set()
    return set(getattr(user, "role_names", set()))


def can(user: Actor | None, action: str, obj: object | None = None) -> bool:
    """May `user` do `action` (on `obj`)? Unknown actions are refused."""
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        raise KeyError(f"Unknown permission {action!r}")
    return bool(roles_of(user) & allowed)


def any_permission(user: Actor | None, *actions: str) -> bool:
    return any(can(user, action) for action in actions)
