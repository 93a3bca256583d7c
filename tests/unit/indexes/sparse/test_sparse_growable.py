"""GrowableSparseIndex under adds, replacements and removals, against a dict-of-rows oracle."""

import numpy as np
import pytest

from indexes.sparse import GrowableSparseIndex, SparseIndex


def oracle_top_k(rows, n_points, q_terms, q_values, limit, allowed=None):
    query = dict(zip(q_terms.tolist(), q_values.tolist()))
    scored = []
    for offset, (terms, values) in rows.items():
        shared = [query[t] * v for t, v in zip(terms.tolist(), values.tolist()) if t in query]
        if shared and (allowed is None or allowed[offset]):
            scored.append((-sum(shared), offset))
    scored.sort()
    return [offset for _, offset in scored[:limit]], [-score for score, _ in scored[:limit]]


def random_vector(rng, vocab):
    terms = rng.choice(vocab, rng.integers(0, 10), replace=False).astype(np.uint32)
    return terms, (rng.integers(-8, 9, terms.size) / 4).astype(np.float32)


def check_against_oracle(index, rows, rng, vocab, n_checks=10):
    for _ in range(n_checks):
        q_terms = rng.choice(vocab, rng.integers(1, 6), replace=False).astype(np.uint32)
        q_values = (rng.integers(-4, 5, q_terms.size) / 2).astype(np.float32)
        allowed = rng.random(index.n_points) < 0.6 if rng.random() < 0.5 else None
        offsets, scores = oracle_top_k(rows, index.n_points, q_terms, q_values, 8, allowed)
        hits = index.search(q_terms, q_values, 8, allowed)
        assert hits.offsets.tolist() == offsets
        assert hits.scores.tolist() == scores
        # The appendable index also scores offsets past those it has seen (as 0); the sealed one refuses.
        n_scored = index.n_points + (3 if isinstance(index, GrowableSparseIndex) else 0)
        expected = np.zeros(n_scored, np.float32)
        for offset in rows:
            expected[offset] = sum(q * v for q, v in zip(*_shared(rows[offset], q_terms, q_values)))
        np.testing.assert_array_equal(index.score(q_terms, q_values, np.arange(n_scored)), expected)


def _shared(row, q_terms, q_values):
    query = dict(zip(q_terms.tolist(), q_values.tolist()))
    pairs = [(query[t], v) for t, v in zip(row[0].tolist(), row[1].tolist()) if t in query]
    return ([q for q, _ in pairs], [v for _, v in pairs])


@pytest.mark.parametrize("merge_min", [1, 50, 10_000])
def test_random_adds_replacements_and_removals(merge_min):
    rng = np.random.default_rng(merge_min)
    vocab = np.arange(30)
    index = GrowableSparseIndex(merge_min=merge_min, merge_ratio=0.5)
    rows = {}
    for step in range(400):
        offset = int(rng.integers(0, 120))
        if rng.random() < 0.25:
            assert index.remove(offset) == (offset in rows)
            rows.pop(offset, None)
        else:
            terms, values = random_vector(rng, vocab)
            index.add(offset, terms, values)
            order = np.argsort(terms)
            rows[offset] = (terms[order], values[order])
        if step % 100 == 99:
            check_against_oracle(index, rows, rng, vocab)
            assert index.nnz == sum(terms.size for terms, _ in rows.values())
    index.merge()
    check_against_oracle(index, rows, rng, vocab)


def test_get_returns_the_latest_sorted_vector():
    index = GrowableSparseIndex()
    index.add(3, [5, 1], [1.0, 2.0])
    index.add(3, [7], [4.0])
    terms, values = index.get(3)
    assert terms.tolist() == [7] and values.tolist() == [4.0]
    assert index.get(0)[0].size == 0 and index.get(99)[0].size == 0
    assert index.n_points == 4 and len(index) == 4
    index.remove(3)
    assert index.get(3)[0].size == 0 and index.search([7], [1.0], 5).offsets.size == 0


def test_document_frequencies_count_live_vectors_only():
    index = GrowableSparseIndex(merge_min=2)
    index.add(0, [1, 2], [1.0, 1.0])
    index.add(1, [2], [1.0])
    index.add(2, [2, 3], [1.0, 1.0])
    index.remove(1)
    index.add(0, [3], [1.0])
    assert index.document_frequencies([1, 2, 3, 4]).tolist() == [0, 1, 2, 0]


def test_add_validates_input():
    index = GrowableSparseIndex()
    with pytest.raises(ValueError, match="unique"):
        index.add(0, [1, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="offset"):
        index.add(-1, [1], [1.0])
    with pytest.raises(TypeError, match="offset"):
        index.add(1.0, [1], [1.0])
    with pytest.raises(ValueError, match="merge"):
        GrowableSparseIndex(merge_min=0)
    assert index.n_points == 0 and index.search([1], [1.0], 3).offsets.size == 0


def test_seal_save_load_and_from_csr_preserve_results(tmp_path):
    rng = np.random.default_rng(5)
    vocab = np.arange(25)
    index = GrowableSparseIndex(merge_min=16)
    rows = {}
    for offset in rng.permutation(80):
        terms, values = random_vector(rng, vocab)
        index.add(int(offset), terms, values)
        rows[int(offset)] = (np.sort(terms), values[np.argsort(terms)])
    for offset in (3, 10, 79):
        index.remove(offset)
        rows.pop(offset)
    index.add(5, [], [])  # a point whose vector is empty
    rows[5] = (np.zeros(0, np.uint32), np.zeros(0, np.float32))
    sealed = SparseIndex.sealed(index)
    assert isinstance(sealed, SparseIndex) and sealed.n_points == index.n_points
    index.save(tmp_path / "appendable")
    loaded = GrowableSparseIndex.load(tmp_path / "appendable")
    indptr, indices, values, present = index.to_csr()
    assert present.tolist() == [offset in rows for offset in range(80)]
    rebuilt = GrowableSparseIndex.from_csr(indptr, indices, values, 80, present)
    for other in (sealed, loaded, rebuilt):
        check_against_oracle(other, rows, np.random.default_rng(9), vocab, n_checks=5)
    assert loaded.get(5)[0].size == 0 and loaded.nnz == index.nnz
