"""parse_filter: accepted input forms, normalisations, and errors that name the offending path."""

from __future__ import annotations

from datetime import date, datetime, timezone

import msgspec
import pytest
from qdrant_client import models

from hybrid.filters import parse_filter
from indexes.payload.conditions import (
    DatetimeRange, FieldCondition, Filter, GeoPolygon, HasId, IsEmpty, IsNull, MatchExcept, MatchText,
    MatchValue, Nested, Range, Slice,
)
from indexes.payload.datetimes import parse_micros

UUID = "550e8400-e29b-41d4-a716-446655440000"


def test_filters_parse_dict_pydantic_and_msgspec_agree():
    as_dict = {
        "must": [{"key": "a.b", "match": {"except": [1, 2]}}, {"has_id": [3, UUID.upper()]}],
        "should": {"key": "t", "match": {"text": "hello"}},
        "must_not": [{"is_empty": {"key": "x"}}],
        "min_should": {"conditions": [{"has_vector": "v"}, {"key": "d", "range": {"gte": "2021-01-01T00:00:00Z"}}], "min_count": 1},
    }
    model = models.Filter.model_validate(as_dict)

    class Wire(msgspec.Struct, omit_defaults=True):
        must: list | None = None
        should: dict | None = None
        must_not: list | None = None
        min_should: dict | None = None

    parsed = [parse_filter(as_dict), parse_filter(model), parse_filter(Wire(**as_dict))]
    assert parsed[0] == parsed[1] == parsed[2]
    flt = parsed[0]
    assert flt.must[0] == FieldCondition("a.b", flt.must[0].path, MatchExcept((1, 2)))
    assert flt.must[1] == HasId(frozenset({3, UUID}))
    assert flt.should[0].check == MatchText("hello", "text")
    assert flt.must_not[0].check == IsEmpty(True)
    assert flt.min_should.conditions[1].check == DatetimeRange(gte=parse_micros("2021-01-01"))


def test_filters_parse_normalisations():
    assert parse_filter(None) is None
    assert parse_filter({}) == Filter()
    ids = parse_filter({"must": [{"has_id": [f"{{{UUID.upper()}}}", UUID.replace("-", ""), f"urn:uuid:{UUID}", 0]}]}).must[0]
    assert ids.ids == frozenset({UUID, 0})
    rng = parse_filter({"must": {"key": "n", "range": {"gt": 1, "lte": 2.5}}}).must[0].check
    assert rng == Range(gt=1.0, lte=2.5)
    naive = parse_filter({"must": {"key": "d", "range": {"lt": datetime(2021, 1, 1), "gt": date(2020, 1, 1)}}}).must[0].check
    aware = datetime(2021, 1, 1, tzinfo=timezone.utc)
    assert naive == DatetimeRange(lt=parse_micros(aware.isoformat()), gt=parse_micros("2020-01-01"))
    assert parse_filter({"must": [{"is_null": {"key": "k"}}]}).must[0].check == IsNull(True)
    assert parse_filter({"must": [{"key": "k", "is_empty": False}]}).must[0].check == IsEmpty(False)
    nested = parse_filter({"must": [{"nested": {"key": "arr[]", "filter": {"must": {"key": "x", "match": {"value": True}}}}}]}).must[0]
    assert isinstance(nested, Nested) and nested.path == parse_filter({"must": [{"nested": {"key": "arr", "filter": {}}}]}).must[0].path
    assert nested.filter.must[0].check == MatchValue(True)
    polygon = {"exterior": {"points": [{"lat": 0, "lon": 0}, {"lat": 1, "lon": 0}, {"lat": 1, "lon": 1}, {"lat": 0, "lon": 0}]}}
    assert isinstance(parse_filter({"must": {"key": "g", "geo_polygon": polygon}}).must[0].check, GeoPolygon)
    assert parse_filter({"must": [{"slice": {"total": 4, "index": 3}}]}).must[0] == Slice(4, 3)


