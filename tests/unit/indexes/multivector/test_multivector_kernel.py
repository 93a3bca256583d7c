"""The direct MaxSim kernel agrees with the chunked BLAS path for every mode and row type."""

from __future__ import annotations

import numpy as np
import pytest

from indexes.multivector import _kernels
from indexes.multivector.maxsim import _score_chunks, normalize_tokens, score_ranges


def _rows(dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens, starts, ends): 60 documents of 1-9 rows, scattered over the flat matrix."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 10, size=60)
    tokens = rng.integers(0, 256, size=(int(lengths.sum()) + 50, 12)).astype(dtype) if dtype == "uint8" \
        else rng.standard_normal((int(lengths.sum()) + 50, 12)).astype(np.float32)
    tokens[3] = 0  # a zero row: divided by epsilon when normalised
    ends = np.cumsum(lengths) + 50
    order = rng.permutation(60)  # documents out of storage order, as a rerank asks
    return tokens, (ends - lengths)[order], ends[order]


@pytest.mark.parametrize("n_query", [1, 3, 4, 7, 32])
@pytest.mark.parametrize("distance, normalize", [("Dot", False), ("Cosine", True), ("Euclid", False)])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_kernel_matches_chunked_blas(dtype: str, distance: str, normalize: bool, n_query: int) -> None:
    if normalize and dtype != "uint8":
        pytest.skip("only raw uint8 rows are normalised when scored")
    tokens, starts, ends = _rows(dtype)
    query = np.random.default_rng(n_query).standard_normal((n_query, 12)).astype(np.float32)
    if distance == "Cosine":
        query = normalize_tokens(query)
    mode = {"Dot": _kernels.DOT, "Cosine": _kernels.DOT_NORMALIZED, "Euclid": _kernels.EUCLID}[distance]
    got = _kernels.maxsim_ranges(query, tokens, starts, ends, mode)
    want = _score_chunks(query, tokens, starts, ends, distance, None, normalize)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-3 if dtype == "uint8" else 1e-5)


def test_read_only_memory_mapped_rows(tmp_path) -> None:
    tokens, starts, ends = _rows("float32", seed=1)
    np.save(tmp_path / "tokens.npy", tokens)
    mapped = np.load(tmp_path / "tokens.npy", mmap_mode="r")
    query = np.random.default_rng(2).standard_normal((5, 12)).astype(np.float32)
    np.testing.assert_allclose(score_ranges(query, mapped, starts, ends, "Euclid"),
                               -np.sqrt(_score_chunks(query, tokens, starts, ends, "Euclid", None, False)), rtol=1e-5)
