"""The JSON API (`/api/v1/...`): a thin layer over the services, authenticated by an API
token (`Authorization: Bearer crm_...`) and acting with its user's rights and access
classes, exactly like the admin pages, within the token's scopes.

    GET   /api/v1/contacts?search=&page=0&page_size=50   contacts:read, the contacts seen
    GET   /api/v1/contacts/<id>                          contacts:read (404 otherwise; 301
                                                         to the contact a merged one went into)
    GET   /api/v1/contacts/<id>/status                   contacts:read, the lifecycle statuses
    POST  /api/v1/contacts                               contacts:write, create one (201)
    PATCH /api/v1/contacts/<id>                          contacts:write, change its fields
                                                         (`version` from a read: 409 when
                                                         it changed since)
    POST  /api/v1/orders                                 orders:write, an online-store order:
                                                         201 made, 200 made before (same id)
    GET   /api/v1/orders/<id>                            orders:read
    POST  /api/v1/leads/<id>/convert                     contacts:write, convert a lead (201)
    GET   /api/v1/segments?page=0&page_size=50           contacts:read, ids, names and kinds
    GET   /api/v1/marketing-lists?page=0&page_size=50    contacts:read, ids, names, active
    GET   /api/v1/campaigns?status=&page=0&page_size=50  campaigns:read, newest first
    GET   /api/v1/campaigns/<id>                         campaigns:read, its status and counts
    POST  /api/v1/campaigns                              campaigns:write, write one (201)
    POST  /api/v1/campaigns/<id>/send                    campaigns:write, send it now or at
                                                         `send_at` (202)
"""

from __future__ import annotations

from flask import Flask

from crm.api import campaigns, contact_card, contacts, lists, sales  # noqa: F401 - their routes
from crm.api.blueprint import bp
from crm.extensions import csrf


def init_app(app: Flask) -> None:
    csrf.exempt(bp)  # no cookies: a token in a header is the proof
    app.register_blueprint(bp)
