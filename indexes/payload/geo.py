"""Vectorised geo predicates over arrays of latitudes and longitudes (degrees), as Qdrant does them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from indexes.payload.conditions import GeoBoundingBox, GeoPolygon, GeoRadius

#: Mean Earth radius in metres (IUGG), the one Qdrant uses.
EARTH_RADIUS_M = 6371008.8


def as_geo_point(value: Any) -> tuple[float, float] | None:
    """(lat, lon) when `value` is an object with finite numeric (non-bool) lat and lon."""
    if not isinstance(value, dict):
        return None
    lat, lon = value.get("lat"), value.get("lon")
    if type(lat) not in (int, float) or type(lon) not in (int, float):
        return None
    try:
        lat, lon = float(lat), float(lon)
    except OverflowError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return lat, lon


def haversine_m(lat: np.ndarray, lon: np.ndarray, center_lat: float, center_lon: float) -> np.ndarray:
    """Great-circle distance: 2 R asin(sqrt(sin^2(dlat/2) + cos(lat1) cos(lat2) sin^2(dlon/2)))."""
    lat1, lon1 = np.radians(lat), np.radians(lon)
    lat2, lon2 = np.radians(center_lat), np.radians(center_lon)
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return EARTH_RADIUS_M * 2 * np.arcsin(np.sqrt(a))


def in_radius(lat: np.ndarray, lon: np.ndarray, cond: GeoRadius) -> np.ndarray:
    return haversine_m(lat, lon, cond.lat, cond.lon) < cond.radius


def in_bounding_box(lat: np.ndarray, lon: np.ndarray, cond: GeoBoundingBox) -> np.ndarray:
    """Strictly inside; a box whose left edge is east of its right edge crosses the antimeridian."""
    if cond.left > cond.right:
        lon_ok = (lon > cond.left) | (lon < cond.right)
    else:
        lon_ok = (cond.left < lon) & (lon < cond.right)
    return lon_ok & (cond.top > lat) & (lat > cond.bottom)


def _in_ring(lat: np.ndarray, lon: np.ndarray, ring: tuple[tuple[float, float], ...], boundary: bool) -> np.ndarray:
    """Even-odd ray casting in (lat, lon) space; points on an edge get `boundary`.

    The loop runs over the ring's edges (a handful), each step vectorised over all points.
    """
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring = ring[:-1]
    parity = np.zeros(lat.shape, dtype=bool)
    on_edge = np.zeros(lat.shape, dtype=bool)
    j = len(ring) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(len(ring)):
            xi, yi = ring[i]
            xj, yj = ring[j]
            on_edge |= (
                (lon * (xi - xj) + yi * (xj - lat) + yj * (lat - xi) == 0)
                & ((xi - lat) * (xj - lat) <= 0)
                & ((yi - lon) * (yj - lon) <= 0)
            )
            crosses = (yi > lon) != (yj > lon)
            parity ^= crosses & (lat < (xj - xi) * (lon - yi) / (yj - yi) + xi)
            j = i
    return np.where(on_edge, boundary, parity)


def in_polygon(lat: np.ndarray, lon: np.ndarray, cond: GeoPolygon) -> np.ndarray:
    """Inside the exterior (boundary excluded) and not inside or on any interior ring."""
    inside = _in_ring(lat, lon, cond.exterior, boundary=False)
    for ring in cond.interiors:
        inside &= ~_in_ring(lat, lon, ring, boundary=True)
    return inside


def geo_check(lat: np.ndarray, lon: np.ndarray, cond: GeoRadius | GeoBoundingBox | GeoPolygon) -> np.ndarray:
    """Dispatch one geo condition over point arrays."""
    if isinstance(cond, GeoRadius):
        return in_radius(lat, lon, cond)
    if isinstance(cond, GeoBoundingBox):
        return in_bounding_box(lat, lon, cond)
    return in_polygon(lat, lon, cond)


def latitude_band(cond: GeoRadius | GeoBoundingBox | GeoPolygon) -> tuple[float, float]:
    """Inclusive latitude interval that contains every matching point (for index pre-selection)."""
    if isinstance(cond, GeoRadius):
        reach = np.degrees(cond.radius / EARTH_RADIUS_M) * 1.000001 + 1e-9
        return cond.lat - reach, cond.lat + reach
    if isinstance(cond, GeoBoundingBox):
        return cond.bottom, cond.top
    lats = [p[0] for p in cond.exterior]
    return min(lats), max(lats)
