"""MultiVectorStore: writes, validation, datatypes, compaction and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from indexes.multivector.store import MultiVectorStore, concatenated_ranges

DIM = 4


def matrix(rng: np.random.Generator, n_tokens: int) -> np.ndarray:
    return rng.standard_normal((n_tokens, DIM)).astype(np.float32)


def test_append_get_roundtrip_and_views() -> None:
    rng = np.random.default_rng(0)
    store = MultiVectorStore(DIM)
    first, second = matrix(rng, 3), matrix(rng, 1)
    store.append(0, first)
    store.append(5, second)
    assert len(store) == 6 and store.count == 2
    np.testing.assert_array_equal(store.get(0), first)
    np.testing.assert_array_equal(store.get(5), second)
    assert store.present.tolist() == [True, False, False, False, False, True]
    np.testing.assert_array_equal(store.tokens[store.starts[5] : store.ends[5]], second)
    with pytest.raises(KeyError):
        store.get(3)


def test_update_replaces_and_leaves_garbage_until_compact() -> None:
    rng = np.random.default_rng(1)
    store = MultiVectorStore(DIM)
    store.append(0, matrix(rng, 4))
    store.append(1, matrix(rng, 2))
    replacement = matrix(rng, 3)
    store.append(0, replacement)
    np.testing.assert_array_equal(store.get(0), replacement)
    assert store.garbage_tokens == 4
    compact = store.compact()
    assert compact.garbage_tokens == 0 and compact.tokens.shape[0] == 5
    np.testing.assert_array_equal(compact.get(0), replacement)
    np.testing.assert_array_equal(compact.get(1), store.get(1))
    np.testing.assert_array_equal(compact.stamps, store.stamps)


def test_remove_hides_offset_and_is_idempotent() -> None:
    rng = np.random.default_rng(2)
    store = MultiVectorStore(DIM)
    store.append(0, matrix(rng, 2))
    store.remove(0)
    store.remove(0)
    store.remove(99)  # never written: no-op
    assert 0 not in store and store.count == 0 and store.garbage_tokens == 2
    store.append(0, matrix(rng, 1))
    assert 0 in store


def test_stamps_record_write_order() -> None:
    rng = np.random.default_rng(3)
    store = MultiVectorStore(DIM)
    store.append(2, matrix(rng, 1))
    store.append(0, matrix(rng, 1))
    store.append(2, matrix(rng, 1))
    assert store.stamps.tolist() == [2, 0, 3] and store.sequence == 3


def test_extend_equals_sequential_appends_with_duplicates() -> None:
    rng = np.random.default_rng(4)
    lengths = np.array([2, 3, 1, 2])
    offsets = np.array([7, 1, 7, 0])  # offset 7 written twice: the last matrix wins
    flat = matrix(rng, int(lengths.sum()))
    batch, single = MultiVectorStore(DIM), MultiVectorStore(DIM)
    batch.extend(offsets, flat, lengths)
    ends = np.cumsum(lengths)
    for offset, begin, end in zip(offsets, ends - lengths, ends):
        single.append(int(offset), flat[begin:end])
    for offset in (0, 1, 7):
        np.testing.assert_array_equal(batch.get(offset), single.get(offset))
    assert batch.count == 3 and batch.sequence == 3


def test_growth_keeps_earlier_rows() -> None:
    rng = np.random.default_rng(5)
    store = MultiVectorStore(DIM)
    matrices = [matrix(rng, int(n)) for n in rng.integers(1, 40, size=300)]
    for offset, m in enumerate(matrices):
        store.append(offset, m)
    for offset in (0, 150, 299):
        np.testing.assert_array_equal(store.get(offset), matrices[offset])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((0, DIM)), "must not be empty"),
        ([], "must not be empty"),
        ([[]], "expected dim 4, got 0"),
        (np.zeros((2, DIM + 1)), "expected dim 4, got 5"),
        ([[1.0] * DIM, [1.0] * (DIM - 1)], "equal-length"),
        (np.zeros(DIM), "must be a matrix"),
        (np.full((1, DIM), np.nan), "finite"),
    ],
)
def test_invalid_matrices_raise_value_error_naming_the_field(bad: object, message: str) -> None:
    store = MultiVectorStore(DIM, name="colbert")
    with pytest.raises(ValueError, match=message) as error:
        store.append(0, bad)
    assert "colbert" in str(error.value)
    assert len(store) == 0


def test_extend_rejects_empty_matrix_and_row_mismatch() -> None:
    store = MultiVectorStore(DIM, name="colbert")
    with pytest.raises(ValueError, match="colbert.*must not be empty"):
        store.extend([0, 1], np.zeros((2, DIM)), [2, 0])
    with pytest.raises(ValueError, match="lengths sum"):
        store.extend([0], np.zeros((3, DIM)), [2])


def test_offset_and_constructor_validation() -> None:
    with pytest.raises(ValueError, match="dim"):
        MultiVectorStore(0)
    with pytest.raises(ValueError, match="datatype"):
        MultiVectorStore(DIM, "int4")
    store = MultiVectorStore(DIM)
    with pytest.raises(TypeError, match="offset"):
        store.append(1.5, np.zeros((1, DIM)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="offset"):
        store.append(-1, np.zeros((1, DIM)))


def test_float16_and_uint8_datatypes() -> None:
    half = MultiVectorStore(2, "float16")
    half.append(0, [[0.1, 1000.5]])
    assert half.tokens.dtype == np.float16
    np.testing.assert_array_equal(half.get(0), np.array([[0.1, 1000.5]], dtype=np.float16).astype(np.float32))
    small = MultiVectorStore(3, "uint8")
    small.append(0, [[-5.0, 7.9, 300.0]])  # saturating cast, truncating like Rust's `as u8`
    assert small.tokens.dtype == np.uint8
    assert small.get(0).tolist() == [[0.0, 7.0, 255.0]]


@pytest.mark.parametrize("datatype", ["float32", "float16", "uint8"])
@pytest.mark.parametrize("on_disk", [False, True])
def test_save_load_roundtrip(tmp_path, datatype: str, on_disk: bool) -> None:
    rng = np.random.default_rng(6)
    store = MultiVectorStore(DIM, datatype, name="mv")
    for offset in range(10):
        store.append(offset, np.abs(matrix(rng, offset + 1)) * 10)
    store.append(3, np.ones((2, DIM)))  # garbage is compacted away on save
    store.remove(4)
    store.save(tmp_path)
    loaded = MultiVectorStore.load(tmp_path, on_disk=on_disk)
    assert (loaded.dim, loaded.datatype, loaded.name) == (DIM, datatype, "mv")
    assert isinstance(loaded.tokens, np.memmap) == on_disk
    assert loaded.garbage_tokens == 0 and loaded.sequence == store.sequence
    np.testing.assert_array_equal(loaded.present, store.present)
    np.testing.assert_array_equal(loaded.stamps, store.stamps)
    for offset in np.flatnonzero(store.present):
        np.testing.assert_array_equal(loaded.get(int(offset)), store.get(int(offset)))


def test_on_disk_store_is_read_only_but_removable_and_compactable(tmp_path) -> None:
    store = MultiVectorStore(DIM)
    store.append(0, np.ones((2, DIM)))
    store.append(1, np.zeros((1, DIM)))
    store.save(tmp_path)
    loaded = MultiVectorStore.load(tmp_path, on_disk=True)
    with pytest.raises(RuntimeError, match="read-only"):
        loaded.append(2, np.ones((1, DIM)))
    loaded.remove(1)
    assert loaded.count == 1
    writable = loaded.compact()
    writable.append(2, np.ones((1, DIM)))
    assert writable.count == 2 and 1 not in writable


def test_loaded_in_ram_store_keeps_growing(tmp_path) -> None:
    store = MultiVectorStore(DIM)
    store.append(0, np.ones((2, DIM)))
    store.save(tmp_path)
    loaded = MultiVectorStore.load(tmp_path)
    loaded.append(700, np.full((3, DIM), 2.0))
    np.testing.assert_array_equal(loaded.get(0), np.ones((2, DIM)))
    np.testing.assert_array_equal(loaded.get(700), np.full((3, DIM), 2.0))
    assert loaded.stamps[700] == 2


def test_concatenated_ranges() -> None:
    rows = concatenated_ranges(np.array([5, 0, 9]), np.array([7, 1, 12]))
    assert rows.tolist() == [5, 6, 0, 9, 10, 11]
    assert concatenated_ranges(np.zeros(0, np.int64), np.zeros(0, np.int64)).size == 0
