"""Engine errors -> the gRPC status codes Qdrant's server sends (its StorageError -> tonic::Status):
client mistakes are never INTERNAL or UNKNOWN; internal faults are INTERNAL and logged."""

from __future__ import annotations

import logging

import grpc
import msgspec
import pytest

from api.grpc.gateway import status_of
from hybrid import errors as e

Code = grpc.StatusCode


@pytest.mark.parametrize("exc, code", [
    (e.ValidationError("query", "wrong size"), Code.INVALID_ARGUMENT),
    (e.BadRequest("bad"), Code.INVALID_ARGUMENT),
    (e.ModelUnavailable("offline"), Code.INVALID_ARGUMENT),
    (e.CollectionNotFound("c"), Code.NOT_FOUND),
    (e.PointNotFound(3), Code.NOT_FOUND),
    (e.AlreadyExists("c"), Code.ALREADY_EXISTS),
    (e.StorageLocked("in use"), Code.FAILED_PRECONDITION),
    (e.Unauthorized("no key"), Code.UNAUTHENTICATED),
    (e.Forbidden("read-only"), Code.PERMISSION_DENIED),
    (e.PayloadTooLarge("big"), Code.RESOURCE_EXHAUSTED),
    (e.DataDamaged("/d/f", "checksum"), Code.DATA_LOSS),
])
def test_engine_errors_map_as_qdrant_maps_them(exc, code):
    got, message = status_of(exc)
    assert got == code and exc.message in message


@pytest.mark.parametrize("exc", [ValueError("engine bug"), IndexError("engine bug"), e.StorageError("disk")])
def test_internal_faults_are_internal_and_logged_without_details(exc, caplog):
    with caplog.at_level(logging.ERROR, logger="hybrid.api"):
        code, message = status_of(exc)
    assert code == Code.INTERNAL and "error id" in message
    assert caplog.records and caplog.records[0].exc_info is not None  # the traceback is in the log
    if not isinstance(exc, e.HybridError):
        assert "engine bug" not in message


def test_unknown_client_statuses_stay_client_mistakes():
    class Teapot(e.HybridError):
        status_code = 418

    assert status_of(Teapot("no"))[0] == Code.INVALID_ARGUMENT
    assert status_of(msgspec.ValidationError("Expected `int`"))[0] == Code.INVALID_ARGUMENT  # as REST's 400
