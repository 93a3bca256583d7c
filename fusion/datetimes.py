"""Datetime strings as Qdrant accepts them, turned into float seconds since the Unix epoch."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# RFC 3339 and the relaxed forms Qdrant also takes: a space instead of "T", minutes-only
# times, a bare date, up to nanosecond fractions (kept to microseconds), an offset written
# "Z", "UTC", "+HH", "+HHMM" or "+HH:MM" (optionally after one space). No offset means UTC.
_PATTERN = re.compile(
    r"\s*(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?:\s?(?P<offset>[Zz]|UTC|[+-]\d{2}(?::?\d{2})?))?)?)?"
)


def parse_datetime(text: str, field: str = "datetime") -> float:
    """Seconds since 1970-01-01T00:00:00Z (float, microsecond precision) of a datetime string.

    Accepted: "2024-05-01", "2024-05-01T12:30", "2024-05-01 12:30:00.123456789",
    "2024-05-01T12:30:00Z", "2024-05-01T12:30:00+02:00", "2024-05-01 12:30:00 +0200", ...
    Raises ValueError naming `field` otherwise.
    """
    if not isinstance(text, str):
        raise TypeError(f"{field}: expected a datetime string, got {type(text).__name__}")
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"{field}: {text!r} is not a supported datetime format")
    part = match.groupdict()
    try:
        moment = datetime(
            int(part["year"]),
            int(part["month"]),
            int(part["day"]),
            int(part["hour"] or 0),
            int(part["minute"] or 0),
            int(part["second"] or 0),
            int((part["fraction"] or "").ljust(6, "0")[:6]),
            tzinfo=_offset(part["offset"]),
        )
    except ValueError as error:
        raise ValueError(f"{field}: {text!r} is not a valid datetime ({error})") from None
    return moment.timestamp()


def _offset(text: str | None) -> timezone:
    if text is None or text in ("Z", "z", "UTC"):
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return timezone(sign * timedelta(minutes=minutes))
