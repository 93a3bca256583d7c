"""Point ids: unsigned 64-bit integers or UUIDs, as in Qdrant.

An id is kept in canonical form (`int`, or the lowercase hyphenated UUID `str`) and is ordered
as Qdrant orders them: every integer before every UUID, UUIDs by their 128-bit value. For
vectorised sorting and tie-breaking each id also has a numeric key `(kind, hi, lo)`.
"""

from __future__ import annotations

import uuid
from typing import Iterable, Iterator, Optional, Union

import numpy as np

from hybrid.errors import ValidationError

PointId = Union[int, str]
_U64 = 1 << 64


def normalize_id(value: object, field: str = "id") -> PointId:
    """Canonical id or a ValidationError naming `field`."""
    if isinstance(value, bool):
        raise ValidationError(field, "point id must be an unsigned integer or a UUID, got a boolean")
    if isinstance(value, (int, np.integer)):
        value = int(value)
        if 0 <= value < _U64:
            return value
        raise ValidationError(field, f"point id {value} is not an unsigned 64-bit integer")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            if value.isdigit():  # Qdrant's REST accepts numeric ids only as JSON numbers
                raise ValidationError(field, f"point id {value!r} must be a number, not a string") from None
            raise ValidationError(field, f"point id {value!r} is neither an unsigned integer nor a UUID") from None
    raise ValidationError(field, f"point id must be an unsigned integer or a UUID, got {type(value).__name__}")


def normalize_ids(values: Iterable[object], field: str = "ids") -> list[PointId]:
    return [normalize_id(v, f"{field}[{i}]") for i, v in enumerate(values)]


def id_key(point_id: PointId) -> tuple[int, int, int]:
    """(kind, hi, lo): kind 0 for integers, 1 for UUIDs; lexicographic order = Qdrant's order."""
    if isinstance(point_id, int):
        return 0, 0, point_id
    v = uuid.UUID(point_id).int
    return 1, v >> 64, v & (_U64 - 1)


def id_key_bytes(point_id: PointId) -> bytes:
    """17 big-endian bytes whose byte order is the id order (numpy 'S17' sorts them correctly)."""
    kind, hi, lo = id_key(point_id)
    return bytes([kind]) + hi.to_bytes(8, "big") + lo.to_bytes(8, "big")


def id_keys(ids: list[PointId]) -> np.ndarray:
    """Sortable keys ('S17') for a list of ids; argsort of the keys orders the ids as Qdrant."""
    return np.array([id_key_bytes(i) for i in ids], dtype=ID_KEY_DTYPE)


ID_KEY_DTYPE = np.dtype("S17")


def id_of_key(key: bytes) -> PointId:
    """The id behind a key of `id_keys` (numpy hands 'S17' items back without trailing NULs)."""
    value = int.from_bytes(key[1:].ljust(16, b"\0"), "big")
    return value if key[:1] in (b"", b"\0") else str(uuid.UUID(int=value))


class KeyIds:
    """A sealed segment's ids as a read-only sequence over its key array: decoded on access,
    so a segment holds no Python object per point (a list of ids costs ~36 bytes a point)."""

    def __init__(self, keys: np.ndarray) -> None:
        self._keys = keys
        self._fields = keys.view(_KEY_FIELDS)  # a view: no memory
        self._integers: Optional[bool] = None  # whether every id is an integer (decided on first take)

    def __len__(self) -> int:
        return int(self._keys.shape[0])

    def __getitem__(self, offset: int) -> PointId:
        return id_of_key(self._keys[offset])

    def __iter__(self) -> Iterator[PointId]:
        return map(id_of_key, self._keys.tolist())

    @property
    def integers(self) -> bool:
        """Whether every id is an integer (decided once)."""
        if self._integers is None:
            self._integers = not self._fields["kind"].any()
        return self._integers

    def numbers(self, offsets: np.ndarray) -> np.ndarray:
        """The integer ids at `offsets` (big-endian u8; only when `integers`): they sort as the keys do."""
        return self._fields["lo"][offsets]

    def take(self, offsets: np.ndarray) -> list[PointId]:
        """The ids at `offsets`, decoded in one vectorised pass when they are all integers."""
        if not self.integers:
            return [id_of_key(key) for key in self._keys[offsets].tolist()]
        return self.numbers(offsets).tolist()  # big-endian u8 items come out as Python ints


#: The layout of an 'S17' key: kind byte, then the 128-bit value as two big-endian halves.
_KEY_FIELDS = np.dtype([("kind", "u1"), ("hi", ">u8"), ("lo", ">u8")])


def ids_at(ids: "list[Optional[PointId]] | KeyIds", offsets: np.ndarray) -> list:
    """`[ids[o] for o in offsets]` for a segment's id list or KeyIds."""
    take = getattr(ids, "take", None)  # KeyIds, or a read's view of a list (hybrid.view.Prefix)
    if take is not None:
        return take(offsets)
    return [ids[o] for o in offsets.tolist()]
