"""SparseIndex and GrowableSparseIndex against a dense numpy oracle.

Values are multiples of 1/4 so every float32 sum is exact: results (ties included) must equal
the oracle's exactly, whatever the summation order.
"""

import numpy as np
import pytest

from indexes.base import Hits
from indexes.sparse import GrowableSparseIndex, SparseIndex


def random_rows(rng, n_points, vocab, max_len, positive=False, empty_share=0.1):
    lengths = rng.integers(1, max_len + 1, n_points)
    lengths[rng.random(n_points) < empty_share] = 0
    rows = []
    for length in lengths:
        terms = rng.choice(vocab, length, replace=False)
        low = 1 if positive else -8
        rows.append((terms, (rng.integers(low, 9, length) / 4).astype(np.float32)))
    return rows


def to_csr(rows):
    indptr = np.concatenate(([0], np.cumsum([terms.size for terms, _ in rows]))).astype(np.int64)
    indices = np.concatenate([terms for terms, _ in rows] + [np.zeros(0, np.uint32)]).astype(np.uint32)
    values = np.concatenate([values for _, values in rows] + [np.zeros(0, np.float32)]).astype(np.float32)
    return indptr, indices, values


def oracle(rows, n_points, q_terms, q_values, limit, allowed=None):
    """Top-k by (score desc, offset asc) among allowed points sharing a term with the query."""
    query = dict(zip(q_terms.tolist(), q_values.tolist()))
    scores = np.zeros(n_points, dtype=np.float64)
    overlap = np.zeros(n_points, dtype=bool)
    for offset, (terms, values) in enumerate(rows):
        for term, value in zip(terms.tolist(), values.tolist()):
            if term in query:
                scores[offset] += query[term] * value
                overlap[offset] = True
    mask = overlap if allowed is None else overlap & allowed[:n_points]
    candidates = np.flatnonzero(mask)
    order = np.lexsort((candidates, -scores[candidates]))[:limit]
    return candidates[order], scores[candidates[order]], scores


def build_sealed(rows, n_points):
    return SparseIndex.build(*to_csr(rows), n_points)


def build_growable(rows, n_points):
    index = GrowableSparseIndex(merge_min=64)  # several merges plus an unmerged tail
    for offset in np.random.default_rng(1).permutation(len(rows)):
        index.add(int(offset), *rows[offset])
    return index


BUILDERS = [pytest.param(build_sealed, id="sealed"), pytest.param(build_growable, id="growable")]


def assert_hits_equal(hits, offsets, scores):
    assert hits.offsets.dtype == np.int64 and hits.scores.dtype == np.float32
    np.testing.assert_array_equal(hits.offsets, offsets)
    np.testing.assert_array_equal(hits.scores, scores.astype(np.float32))


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("positive", [False, True])
def test_search_and_score_match_oracle(build, positive):
    rng = np.random.default_rng(7)
    vocab = rng.choice(2**32 - 1, 60, replace=False).astype(np.uint32)  # ids across the u32 range
    n_points = 400
    rows = random_rows(rng, n_points, vocab, 12, positive=positive)
    index = build(rows, n_points)
    for trial in range(60):
        q_terms = rng.choice(vocab, rng.integers(1, 9), replace=False)
        q_terms[0] = rng.integers(0, 2**32 - 1)  # often a term no point has
        q_values = (rng.integers(1 if positive else -4, 5, q_terms.size) / 2).astype(np.float32)
        limit = int(rng.choice([1, 3, 10, 1000]))
        allowed = [None, rng.random(n_points) < 0.5, rng.random(n_points) < 0.02][trial % 3]
        offsets, scores, all_scores = oracle(rows, n_points, q_terms, q_values, limit, allowed)
        assert_hits_equal(index.search(q_terms, q_values, limit, allowed), offsets, scores)
        np.testing.assert_array_equal(index.score(q_terms, q_values, np.arange(n_points)), all_scores.astype(np.float32))


