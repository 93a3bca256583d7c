"""RFC 3339-ish datetime strings as Qdrant core reads them, as UTC microseconds since the epoch.

Accepted: `YYYY-MM-DD`, optionally followed by `T` or a space and `HH:MM`, `HH:MM:SS` or
`HH:MM:SS.f` (fractions longer than 6 digits are truncated to microseconds), then an optional
offset (`Z`/`z`, `+HH:MM`, `+HHMM`, `+HH`, ` UTC`, possibly after a space) once seconds are
given. No offset means UTC. Leading whitespace is ignored.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROS_PER_DAY = 86_400_000_000
_LOOKS_LIKE_DATE = re.compile(r"\s*\d{4}-")
_HOUR_ONLY_OFFSET = re.compile(r"[+-]\d\d$")
# The RFC 3339 subset `fromisoformat` reads exactly as the layouts below do (checked by tests):
_PLAIN_RFC3339 = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)?"
)

# Qdrant core's accepted layouts, most common first.
_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f %z",
    "%Y-%m-%d %H:%M:%S.%f %z",
    "%Y-%m-%dT%H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


def to_micros(moment: datetime | date) -> int:
    """Exact UTC microseconds of a datetime (naive = UTC) or a date (its midnight UTC)."""
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time())
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - _EPOCH
    return delta.days * _MICROS_PER_DAY + delta.seconds * 1_000_000 + delta.microseconds


def _truncate_fraction(text: str) -> str:
    """Cut the digits after the first '.' to 6 (datetime stops at microseconds)."""
    dot = text.find(".")
    if dot == -1:
        return text
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    return text[: dot + 7] + text[end:] if end - dot > 7 else text


def _strptime_any(text: str) -> datetime | None:
    for layout in _FORMATS:
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


@lru_cache(maxsize=65536)
def parse_micros(text: str) -> int | None:
    """UTC microseconds of a datetime string, or None when Qdrant would not read it as one."""
    if not isinstance(text, str) or _LOOKS_LIKE_DATE.match(text) is None:
        return None
    if _PLAIN_RFC3339.fullmatch(text):
        try:
            return to_micros(datetime.fromisoformat(text))
        except ValueError:
            pass  # e.g. February 30th: let the full parser decide
    text = text.lstrip()
    if text.endswith(" UTC"):
        text = text[: -len(" UTC")] + "+00:00"
    elif text.endswith("z"):
        text = text[:-1] + "Z"
    text = _truncate_fraction(text)
    moment = _strptime_any(text)
    if moment is None and _HOUR_ONLY_OFFSET.search(text):
        moment = _strptime_any(text + ":00")
    return None if moment is None else to_micros(moment)