@pytest.mark.parametrize("flt,message", [
    ({"must": [{"key": "a", "match": {"value": 1}}, {}, {"key": "n", "range": {"gte": "soon"}}]},
     "filter.must[2].range.gte: expected an RFC 3339 datetime"),
    ({"must": [{"key": "n", "range": {"gte": True}}]}, "filter.must[0].range.gte: expected a number"),
    ({"must": [{"key": "n", "range": {"gte": 1, "lt": "2021-01-01"}}]}, "filter.must[0].range.gte: expected an RFC 3339"),
    ({"shoud": []}, "filter.shoud: unknown field"),
    ({"must": [{"key": "a", "match": {"value": 1, "any": [1]}}]}, "filter.must[0].match: expected exactly one"),
    ({"must": [{"key": "a", "match": {"value": 1.5}}]}, "filter.must[0].match.value: expected a string"),
    ({"must": [{"key": "a", "match": {"any": [1, "x"]}}]}, r"filter.must[0].match.any[1]: expected all strings"),
    ({"must": [{"key": "a", "match": {"except": [True]}}]}, r"filter.must[0].match.except[0]"),
    ({"must": [{"key": "a"}]}, "filter.must[0]: a field condition needs one of"),
    ({"must": [{"key": "a..b", "match": {"value": 1}}]}, "filter.must[0].key: invalid JSON path"),
    ({"must": [{"key": 5, "match": {"value": 1}}]}, "filter.must[0].key: expected a string"),
    ({"must": [{"key": "a", "values_count": {"gt": -1}}]}, "filter.must[0].values_count.gt: expected a non-negative"),
    ({"must": [{"key": "a", "is_empty": "yes"}]}, "filter.must[0].is_empty: expected a boolean"),
    ({"must": [{"key": "a", "colour": 1}]}, "filter.must[0].colour: unknown field"),
    ({"should": [{"has_id": [1, -1]}]}, r"filter.should[0].has_id[1]: expected an unsigned"),
    ({"should": [{"has_id": ["nope"]}]}, r"filter.should[0].has_id[0]: 'nope' is not a UUID"),
    ({"should": [{"has_id": 1}]}, "filter.should[0].has_id: expected a list"),
    ({"min_should": {"conditions": [], "min_count": 0}}, "filter.min_should.min_count: expected an integer >= 1"),
    ({"min_should": {"min_count": 1}}, "filter.min_should.conditions: field is required"),
    ({"must": [{"nested": {"key": "arr"}}]}, "filter.must[0].nested.filter: field is required"),
    ({"must": [{"nested": {"key": "arr", "filter": {"must": [{"key": "x", "range": {"lt": "x"}}]}}}]},
     "filter.must[0].nested.filter.must[0].range.lt"),
    ({"must": [{"key": "g", "geo_radius": {"center": {"lat": 91, "lon": 0}, "radius": 1}}]},
     "filter.must[0].geo_radius.center.lat: latitude"),
    ({"must": [{"key": "g", "geo_bounding_box": {"top_left": {"lat": 1, "lon": 0}}}]},
     "filter.must[0].geo_bounding_box.bottom_right: field is required"),
    ({"must": [{"key": "g", "geo_polygon": {"exterior": {"points": [{"lat": 0, "lon": 0}] * 3}}}]},
     "filter.must[0].geo_polygon.exterior.points: a polygon ring needs at least 4"),
    ({"must": [{"key": "g", "geo_polygon": {"exterior": {"points": [{"lat": 0, "lon": i} for i in range(4)]}}}]},
     "filter.must[0].geo_polygon.exterior.points: a polygon ring must end"),
    ({"must": [{"slice": {"total": 2, "index": 2}}]}, "filter.must[0].slice.index: expected an integer in [0, 2)"),
    ({"must": [{"slice": {"total": 0, "index": 0}}]}, "filter.must[0].slice.total: expected an integer in [1, 2^32)"),
    ({"must": ["a"]}, "filter.must[0]: expected an object"),
    ("a", "filter: expected an object"),
])
def test_filters_parse_errors_name_the_path(flt, message):
    with pytest.raises(ValueError) as caught:
        parse_filter(flt)
    assert str(caught.value).startswith(message)


def test_filters_parse_error_uses_given_field_name():
    with pytest.raises(ValueError, match=r"^query\.filter\.must\[0\]\.range\.gt: "):
        parse_filter({"must": [{"key": "n", "range": {"gt": "x"}}]}, field="query.filter")
