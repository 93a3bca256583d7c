"""Shared comparison for the congruence tests.

Equal scores have no defined order in Qdrant: a segment's top-k comes out of a heap, and
qdrant-client's local mode (the witness here) uses numpy's unstable argsort, whose tie order
changed between releases. We order exact ties by point id, ascending. So results are compared
score by score, and inside a run of (nearly) equal scores as sets of ids.
"""

from __future__ import annotations

import numpy as np
import pytest


def _same_up_to_ties(a, b, id_order: bool = True) -> None:
    assert len(a) == len(b), ([p.id for p in a], [p.id for p in b])
    sa = np.array([p.score for p in a])
    np.testing.assert_allclose(sa, [p.score for p in b], rtol=1e-4, atol=1e-6)
    starts = [0] + [i for i in range(1, len(a)) if not np.isclose(sa[i], sa[i - 1], rtol=1e-5, atol=1e-7)] + [len(a)]
    for lo, hi in zip(starts, starts[1:]):
        ids = [p.id for p in a[lo:hi]]
        if hi < len(a):  # the last run may be cut by `limit`
            assert set(ids) == {p.id for p in b[lo:hi]}
    if id_order:  # our own order: exactly equal scores ascend by id
        assert all(x.id < y.id for x, y in zip(a, a[1:]) if x.score == y.score), [(p.id, p.score) for p in a]


@pytest.fixture(scope="session")
def same_up_to_ties():
    """`same_up_to_ties(ours, reference, id_order=True)`: see the module docstring."""
    return _same_up_to_ties
