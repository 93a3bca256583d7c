// The retrievers a collection offers, and the Query API request of each (playground, evaluations).

const MODELS = { dense: document.body.dataset.denseModel, sparse: document.body.dataset.sparseModel };

// Every retriever the collection's config allows: dense and multivector vectors embed the text
// server-side, sparse vectors through qdrant/bm25, text-indexed payload fields run BM25 (tantivy).
export function retrieversOf(info) {
  const out = [];
  const vectors = info.config.params.vectors || {};
  const named = vectors.size !== undefined ? { "": vectors } : vectors;
  for (const [using, p] of Object.entries(named)) {
    const kind = p.multivector_config ? "multivector" : "dense";
    out.push({ kind, label: `${kind} ${using || "(default)"}`, using, model: MODELS.dense, enabled: kind === "dense", weight: 1 });
  }
  for (const using of Object.keys(info.config.params.sparse_vectors || {})) {
    out.push({ kind: "sparse", label: `sparse ${using}`, using, model: MODELS.sparse, enabled: true, weight: 1 });
  }
  for (const [field, s] of Object.entries(info.payload_schema || {})) {
    if (s.data_type === "text") out.push({ kind: "bm25", label: `BM25 ${field}`, field, enabled: true, weight: 1 });
  }
  return out;
}

export function branchQuery(r, text, limit) {
  const q = r.kind === "bm25" ? { query: { bm25: { text, field: r.field } } } : { query: { text, model: r.model } };
  if (r.using) q.using = r.using;
  return { ...q, limit };
}
