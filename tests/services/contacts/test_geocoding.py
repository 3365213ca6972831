"""services.geocoding: the offline gazetteer, and Nominatim against a real local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from crm.services.contacts.geocoding import (
    AddressQuery,
    GazetteerGeocoder,
    GeoPoint,
    NoGeocoder,
    NominatimGeocoder,
    geocoder_from_config,
)


def city(name: str | None, country: str | None = None, **parts: str) -> AddressQuery:
    return AddressQuery(
        parts.get("street"), name, parts.get("region"), parts.get("postal_code"), country
    )


# ---- gazetteer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "country", "lat", "lon"),
    [
        ("München", "DE", 48.137, 11.575),
        ("Munchen", "DE", 48.137, 11.575),
        ("muenchen", "DE", 48.137, 11.575),
        ("Munich", "DE", 48.137, 11.575),
        ("  KÖLN ", "DE", 50.933, 6.950),
        ("Saint-Étienne", "FR", 45.434, 4.390),
        ("São Paulo", "BR", -23.548, -46.636),
        ("Sao Paulo", "BR", -23.548, -46.636),
        ("Zürich", "CH", 47.367, 8.550),
    ],
)
def test_gazetteer_finds_cities_with_or_without_accents(name, country, lat, lon):
    point = GazetteerGeocoder().locate(city(name, country))
    assert point is not None
    assert point.source == "gazetteer:city"
    assert point.latitude == pytest.approx(lat, abs=0.05)
    assert point.longitude == pytest.approx(lon, abs=0.05)


def test_gazetteer_prefers_the_larger_city_of_a_name():
    # Frankfurt am Main (about 650,000 people) over Frankfurt (Oder): both are "Frankfurt".
    point = GazetteerGeocoder().locate(city("Frankfurt", "DE"))
    assert point is not None
    assert point.longitude == pytest.approx(8.68, abs=0.05)


def test_gazetteer_without_a_country_uses_the_largest_city_of_the_name():
    point = GazetteerGeocoder().locate(city("Paris"))
    assert point is not None
    assert (point.latitude, point.longitude) == pytest.approx((48.853, 2.349), abs=0.05)


@pytest.mark.parametrize(
    "query",
    [
        city("Nowhereville Upon Sea", "DE"),
        city("München", "FR"),  # a real city, but not in that country
        city(None, "DE", street="Marienplatz 1"),
        city("", "DE"),
    ],
)
def test_gazetteer_answers_none_when_it_cannot_place_the_address(query):
    assert GazetteerGeocoder().locate(query) is None


def test_gazetteer_rounds_to_five_decimals():
    point = GazetteerGeocoder().locate(city("Hamburg", "DE"))
    assert point is not None
    assert round(point.latitude, 5) == point.latitude
    assert round(point.longitude, 5) == point.longitude


# ---- Nominatim over real HTTP -----------------------------------------------------------


class NominatimStub:
    """A local HTTP server answering like Nominatim's /search, recording what it was asked."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.body: object = [{"lat": "48.1371079", "lon": "11.5753822", "display_name": "M"}]
        self.delay = 0.0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                parts = urlsplit(self.path)
                stub.requests.append(
                    {
                        "path": parts.path,
                        "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                        "user_agent": self.headers.get("User-Agent"),
                    }
                )
                if stub.delay:
                    time.sleep(stub.delay)
                payload = (
                    stub.body if isinstance(stub.body, bytes) else json.dumps(stub.body).encode()
                )
                try:
                    self.send_response(stub.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/search"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> NominatimStub:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def nominatim() -> Iterator[NominatimStub]:
    with NominatimStub() as stub:
        yield stub


def test_nominatim_asks_the_server_and_reads_the_first_result(nominatim):
    geocoder = NominatimGeocoder(nominatim.url, "crm-tests/1.0", timeout=2)
    point = geocoder.locate(
        AddressQuery("Marienplatz 1", "München", "Bayern", "80331", "DE"),
    )
    assert point == GeoPoint(48.1371079, 11.5753822, "nominatim")

    (asked,) = nominatim.requests
    assert asked["path"] == "/search"
    assert asked["user_agent"] == "crm-tests/1.0"
    assert asked["query"] == {
        "format": "jsonv2",
        "limit": "1",
        "street": "Marienplatz 1",
        "city": "München",
        "state": "Bayern",
        "postalcode": "80331",
        "countrycodes": "de",
    }


def test_nominatim_leaves_out_empty_parts(nominatim):
    NominatimGeocoder(nominatim.url, "crm-tests", timeout=2).locate(city("Bonn"))
    assert nominatim.requests[0]["query"] == {"format": "jsonv2", "limit": "1", "city": "Bonn"}


def test_nominatim_without_a_result_answers_none(nominatim):
    nominatim.body = []
    assert NominatimGeocoder(nominatim.url, "crm-tests", timeout=2).locate(city("X")) is None
    assert len(nominatim.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not json</html>",
        {"error": "Unable to geocode"},
        [{"display_name": "no coordinates"}],
        [{"lat": "north", "lon": "11.5"}],
        [None],
        [{"lat": "123.0", "lon": "11.5"}],
        "48.1,11.5",
    ],
)
def test_nominatim_with_an_unexpected_answer_answers_none(nominatim, body):
    nominatim.body = body
    assert NominatimGeocoder(nominatim.url, "crm-tests", timeout=2).locate(city("Bonn")) is None