@pytest.mark.parametrize("build", BUILDERS)
def test_maxscore_pruning_stays_exact(build):
    # One rare heavy term and common light ones: after the rare term the light terms cannot
    # lift an unseen point into the top-k, so the search takes its pruning branch.
    rng = np.random.default_rng(3)
    n_points = 3000
    rows = []
    for offset in range(n_points):
        terms = [1, 2, 3] if offset % 97 else [0, 1, 2, 3]
        values = rng.integers(1, 9, len(terms)) / 4
        rows.append((np.array(terms, np.uint32), values.astype(np.float32)))
    index = build(rows, n_points)
    q_terms = np.array([0, 1, 2, 3], np.uint32)
    for q_values in ([8.0, 0.25, 0.5, 0.25], [8.0, 0.25, 8.0, 0.25], [0.25, 0.25, 0.25, 0.25]):
        q_values = np.array(q_values, np.float32)
        for limit in (1, 5, 31, 40):
            offsets, scores, _ = oracle(rows, n_points, q_terms, q_values, limit)
            assert_hits_equal(index.search(q_terms, q_values, limit), offsets, scores)


@pytest.mark.parametrize("build", BUILDERS)
def test_overlap_defines_hits_even_with_zero_or_negative_scores(build):
    rows = [
        (np.array([1, 2], np.uint32), np.array([0.0, 1.0], np.float32)),  # overlaps with weight 0
        (np.array([3], np.uint32), np.array([5.0], np.float32)),  # no overlap
        (np.array([1], np.uint32), np.array([-2.0], np.float32)),  # negative score
        (np.zeros(0, np.uint32), np.zeros(0, np.float32)),  # empty row
    ]
    index = build(rows, 5)
    hits = index.search(np.array([1], np.uint32), np.array([1.0], np.float32), 10)
    assert hits.offsets.tolist() == [0, 2] and hits.scores.tolist() == [0.0, -2.0]
    assert index.score([1], [1.0], [0, 1, 2, 3, 4]).tolist() == [0.0, 0.0, -2.0, 0.0, 0.0]


@pytest.mark.parametrize("build", BUILDERS)
def test_degenerate_queries_return_empty_hits(build):
    rows = [(np.array([1], np.uint32), np.array([1.0], np.float32))]
    index = build(rows, 1)
    for q_terms, q_values, limit in (([], [], 5), ([9], [1.0], 5), ([1], [1.0], 0)):
        hits = index.search(np.array(q_terms, np.uint32), np.array(q_values, np.float32), limit)
        assert isinstance(hits, Hits) and hits.offsets.size == 0 and hits.scores.size == 0
    assert index.search([1], [1.0], 5, np.zeros(1, bool)).offsets.size == 0


@pytest.mark.parametrize("build", BUILDERS)
def test_unsorted_and_int64_queries_are_accepted(build):
    rows = [(np.array([1, 5], np.uint32), np.array([1.0, 2.0], np.float32))]
    index = build(rows, 1)
    hits = index.search(np.array([5, 1], np.int64), [1.0, 3.0], 1)
    assert hits.scores.tolist() == [5.0]


@pytest.mark.parametrize("build", BUILDERS)
def test_search_rejects_bad_arguments(build):
    index = build([(np.array([1], np.uint32), np.array([1.0], np.float32))], 3)
    with pytest.raises(ValueError, match="allowed"):
        index.search([1], [1.0], 3, np.ones(0, bool))
    with pytest.raises(TypeError, match="allowed"):
        index.search([1], [1.0], 3, np.ones(3, np.int8))
    with pytest.raises(ValueError, match="query"):
        index.search([1, 2], [1.0], 3)
    with pytest.raises(ValueError, match="query"):
        index.search([-1], [1.0], 3)
    with pytest.raises(TypeError, match="limit"):
        index.search([1], [1.0], 2.0)
    with pytest.raises(ValueError, match="offsets"):
        index.score([1], [1.0], [-1])


def test_sealed_get_document_frequencies_and_range_checks():
    rows = [
        (np.array([9, 4], np.uint32), np.array([1.0, 2.0], np.float32)),
        (np.array([4], np.uint32), np.array([3.0], np.float32)),
    ]
    index = build_sealed(rows, 4)
    terms, values = index.get(0)
    assert terms.tolist() == [4, 9] and values.tolist() == [2.0, 1.0]  # sorted by index
    assert index.get(3)[0].size == 0 and index.nnz == 3 and len(index) == 4
    assert index.document_frequencies([4, 9, 7]).tolist() == [2, 1, 0]
    with pytest.raises(ValueError, match="offset"):
        index.get(4)
    with pytest.raises(ValueError, match="offsets"):
        index.score([4], [1.0], [4])


