"""SparseStore.search: the unmasked fast path (every point holding a vector allowed) answers as
the masked one, and falls back to the mask when a point is excluded."""

import numpy as np
import pytest

from hybrid.config import SparseSpec
from hybrid.storage.vectors import SparseStore


def filled_store(n_points: int, sealed: bool) -> SparseStore:
    rng = np.random.default_rng(5)
    store = SparseStore(SparseSpec("s"))
    store.reserve(n_points)
    lengths = rng.integers(0, 4, n_points)  # some points hold no vector
    indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    indices = np.concatenate([np.sort(rng.choice(10, k, replace=False)) for k in lengths]).astype(np.uint32)
    values = (rng.integers(1, 9, indices.size) / 4).astype(np.float32)
    store.write(np.arange(n_points), indptr, indices, values)
    if sealed:
        store.build_index()
    return store


@pytest.mark.parametrize("sealed", [False, True])
def test_unmasked_search_equals_masked_search(sealed):
    n_points = 50
    store = filled_store(n_points, sealed)
    query = (np.array([1, 4, 7], np.uint32), np.array([1.0, 0.5, 2.0], np.float32))
    present = store.present[:n_points].copy()
    assert 0 < store.present_count(n_points) == np.count_nonzero(present) < n_points
    fast = store.search(query, 10, present, n_points, allowed_count=int(present.sum()))
    masked = store.search(query, 10, present, n_points)
    np.testing.assert_array_equal(fast.offsets, masked.offsets)
    np.testing.assert_array_equal(fast.scores, masked.scores)
    best = int(fast.offsets[0])
    narrowed = present.copy()
    narrowed[best] = False  # e.g. a deleted point: the count no longer covers every vector
    hits = store.search(query, 10, narrowed, n_points, allowed_count=int(narrowed.sum()))
    assert best not in hits.offsets.tolist()


def test_present_count_follows_writes_and_erases():
    store = filled_store(20, sealed=False)
    before = store.present_count(20)
    absent = int(np.flatnonzero(~store.present[:20])[0])
    store.write(np.array([absent]), np.array([0, 1]), np.array([3], np.uint32), np.array([1.0], np.float32))
    assert store.present_count(20) == before + 1
    store.erase(np.array([absent]))
    assert store.present_count(20) == before
    assert store.present_count(10) == np.count_nonzero(store.present[:10])


@pytest.mark.parametrize("indices, values, field, problem", [
    ([3, 1, 3], [1, 2, 3], "q.indices", "unique"),
    ([5, -1], [1, 2], "q.indices", "between 0"),
    ([1, 2**32], [1, 2], "q.indices", "between 0"),
    ([2**32, 0], [1, 2], "q.indices", "between 0"),
    ([1.5, 2], [1, 2], "q.indices", "integers"),
    (["3"], [1], "q.indices", "integers"),
    ([[1, 2]], [[1, 2]], "q.indices", "flat"),
    ([1, [2]], [1, 2], "q.indices", "flat"),
    ([1], ["x"], "q.values", "numbers"),
    ([1, 2], [1, float("nan")], "q.values", "finite"),
    ([2, 1], [float("-inf"), 1], "q.values", "finite"),
    ([1, 2, 3], [1, 2], "q", "same length"),
])
def test_validate_sparse_names_the_bad_field(indices, values, field, problem):
    from hybrid.errors import ValidationError
    from hybrid.points import validate_sparse

    with pytest.raises(ValidationError) as caught:
        validate_sparse(indices, values, "q")
    assert caught.value.field == field and problem in str(caught.value)


def test_validate_sparse_sorts_and_keeps_extreme_finite_values():
    from hybrid.points import validate_sparse

    idx, val = validate_sparse([9, 2**32 - 1, 0], [3e38, 3e38, -3e38], "q")
    assert idx.dtype == np.uint32 and idx.tolist() == [0, 9, 2**32 - 1]
    assert val.tolist() == pytest.approx([-3e38, 3e38, 3e38], rel=1e-6)
    assert validate_sparse([], [], "q")[0].size == 0
