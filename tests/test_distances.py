"""Distance providers: the straight-line default, the OSRM table client against a local fake, the day cache."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from delivery.distances import (
    DayCache,
    OsrmTable,
    Point,
    RoutingServiceError,
    StraightLine,
    haversine_m,
    provider_from_config,
)

NAGAI_STATION = Point(38.1075, 140.0405)
ONE_KM_NORTH = Point(38.1075 + 1 / 111.195, 140.0405)


class FakeOsrm:
    """A recording stand-in for an OSRM server on 127.0.0.1."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.answer: dict | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake.requests.append(self.path)
                coords = self.path.split("/table/v1/driving/")[1].split("?")[0].split(";")
                n = len(coords)
                body = fake.answer or {
                    "code": "Ok",
                    "durations": [[0.0 if i == j else 60.4 * abs(i - j) for j in range(n)] for i in range(n)],
                    "distances": [[0.0 if i == j else 800.6 * abs(i - j) for j in range(n)] for i in range(n)],
                }
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def osrm() -> Iterator[FakeOsrm]:
    fake = FakeOsrm()
    yield fake
    fake.close()


def test_haversine_one_kilometre() -> None:
    assert haversine_m(NAGAI_STATION, ONE_KM_NORTH) == pytest.approx(1000, abs=1)


def test_straight_line_applies_road_factor_and_speed() -> None:
    m = StraightLine(road_factor=1.5, speed_kmh=36).matrix([NAGAI_STATION, ONE_KM_NORTH])
    assert m.distance_m[0][1] == pytest.approx(1500, abs=2)
    assert m.travel_s[0][1] == pytest.approx(150, abs=1)  # 36 km/h = 10 m/s
    assert m.travel_s[0][0] == 0 and m.distance_m[1][1] == 0


def test_osrm_client_sends_lon_lat_and_reads_the_table(osrm: FakeOsrm) -> None:
    m = OsrmTable(osrm.url).matrix([NAGAI_STATION, ONE_KM_NORTH, Point(38.1, 140.03)])
    assert len(osrm.requests) == 1
    path = osrm.requests[0]
    assert path.startswith("/table/v1/driving/140.040500,38.107500;140.040500,38.116493;140.030000,38.100000")
    assert "annotations=duration,distance" in path
    assert m.travel_s[0][2] == 121  # 120.8 s rounded up: never promise an earlier arrival
    assert m.distance_m[2][0] == 1601


def test_osrm_errors_become_a_domain_error(osrm: FakeOsrm) -> None:
    osrm.answer = {"code": "InvalidQuery", "message": "bad coordinates"}
    with pytest.raises(RoutingServiceError) as err:
        OsrmTable(osrm.url).matrix([NAGAI_STATION, ONE_KM_NORTH])
    assert err.value.code == "routing_service_unavailable"
    osrm.answer = {"code": "Ok", "durations": [[0, None], [1, 0]], "distances": [[0, 1], [1, 0]]}
    with pytest.raises(RoutingServiceError):
        OsrmTable(osrm.url).matrix([NAGAI_STATION, ONE_KM_NORTH])


def test_unreachable_service_is_a_domain_error() -> None:
    with pytest.raises(RoutingServiceError):
        OsrmTable("http://127.0.0.1:9", timeout_s=2).matrix([NAGAI_STATION, ONE_KM_NORTH])


def test_day_cache_asks_once_per_day_and_point_list(osrm: FakeOsrm) -> None:
    cache = DayCache(OsrmTable(osrm.url))
    points = [NAGAI_STATION, ONE_KM_NORTH]
    a = cache.matrix(date(2026, 12, 1), points)
    b = cache.matrix(date(2026, 12, 1), list(points))
    assert a is b and len(osrm.requests) == 1
    cache.matrix(date(2026, 12, 2), points)
    assert len(osrm.requests) == 2


def test_provider_from_config_picks_by_routing_url(osrm: FakeOsrm) -> None:
    assert isinstance(provider_from_config({"ROUTING_URL": None}), StraightLine)
    chosen = provider_from_config({"ROUTING_URL": osrm.url})
    assert isinstance(chosen, OsrmTable) and chosen.base_url == osrm.url
    slow = provider_from_config({"ROUTING_SPEED_KMH": "20"})
    assert isinstance(slow, StraightLine) and slow.speed_kmh == 20
