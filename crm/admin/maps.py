"""What the pages' maps draw (templates/admin/contact_card/parts.html `place_map`,
static/map.js): located addresses with how sure each point is."""

from __future__ import annotations

from typing import Any

# How sure a point on the map is, by where its coordinates came from
# (crm.services.contacts.geocoding).
PRECISION = {"gazetteer:city": "city level", "nominatim": "street level", "manual": "as entered"}


def places_of(addresses: Any) -> list[dict[str, Any]]:
    """The located addresses, as the card's maps draw them."""
    return [
        {
            "lat": address.latitude,
            "lon": address.longitude,
            "label": f"{address.address_type.name if address.address_type else 'Address'}: "
            f"{address.one_line}",
            "precision": PRECISION.get(address.geocode_source or "", "approximate"),
        }
        for address in addresses
        if address.latitude is not None and address.longitude is not None
    ]
