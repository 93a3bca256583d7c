import pytest
from qdrant_client.local.datetime_utils import parse

from fusion.datetimes import parse_datetime

ACCEPTED = [
    "2024-05-01",
    "2024-05-01T12:30",
    "2024-05-01 12:30",
    "2024-05-01T12:30:15",
    "2024-05-01 12:30:15.5",
    "2024-05-01T12:30:15.123456789",
    "2024-05-01T12:30:15Z",
    "2024-05-01T12:30:15z",
    "2024-05-01T12:30:15+02:00",
    "2024-05-01T12:30:15-0530",
    "2024-05-01 12:30:15.25+01",
    "2024-05-01 12:30:15 +02:00",
    "2024-05-01 12:30:15 UTC",
    "  2024-05-01T00:00:00Z",
]
REJECTED = ["yesterday", "2024-13-01", "2024-02-30", "2024-05-01T25:00", "20240501", "2024-05-01T12", "2024-05-01Z"]


@pytest.mark.parametrize("text", ACCEPTED)
def test_parse_datetime_matches_qdrant_client(text):
    expected = parse(text)
    assert expected is not None
    assert parse_datetime(text) == pytest.approx(expected.timestamp(), abs=1e-6)


@pytest.mark.parametrize("text", REJECTED)
def test_parse_datetime_rejects_what_qdrant_client_rejects(text):
    assert parse(text) is None
    with pytest.raises(ValueError, match="when"):
        parse_datetime(text, "when")


def test_parse_datetime_type_error():
    with pytest.raises(TypeError, match="when"):
        parse_datetime(20240501, "when")  # type: ignore[arg-type]
