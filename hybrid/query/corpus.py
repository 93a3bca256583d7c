"""IDF over a corpus filter (Qdrant 1.20's `params.idf: {"corpus": filter}`).

By default IDF-weighted searches (sparse vectors with the `idf` modifier, BM25 on a text index)
count documents over the whole collection. With a corpus, `N` and each term's document
frequency count only the live points matching the filter, so a term rare inside the corpus
weighs like one; term frequencies and, for BM25, document lengths are unchanged. The counts
are `TermStats` like the global ones: summable over shards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from hybrid import models as m
from hybrid.query.search import filter_mask, parse

if TYPE_CHECKING:
    from hybrid.view import CollectionView

WHERE = "params.idf.corpus"


def corpus_of(params: Optional[m.SearchParams], path: str = "") -> Any:
    """The parsed corpus filter of a search's params, or None for global statistics."""
    idf = params.idf if params is not None else None
    return parse(idf["corpus"], f"{path}{WHERE}") if isinstance(idf, dict) else None


def sparse_counts(view: "CollectionView", using: str, terms: np.ndarray, corpus: Any) -> tuple[int, np.ndarray]:
    """(corpus points having sparse vector `using`, how many of them hold each of `terms`)."""
    order = np.argsort(terms)
    ranked = terms[order]
    docs, df = 0, np.zeros(terms.size, np.float64)
    for seg in view.segments:
        if not seg.size or not terms.size:
            continue
        offsets = np.flatnonzero(seg.base_allowed(using)[0] & filter_mask(seg, corpus))
        docs += offsets.size
        rows = seg.vectors[using].term_rows(offsets)  # each point holds a dimension once
        at = np.minimum(np.searchsorted(ranked, rows), terms.size - 1)
        df[order] += np.bincount(at[ranked[at] == rows], minlength=terms.size)
    return docs, df


def corpus_pids(view: "CollectionView", corpus: Any) -> np.ndarray:
    """Sorted internal keys of the live points matching the corpus filter (the text indexes' ids)."""
    parts = [seg.pids[: seg.size][filter_mask(seg, corpus)] for seg in view.segments if seg.size]
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
