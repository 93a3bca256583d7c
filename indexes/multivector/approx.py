"""Approximate first stage for MaxSim: token centroids with inverted lists (after PLAID).

Build: k-means over a seeded sample of token rows gives C centroids; every stored token is
assigned to its nearest centroid. Two CSR maps of the distinct (document, centroid) pairs are
kept: document -> its centroids, and centroid -> its documents (the inverted lists).

Search, for a query Q of q tokens:
  1. S = sim(Q, centroids), shape (q, C), with the collection's token similarity.
  2. Candidates: the union of the inverted lists of each query token's `n_probe` best
     centroids (restricted to the allowed, unchanged documents).
  3. Centroid interaction: est(d) = sum_i max_{c in centroids(d)} S[i, c], i.e. MaxSim with
     each document token replaced by its centroid (numba kernel).
  4. The `n_keep` best estimates go on to exact (or int8) MaxSim in the caller.
Cost: O(q C dim) for step 1 and O(q * pairs of the candidates) for step 3, instead of
O(q T dim) for exhaustive MaxSim over T stored tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse

from indexes.base import top_k
from indexes.multivector import _kernels
from indexes.multivector.maxsim import normalize_tokens, token_similarity
from indexes.multivector.store import MultiVectorStore, concatenated_ranges

_ASSIGN_CHUNK = 32_768
_FIELDS = ("centroids", "doc_indptr", "doc_codes", "list_indptr", "list_docs")


@dataclass(frozen=True)
class CentroidIndex:
    """Centroids; document d owns doc_codes[doc_indptr[d]:doc_indptr[d + 1]] and centroid c
    lists list_docs[list_indptr[c]:list_indptr[c + 1]] (both sorted, deduplicated)."""

    centroids: np.ndarray  # (C, dim) float32
    doc_indptr: np.ndarray  # (n_docs + 1,) int64
    doc_codes: np.ndarray  # int32 centroid ids
    list_indptr: np.ndarray  # (C + 1,) int64
    list_docs: np.ndarray  # int64 offsets

    @classmethod
    def build(cls, store: MultiVectorStore, distance: str, n_centroids: int, iterations: int,
              sample_size: int, seed: int) -> "CentroidIndex":
        """k-means on `sample_size` rows (seeded), then assign every present token row."""
        present = np.flatnonzero(store.present)
        lengths = store.ends[present] - store.starts[present]
        rows = concatenated_ranges(store.starts[present], store.ends[present])
        rng = np.random.default_rng(seed)
        sample_rows = np.sort(rng.choice(rows, min(rows.size, sample_size), replace=False))
        sample = _prepared(store.tokens[sample_rows], distance)
        k = max(1, min(n_centroids, sample.shape[0]))
        centroids = kmeans(sample, k, iterations, rng, spherical=distance == "Cosine")
        codes = np.empty(rows.size, dtype=np.int64)
        for begin in range(0, rows.size, _ASSIGN_CHUNK):  # loop over chunks of rows
            block = _prepared(store.tokens[rows[begin : begin + _ASSIGN_CHUNK]], distance)
            codes[begin : begin + _ASSIGN_CHUNK] = nearest_centroid(block, centroids)
        pairs = np.unique(np.repeat(present, lengths) * k + codes)  # sorted by (doc, centroid)
        pair_docs, pair_codes = np.divmod(pairs, k)
        doc_indptr = np.zeros(len(store) + 1, dtype=np.int64)
        np.cumsum(np.bincount(pair_docs, minlength=len(store)), out=doc_indptr[1:])
        by_centroid = np.argsort(pair_codes, kind="stable")  # keeps documents sorted per list
        list_indptr = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(np.bincount(pair_codes, minlength=k), out=list_indptr[1:])
        return cls(centroids, doc_indptr, pair_codes.astype(np.int32), list_indptr, pair_docs[by_centroid])

    def candidates(self, query: np.ndarray, distance: str, n_probe: int, eligible: np.ndarray,
                   n_keep: int) -> np.ndarray:
        """Up to `n_keep` offsets with the best centroid-interaction estimates (steps 1-4).

        `eligible` is a boolean mask over offsets (at least as long as the built range).
        """
        scores = token_similarity(query, self.centroids, distance)  # (q, C)
        n_probe = max(1, min(n_probe, scores.shape[1]))
        probed = np.unique(np.argpartition(-scores, n_probe - 1, axis=1)[:, :n_probe])
        hit = np.zeros(self.doc_indptr.shape[0] - 1, dtype=np.bool_)  # a mask, cheaper than np.unique
        hit[self.list_docs[concatenated_ranges(self.list_indptr[probed], self.list_indptr[probed + 1])]] = True
        found = np.flatnonzero(hit & eligible[: hit.shape[0]])
        if found.size == 0:
            return found
        estimates = _kernels.centroid_interaction(
            np.ascontiguousarray(scores.T), self.doc_indptr, self.doc_codes, found)
        return found[top_k(estimates, n_keep).offsets]

    def save(self, directory: Path) -> None:
        for name in _FIELDS:
            np.save(directory / f"centroid_{name}.npy", getattr(self, name), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> "CentroidIndex":
        return cls(*(np.load(directory / f"centroid_{name}.npy") for name in _FIELDS))


def _prepared(rows: np.ndarray, distance: str) -> np.ndarray:
    """float32 rows, unit-normalised for Cosine (a no-op unless stored raw, as uint8 is)."""
    return normalize_tokens(rows) if distance == "Cosine" else np.asarray(rows, dtype=np.float32)


def nearest_centroid(block: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """argmin_c |x - c|^2 = argmax_c (x.c - |c|^2 / 2) for each row x of `block`."""
    half_norms = 0.5 * np.einsum("ij,ij->i", centroids, centroids)
    return np.argmax(block @ centroids.T - half_norms[None, :], axis=1)


def kmeans(sample: np.ndarray, k: int, iterations: int, rng: np.random.Generator,
           spherical: bool = False) -> np.ndarray:
    """Lloyd's k-means from k distinct sample rows; empty clusters restart at random rows.

    `spherical` renormalises centroids each round (for unit-norm Cosine tokens).
    """
    n = sample.shape[0]
    centroids = sample[rng.choice(n, k, replace=False)].copy()
    for _ in range(iterations):
        labels = np.concatenate([nearest_centroid(sample[b : b + _ASSIGN_CHUNK], centroids)
                                 for b in range(0, n, _ASSIGN_CHUNK)])
        one_hot = scipy.sparse.csr_matrix((np.ones(n, dtype=np.float32), (labels, np.arange(n))), shape=(k, n))
        sums = np.asarray(one_hot @ sample, dtype=np.float32)
        counts = np.bincount(labels, minlength=k).astype(np.float32)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
        empty = np.flatnonzero(~filled)
        centroids[empty] = sample[rng.choice(n, empty.size, replace=False)]
        if spherical:
            norms = np.linalg.norm(centroids, axis=1, keepdims=True)
            centroids /= np.where(norms > 0, norms, 1.0)
    return np.ascontiguousarray(centroids, dtype=np.float32)