@pytest.mark.parametrize(
    ("indptr", "indices", "values", "n_points", "message"),
    [
        ([0, 2], [1, 1], [1.0, 2.0], 1, "unique"),
        ([0, 1], [1], [float("nan")], 1, "finite"),
        ([0, 1], [-1], [1.0], 1, "between 0"),
        ([0, 2], [1], [1.0], 1, "equal length"),
        ([0, 1, 1], [1], [1.0], 1, "more than n_points"),
        ([1, 1], [1], [1.0], 1, "indptr"),
    ],
)
def test_build_rejects_malformed_input(indptr, indices, values, n_points, message):
    with pytest.raises(ValueError, match=message):
        SparseIndex.build(indptr, indices, values, n_points)


@pytest.mark.parametrize("mmap", [False, True])
def test_sealed_persistence_round_trip(tmp_path, mmap):
    rng = np.random.default_rng(11)
    rows = random_rows(rng, 150, np.arange(40, dtype=np.uint32), 8)
    index = build_sealed(rows, 160)  # trailing points without vectors
    index.save(tmp_path / "sparse")
    assert not list((tmp_path / "sparse").glob("*.tmp"))
    loaded = SparseIndex.load(tmp_path / "sparse", mmap=mmap)
    assert loaded.n_points == 160
    q_terms, q_values = np.array([1, 5, 7], np.uint32), np.array([1.0, -0.5, 2.0], np.float32)
    allowed = rng.random(160) < 0.5
    for expected, actual in ((index.search(q_terms, q_values, 7, allowed), loaded.search(q_terms, q_values, 7, allowed)),):
        np.testing.assert_array_equal(expected.offsets, actual.offsets)
        np.testing.assert_array_equal(expected.scores, actual.scores)
    np.testing.assert_array_equal(index.score(q_terms, q_values, np.arange(160)), loaded.score(q_terms, q_values, np.arange(160)))


def test_frequent_terms_get_dense_columns():
    rows = [(np.array([5, 9], np.uint32), np.array([1.5, 2.0], np.float32)),
            (np.array([5], np.uint32), np.array([0.25], np.float32)),
            (np.array([7], np.uint32), np.array([3.0], np.float32))] + [(np.zeros(0, np.uint32), np.zeros(0, np.float32))] * 5
    index = build_sealed(rows, 8)  # terms 5 (2 of 8 points: a column) and 7, 9 (1 of 8: none)
    assert index.terms.tolist() == [5, 7, 9] and index.term_column.tolist() == [0, -1, -1]
    np.testing.assert_array_equal(index.columns, [[1.5, 0.25, 0, 0, 0, 0, 0, 0]])


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("columns", [True, False])
def test_search_with_dense_columns_matches_oracle(positive, columns, monkeypatch):
    # A small vocabulary puts most terms on over a quarter of the points (dense columns), with
    # a few rare heavy terms so that pruning happens before the column terms are reached.
    from indexes.sparse import index as index_module

    if not columns:
        monkeypatch.setattr(index_module, "COLUMN_SHARE", 0)
    rng = np.random.default_rng(11)
    n_points = 600
    rows = random_rows(rng, n_points, np.arange(12, dtype=np.uint32), 8, positive=positive)
    for offset in rng.choice(n_points, 20, replace=False):
        terms, values = rows[offset]
        rows[offset] = (np.append(terms, 100 + offset % 3).astype(np.uint32), np.append(values, 2.0).astype(np.float32))
    index = build_sealed(rows, n_points)
    assert (index.columns.shape[0] > 6) == columns
    for trial in range(40):
        q_terms = rng.choice(np.r_[np.arange(12), 100, 101, 102], rng.integers(1, 8), replace=False).astype(np.uint32)
        q_values = (rng.integers(1 if positive else -4, 5, q_terms.size) / 2).astype(np.float32)
        q_values[q_terms >= 100] = 8.0
        limit = int(rng.choice([1, 4, 10, 1000]))
        allowed = [None, rng.random(n_points) < 0.5, rng.random(n_points) < 0.01][trial % 3]
        offsets, scores, _ = oracle(rows, n_points, q_terms, q_values, limit, allowed)
        assert_hits_equal(index.search(q_terms, q_values, limit, allowed), offsets, scores)
