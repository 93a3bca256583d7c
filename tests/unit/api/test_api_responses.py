"""Exceptions -> (status, message) and the envelopes."""

from __future__ import annotations

import logging

import msgspec
import pytest
from litestar.exceptions import ClientException, NotFoundException, ValidationException

from api.responses import Envelope, error_response, ok, to_error
from hybrid.models import with_defaults
from hybrid import models as m
from hybrid.errors import AlreadyExists, CollectionNotFound, Forbidden, InvalidValue, ValidationError


@pytest.mark.parametrize("exc, status, words", [
    (ValidationError("points[2].vector", "bad"), 400, "Wrong input: points[2].vector: bad"),  # Qdrant's BadInput
    (InvalidValue("collection_name", "bad"), 422, "Validation error: collection_name: bad"),  # Qdrant's validator
    (CollectionNotFound("c"), 404, "Not found: Collection `c`"),
    (AlreadyExists("c"), 409, "Wrong input: Collection `c` already exists!"),
    (Forbidden("no"), 403, "no"),
    (ValidationException(extra=[{"key": "limit", "message": "Expected `int`, got `str`", "source": "body"}]), 400,
     "Format error in JSON body: limit: Expected `int`, got `str`"),
    (ValidationException(extra=[{"key": "limit", "message": "Expected `int` >= 1", "source": "body"}]), 422,
     "Validation error in JSON body: [limit: Expected `int` >= 1]"),
    (ValidationException(extra=[{"key": "wait", "message": "Expected `bool`, got `str`", "source": "query"}]), 400,
     "Deserialize error in query parameters: wait"),
    (ValidationException(extra=[{"key": "data", "message": "'data'", "source": "body"}]), 400, "Empty request body"),
    (ClientException("JSON is malformed: x"), 400, "Format error in JSON body"),
    (NotFoundException(), 404, "Not Found"),
    (ValueError("operands could not be broadcast"), 500, "Service internal error"),  # internal faults
    (IndexError("index 5 is out of bounds"), 500, "Service internal error"),
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


def test_internal_faults_are_500_with_an_error_id_naming_the_logged_traceback() -> None:
    """A ValueError from inside the engine is no user mistake: 500, and the id in the answer
    finds the traceback in the log."""
    from litestar import get
    from litestar.testing import create_test_client

    from api.responses import handle_exception

    @get("/boom")
    async def boom() -> None:
        raise ValueError("operands could not be broadcast together")

    @get("/mistake")
    async def mistake() -> None:
        raise ValidationError("limit", "must be non-negative")

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("hybrid.api")
    with create_test_client([boom, mistake], exception_handlers={Exception: handle_exception}) as client:
        logger.addHandler(handler)  # on the logger itself: the app's logging config replaces root handlers
        try:
            response = client.get("/boom")
            assert client.get("/mistake").status_code == 400
        finally:
            logger.removeHandler(handler)
    message = response.json()["status"]["error"]
    assert response.status_code == 500 and "broadcast" not in message
    error_id = message.split("error id ")[1].split(";")[0]
    (logged,) = [r for r in records if error_id in r.getMessage()]
    assert logged.exc_info[0] is ValueError
