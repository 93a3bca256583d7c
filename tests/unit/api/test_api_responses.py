"""Exceptions -> (status, message) and the envelopes."""

from __future__ import annotations

import msgspec
import pytest
from litestar.exceptions import ClientException, NotFoundException, ValidationException

from api.responses import Envelope, error_response, ok, to_error, with_defaults
from hybrid import models as m
from hybrid.errors import AlreadyExists, CollectionNotFound, Forbidden, ValidationError


@pytest.mark.parametrize("exc, status, words", [
    (ValidationError("points[2].vector", "bad"), 422, "points[2].vector: bad"),
    (CollectionNotFound("c"), 404, "Not found: Collection `c`"),
    (AlreadyExists("c"), 409, "already exists"),
    (Forbidden("no"), 403, "no"),
    (ValidationException(extra=[{"key": "limit", "message": "Expected `int`", "source": "body"}]), 422,
     "body limit: Expected `int`"),
    (ValidationException(extra=[{"key": "data", "message": "'data'", "source": "body"}]), 400, "Empty request body"),
    (ClientException("JSON is malformed: x"), 400, "Format error in JSON body"),
    (NotFoundException(), 404, "Not Found"),
    (ValueError("limit: too big"), 422, "limit: too big"),
    (KeyError("internal"), 500, "Service internal error"),
])
def test_to_error(exc, status, words):
    got_status, message = to_error(exc)
    assert got_status == status and words in message


def test_envelopes():
    body = msgspec.json.decode(msgspec.json.encode(ok(True, 0.0)))
    assert body["result"] is True and body["status"] == "ok" and body["time"] > 0
    response = error_response(418, "teapot")
    assert response.status_code == 418 and msgspec.json.decode(response.content)["status"] == {"error": "teapot"}
    assert isinstance(ok([], 0.0), Envelope)


def test_with_defaults_keeps_default_fields():
    params = m.VectorParams(size=4, distance="Dot", on_disk=False)
    assert with_defaults(params)["on_disk"] is False  # set fields survive; None fields are dropped
    assert "datatype" not in with_defaults(params)
    assert with_defaults(m.HnswConfig())["ef_construct"] == 100  # config defaults shown, as Qdrant does