@pytest.mark.parametrize("status", [500, 503, 429, 404])
def test_nominatim_server_error_answers_none(nominatim, status):
    nominatim.status = status
    nominatim.body = {"error": "boom"}
    assert NominatimGeocoder(nominatim.url, "crm-tests", timeout=2).locate(city("Bonn")) is None
    assert len(nominatim.requests) == 1


def test_nominatim_timeout_answers_none_quickly(nominatim):
    nominatim.delay = 1.0
    started = time.monotonic()
    assert NominatimGeocoder(nominatim.url, "crm-tests", timeout=0.2).locate(city("Bonn")) is None
    assert time.monotonic() - started < 0.9


def test_nominatim_unreachable_server_answers_none():
    with NominatimStub() as stub:
        url = stub.url
    # The server is shut: the port refuses connections.
    assert NominatimGeocoder(url, "crm-tests", timeout=1).locate(city("Bonn")) is None


def test_nominatim_refuses_a_url_that_is_not_http():
    with pytest.raises(ValueError, match="CRM_GEOCODER_URL must be an http"):
        NominatimGeocoder("file:///etc/passwd", "crm-tests").locate(city("Bonn"))


def test_saving_a_contact_uses_the_configured_nominatim_server(app, nominatim, make_user):
    from crm.services.contacts.saving import create_contact

    app.config.update(CRM_GEOCODER="nominatim", CRM_GEOCODER_URL=nominatim.url)
    contact = create_contact(
        make_user("crm_manager"),
        {
            "first_name": "Ana",
            "last_name": "Smith",
            "addresses": [{"city": "Bonn", "country": "DE"}],
        },
    )
    address = contact.addresses[0]
    assert (address.latitude, address.longitude) == (48.1371079, 11.5753822)
    assert address.geocode_source == "nominatim"
    assert nominatim.requests[0]["query"]["countrycodes"] == "de"


# ---- choosing the geocoder --------------------------------------------------------------


def test_geocoder_from_config_defaults_to_the_gazetteer():
    assert isinstance(geocoder_from_config({}), GazetteerGeocoder)
    assert isinstance(geocoder_from_config({"CRM_GEOCODER": "Gazetteer"}), GazetteerGeocoder)


def test_geocoder_from_config_builds_nominatim_from_its_settings():
    geocoder = geocoder_from_config(
        {
            "CRM_GEOCODER": "nominatim",
            "CRM_GEOCODER_URL": "http://127.0.0.1:9/search",
            "CRM_GEOCODER_USER_AGENT": "crm-tests",
            "CRM_GEOCODER_TIMEOUT": "2.5",
        }
    )
    assert isinstance(geocoder, NominatimGeocoder)
    assert (geocoder.url, geocoder.user_agent, geocoder.timeout) == (
        "http://127.0.0.1:9/search",
        "crm-tests",
        2.5,
    )


def test_geocoder_from_config_none_places_nothing():
    geocoder = geocoder_from_config({"CRM_GEOCODER": "none"})
    assert isinstance(geocoder, NoGeocoder)
    assert geocoder.locate(city("München", "DE")) is None


@pytest.mark.parametrize("name", ["google", "nominatim2", "gazeteer"])
def test_geocoder_from_config_rejects_unknown_names(name):
    with pytest.raises(ValueError, match=f"Unknown CRM_GEOCODER '{name}'"):
        geocoder_from_config({"CRM_GEOCODER": name})
