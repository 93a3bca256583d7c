"""Geo payload index: points sorted by latitude; a query slices its latitude band, then tests
the candidates exactly with the same vectorised predicates as the column scan."""

from __future__ import annotations

from typing import Any

import numpy as np

from indexes.payload import geo
from indexes.payload.conditions import GeoBoundingBox, GeoPolygon, GeoRadius
from indexes.payload.jsonpath import values_at
from indexes.payload.pairs import PayloadValueIndex


class GeoIndex(PayloadValueIndex):
    """(lat, lon) values: geo_radius, geo_bounding_box, geo_polygon."""

    kind = "geo"
    dtype = np.float64
    width = 2

    def values_of(self, payload: dict) -> list[tuple[float, float]]:
        return list({p for v in values_at(payload, self.path) if (p := geo.as_geo_point(v)) is not None})

    def positions(self, check: Any) -> tuple[np.ndarray, bool] | None:
        if not isinstance(check, (GeoRadius, GeoBoundingBox, GeoPolygon)):
            return None
        points, _ = self.pairs.sorted_view()
        low, high = geo.latitude_band(check)
        start = int(np.searchsorted(points[:, 0], low, side="left"))
        stop = int(np.searchsorted(points[:, 0], high, side="right"))
        band = points[start:stop]
        inside = geo.geo_check(band[:, 0], band[:, 1], check)
        return start + np.flatnonzero(inside), False
