// The one place that reads our `explain` extension of ScoredPoint (hybrid/queries/explain.py):
// {score, prefetch: [{rank, score} | null per top-level prefetch, in request order]}.
export function explainOf(point) {
  const explain = point && point.explain ? point.explain : {};
  return {
    score: explain.score ?? point.score,
    branches: (explain.prefetch || []).map((b) => (b ? { rank: b.rank, score: b.score } : null)),
  };
}
