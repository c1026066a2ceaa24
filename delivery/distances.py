"""Travel times and distances between points: the one module that talks to a routing service.

``provider_from_config(config)`` picks the implementation the way the app factory picks its senders:
without ``ROUTING_URL`` a straight-line estimate (haversine × a road factor at a set speed; no network,
good enough for a rural town's planning), with it an OSRM-compatible ``/table/v1/driving/`` service.
``DayCache`` keeps the matrices of one delivery day so re-planning the same day does not ask again.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import numpy as np

from core.errors import DomainError

EARTH_RADIUS_M = 6_371_008.8
# Roads in a valley town wind: 1.3 × the straight line and 30 km/h door to door are the defaults
# until the pilot's driven routes give better numbers (settable per deployment).
DEFAULT_ROAD_FACTOR = 1.3
DEFAULT_SPEED_KMH = 30.0


class RoutingServiceError(DomainError):
    http_status = 503

    def __init__(self, detail: str) -> None:
        super().__init__("routing_service_unavailable", "道のりの計算ができませんでした。しばらくしてからもう一度お試しください。", detail=detail)


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class Matrix:
    travel_s: tuple[tuple[int, ...], ...]
    distance_m: tuple[tuple[int, ...], ...]


class DistanceProvider(Protocol):
    def matrix(self, points: Sequence[Point]) -> Matrix:
        """Travel time (s) and road distance (m) from every point to every point, integers."""
        ...


def haversine_m(a: Point, b: Point) -> float:
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class StraightLine:
    road_factor: float = DEFAULT_ROAD_FACTOR
    speed_kmh: float = DEFAULT_SPEED_KMH

    def matrix(self, points: Sequence[Point]) -> Matrix:
        travel, dist = self.arrays(points)
        return Matrix(tuple(map(tuple, travel.tolist())), tuple(map(tuple, dist.tolist())))

    def arrays(self, points: Sequence[Point]) -> tuple[np.ndarray, np.ndarray]:
        """The same as ``matrix`` as int32 arrays (a 5,000-point city: 100 MB instead of 2 GB of tuples)."""
        lat = np.radians(np.array([p.lat for p in points], dtype=np.float64))
        lon = np.radians(np.array([p.lon for p in points], dtype=np.float64))
        h = np.sin((lat[None, :] - lat[:, None]) / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin((lon[None, :] - lon[:, None]) / 2) ** 2
        dist = np.rint(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1))) * self.road_factor)
        travel = np.ceil(dist / (self.speed_kmh * 1000 / 3600))
        return travel.astype(np.int32), dist.astype(np.int32)


@dataclass(frozen=True)
class OsrmTable:
    """An OSRM ``table`` service (or anything speaking its API), e.g. a self-hosted osrm-backend."""

    base_url: str
    timeout_s: float = 20.0
    profile: str = "driving"

    def matrix(self, points: Sequence[Point]) -> Matrix:
        if not points:
            return Matrix((), ())
        coords = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in points)  # OSRM wants lon,lat
        url = f"{self.base_url.rstrip('/')}/table/v1/{self.profile}/{coords}?annotations=duration,distance"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
                body: dict[str, Any] = json.loads(resp.read().decode("utf-8"))
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise RoutingServiceError(f"table request failed: {exc}") from exc
        if body.get("code") != "Ok":
            raise RoutingServiceError(f"table answered {body.get('code')}: {body.get('message', '')}")
        durations, distances = body.get("durations"), body.get("distances")
        n = len(points)
        if not _square(durations, n) or not _square(distances, n):
            raise RoutingServiceError("table answer is not an n x n matrix of durations and distances")
        for row in durations + distances:  # type: ignore[operator]
            if any(x is None for x in row):
                # OSRM answers null for a pair it cannot route (a point off the road network)
                raise RoutingServiceError("a point cannot be reached by road")
        travel = tuple(tuple(math.ceil(x) for x in row) for row in durations)  # type: ignore[union-attr]
        dist = tuple(tuple(round(x) for x in row) for row in distances)  # type: ignore[union-attr]
        return Matrix(travel, dist)


def _square(m: object, n: int) -> bool:
    return isinstance(m, list) and len(m) == n and all(isinstance(r, list) and len(r) == n for r in m)


class DayCache:
    """Matrices of one delivery day, keyed by the exact point list; asking for another day forgets the
    previous one (a day's plan is re-made several times, yesterday's never)."""

    def __init__(self, provider: DistanceProvider) -> None:
        self.provider = provider
        self._day: date | None = None
        self._cache: dict[tuple[Point, ...], Matrix] = {}
        self.misses = 0

    def matrix(self, day: date, points: Sequence[Point]) -> Matrix:
        if day != self._day:
            self._day, self._cache = day, {}
        key = tuple(points)
        found = self._cache.get(key)
        if found is None:
            self.misses += 1
            found = self._cache[key] = self.provider.matrix(points)
        return found


def provider_from_config(config: Mapping[str, Any]) -> DistanceProvider:
    """``ROUTING_URL`` set: the table service; otherwise the straight-line estimate with
    ``ROUTING_ROAD_FACTOR`` and ``ROUTING_SPEED_KMH`` (defaults 1.3 and 30)."""
    url = config.get("ROUTING_URL")
    if url:
        return OsrmTable(str(url), timeout_s=float(config.get("ROUTING_TIMEOUT_S", 20.0)))
    return StraightLine(
        road_factor=float(config.get("ROUTING_ROAD_FACTOR", DEFAULT_ROAD_FACTOR)),
        speed_kmh=float(config.get("ROUTING_SPEED_KMH", DEFAULT_SPEED_KMH)),
    )
