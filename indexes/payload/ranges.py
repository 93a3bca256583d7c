"""Range bounds as slices of sorted arrays and as masks over unsorted ones, exact for integers.

Integer payload values compare with float bounds exactly (as Python does, not via a lossy
cast): `v >= 2.5` becomes `v >= 3`. Any comparison with a NaN bound is false.
"""

from __future__ import annotations

import math

import numpy as np

from indexes.payload.conditions import DatetimeRange, Range

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def int_bounds(rng: Range | DatetimeRange) -> tuple[int, int] | None:
    """Inclusive [lo, hi] of the integers (within int64) in the range, or None when empty."""
    lo, hi = _I64_MIN, _I64_MAX
    for bound, is_lower, strict in (
        (rng.gte, True, False), (rng.gt, True, True), (rng.lte, False, False), (rng.lt, False, True),
    ):
        if bound is None:
            continue
        if isinstance(bound, float):
            if math.isnan(bound):
                return None
            if math.isinf(bound):
                if (bound > 0) == is_lower:
                    return None
                continue
            if is_lower:
                edge = math.floor(bound) + 1 if strict else math.ceil(bound)
            else:
                edge = math.ceil(bound) - 1 if strict else math.floor(bound)
        else:
            edge = bound + 1 if (strict and is_lower) else bound - 1 if strict else bound
        if is_lower:
            lo = max(lo, edge)
        else:
            hi = min(hi, edge)
    if lo > hi:
        return None
    return lo, hi


def int_mask(values: np.ndarray, rng: Range | DatetimeRange) -> np.ndarray:
    """Which int64 `values` lie in the range."""
    bounds = int_bounds(rng)
    if bounds is None:
        return np.zeros(values.shape, dtype=bool)
    return (values >= bounds[0]) & (values <= bounds[1])


def float_mask(values: np.ndarray, rng: Range) -> np.ndarray:
    """Which float64 `values` lie in the range (NaN values never do)."""
    mask = np.ones(values.shape, dtype=bool)
    if rng.lt is not None:
        mask &= values < rng.lt
    if rng.lte is not None:
        mask &= values <= rng.lte
    if rng.gt is not None:
        mask &= values > rng.gt
    if rng.gte is not None:
        mask &= values >= rng.gte
    return mask


def int_slice(sorted_values: np.ndarray, rng: Range | DatetimeRange) -> tuple[int, int]:
    """[start, stop) of the range inside ascending int64 `sorted_values`."""
    bounds = int_bounds(rng)
    if bounds is None:
        return 0, 0
    start = int(np.searchsorted(sorted_values, bounds[0], side="left"))
    stop = int(np.searchsorted(sorted_values, bounds[1], side="right"))
    return start, max(start, stop)


def float_slice(sorted_values: np.ndarray, rng: Range) -> tuple[int, int]:
    """[start, stop) of the range inside ascending float64 `sorted_values` (NaNs sort last)."""
    start, stop = 0, int(np.searchsorted(sorted_values, np.nan, side="left"))
    for bound, side, is_lower in (
        (rng.gte, "left", True), (rng.gt, "right", True), (rng.lte, "right", False), (rng.lt, "left", False),
    ):
        if bound is None:
            continue
        if math.isnan(bound):
            return 0, 0
        edge = int(np.searchsorted(sorted_values, bound, side=side))
        if is_lower:
            start = max(start, edge)
        else:
            stop = min(stop, edge)
    return start, max(start, stop)
