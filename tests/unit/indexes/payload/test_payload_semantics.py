"""Building blocks against Qdrant's local-mode definitions: tokenizer/text match, datetime
parsing, geo predicates, JSON paths."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from qdrant_client import models
from qdrant_client.local import datetime_utils
from qdrant_client.local.geo import boolean_point_in_polygon, geo_distance
from qdrant_client.local.json_path_parser import parse_json_path
from qdrant_client.local.payload_filters import check_match
from qdrant_client.local.payload_value_extractor import value_by_key

from indexes.payload import geo
from indexes.payload.conditions import GeoBoundingBox, GeoPolygon, GeoRadius
from indexes.payload.datetimes import parse_micros, to_micros
from indexes.payload.jsonpath import parse_path, values_at
from indexes.payload.text import TokenTable

DOCUMENTS = [
    "hello world", "World of hello", "hello", "", "foo-bar baz", "foo_bar", "Ünïcode straße 42",
    "a b a b c", "hello hello world", "x", "42 is the answer", "the answer is 42!",
]
QUERIES = ["hello", "world hello", "hello world", "of hello", "foo bar", "foo_bar", "straße", "ÜNÏCODE",
           "a b c", "b a", "", "!!", "42", "answer 42", "zzz hello", "hello zzz"]


@pytest.mark.parametrize("kind,model", [("text", models.MatchText), ("text_any", models.MatchTextAny), ("phrase", models.MatchPhrase)])
def test_payload_text_match_equals_qdrant_tokenizer(kind, model):
    table = TokenTable(DOCUMENTS)
    for query in QUERIES:
        expected = [check_match(model(**{kind: query}), doc) for doc in DOCUMENTS]
        assert table.match(query, kind).tolist() == expected, query


DATETIMES = [
    "2021-01-01", "2021-01-01T00:00:00Z", "2021-01-01T00:00:00z", "2021-01-01 00:00:00", "2021-01-01T10:20",
    "2021-01-01 10:20", "2021-01-01T10:20:30.5", "2021-01-01T10:20:30.123456789", "2021-01-01T10:20:30+02:00",
    "2021-01-01T10:20:30.1-0530", "2021-01-01 10:20:30 +01:00", "2021-01-01 00:00:00.000+01", "2021-01-01 10:20:30 UTC",
    "  2021-01-01", "2021-1-2", "2021-01-01T24:00:00", "2021-02-30", "2021-01-01T10", "2024-06-15 12",
    "2021-01-01T10:20+01:00", "not a date", "", "12345", "2021-01-01Z", "2021-01-01T10:20:30.1234567+01:00",
    "1969-12-31T23:59:59.999999Z", "9999-12-31T23:59:59Z", "0001-01-01",
]


def test_payload_datetime_parsing_equals_qdrant():
    for text in DATETIMES:
        expected = datetime_utils.parse(text)
        got = parse_micros(text)
        assert (got is None) == (expected is None), text
        if expected is not None:
            assert got == to_micros(expected), text


def test_payload_datetime_fast_path_equals_qdrant_on_random_timestamps():
    rng = random.Random(1)
    for _ in range(3000):
        text = "{}-{}-{}{}{}:{}:{}{}{}".format(
            rng.choice(["2021", "1999", "0001", "9999"]), rng.choice(["01", "12", "02", "13", "00"]),
            rng.choice(["01", "28", "29", "30", "31", "00"]), rng.choice("T "), rng.choice(["00", "23", "24", "09"]),
            rng.choice(["00", "59", "60"]), rng.choice(["00", "59", "60"]), rng.choice(["", ".5", ".123456", ".1234"]),
            rng.choice(["", "Z", "+01:00", "-05:30", "+14:00", "+23:59"]),
        )
        expected = datetime_utils.parse(text)
        assert parse_micros(text) == (None if expected is None else to_micros(expected)), text


def test_payload_geo_radius_and_box_equal_qdrant():
    rng = random.Random(7)
    lat = np.array([rng.uniform(-89, 89) for _ in range(300)])
    lon = np.array([rng.uniform(-180, 180) for _ in range(300)])
    for _ in range(10):
        c_lat, c_lon, radius = rng.uniform(-80, 80), rng.uniform(-180, 180), rng.choice([1e5, 1e6, 5e6])
        got = geo.in_radius(lat, lon, GeoRadius(c_lat, c_lon, radius))
        expected = [geo_distance(lo, la, c_lon, c_lat) < radius for la, lo in zip(lat, lon)]
        assert got.tolist() == expected
    box = GeoBoundingBox(top=40, left=170, bottom=-20, right=-170)  # crosses the antimeridian
    got = geo.in_bounding_box(lat, lon, box)
    expected = [(lo > 170 or lo < -170) and 40 > la > -20 for la, lo in zip(lat, lon)]
    assert got.tolist() == expected


def test_payload_geo_polygon_with_hole_and_boundaries_equals_qdrant():
    exterior = ((0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0))
    hole = ((1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 2.0), (1.0, 1.0))
    grid = np.array(list(itertools.product(np.arange(-0.5, 4.6, 0.5), repeat=2)))
    got = geo.in_polygon(grid[:, 0], grid[:, 1], GeoPolygon(exterior, (hole,)))
    expected = [boolean_point_in_polygon((la, lo), list(exterior), [list(hole)]) for la, lo in grid]
    assert got.tolist() == expected
    assert 0 < sum(expected) < len(expected)


def test_payload_geo_latitude_band_contains_every_match():
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-90, 90, 2000), rng.uniform(-180, 180, 2000)
    cond = GeoRadius(60.0, 10.0, 2e6)
    low, high = geo.latitude_band(cond)
    inside = geo.in_radius(lat, lon, cond)
    assert inside.any() and np.all((lat[inside] >= low) & (lat[inside] <= high))


PATHS = ['a', 'a.b', 'a[]', 'a[0]', 'a[].b', 'a[1].b[]', '"a.b".c', 'a_b-c', 'a[][]', 'ü.x']
BAD_PATHS = ['', '.a', 'a.', 'a..b', 'a[', 'a[x]', 'a[-1]', 'a b', '"a', 'a]', 'a.[0]']


def test_payload_json_paths_parse_and_select_like_qdrant():
    payload = {"a": [{"b": [1, 2]}, {"b": 3}, [4, [5]]], "a.b": {"c": "q"}, "a_b-c": None, "ü": {"x": True}}
    other = {"a": {"b": [7, [8]]}}
    for path in PATHS:
        assert len(parse_path(path)) == len(parse_json_path(path)), path
        for doc in (payload, other):
            for flat in (True, False):
                assert values_at(doc, parse_path(path), flat) == (value_by_key(doc, path, flat) or []), (path, flat)
    for path in BAD_PATHS:
        with pytest.raises(ValueError):
            parse_path(path)
