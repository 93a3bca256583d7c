// Hybrid playground: one query through each retriever and through their fusion, side by side,
// with each branch's explain score as a bar and how every point's rank moved.
import { $, api, boot, bar, el, fillCollections, fmt, guarded, json } from "./core.js";
import { explainOf } from "./explain.js";
import { branchQuery, retrieversOf } from "./retrievers.js";

const COLORS = { dense: "var(--dense)", sparse: "var(--sparse)", bm25: "var(--bm25)", multivector: "var(--multivector)" };
let collection = null;
let retrievers = [];  // {kind, label, using?, field?, model?, enabled, weight}
let latest = 0;       // answers to older requests are dropped

function fusionQuery(weights) {
  const fusion = $("#fusion").value;
  if (fusion === "dbsf") return { fusion: "dbsf" };
  if (fusion === "linear") return { linear: { weights, normalization: $("#normalization").value } };
  return { rrf: { k: Number($("#rrf-k").value), weights } };
}

export function buildRequest() {  // the fused request, exactly as sent
  const active = retrievers.filter((r) => r.enabled);
  const text = $("#query").value, depth = Number($("#depth").value);
  return {
    prefetch: active.map((r) => branchQuery(r, text, depth)),
    query: fusionQuery(active.map((r) => Number(r.weight))),
    limit: Number($("#limit").value), with_payload: true, explain: true,
  };
}

function label(point) {  // a short text for a point: its longest string payload value
  const texts = Object.values(point.payload || {}).filter((v) => typeof v === "string");
  return texts.reduce((a, b) => (b.length > a.length ? b : a), "").slice(0, 90);
}

async function run() {
  const active = retrievers.filter((r) => r.enabled);
  if (!collection || !active.length || !$("#query").value.trim()) return;
  const ticket = ++latest;
  const fused = buildRequest();
  $("#request-json").textContent = json(fused);
  const started = performance.now();
  const path = `/collections/${collection}/points/query`;
  const [answer, branches] = await Promise.all([
    api("POST", path, fused),
    api("POST", `${path}/batch`, { searches: fused.prefetch.map((p) => ({ ...p, with_payload: true })) }),
  ]);
  if (ticket !== latest) return;
  $("#timing").textContent = `${(performance.now() - started).toFixed(0)} ms for the fused query and ${active.length} branch list(s)`;
  render(answer.points, branches.map((b) => b.points), active);
}

function render(fusedPoints, branchLists, active) {
  const fusedRank = new Map(fusedPoints.map((p, i) => [String(p.id), i]));
  const maxAbs = branchLists.map((pts) => Math.max(...pts.map((p) => Math.abs(p.score)), 1e-12));
  const fusedMax = Math.max(...fusedPoints.map((p) => Math.abs(p.score)), 1e-12);
  const fusedColumn = el("div", { class: "list card kind-fused", id: "fused" },
    el("h3", {}, `Fused (${$("#fusion").selectedOptions[0].textContent})`),
    el("ol", {}, ...fusedPoints.map((p, i) => {
      const why = explainOf(p);
      const ranks = why.branches.map((b) => (b ? b.rank : Infinity));
      const best = Math.min(...ranks);
      const move = best === Infinity ? el("span", { class: "move new" }, "in no branch")
        : el("span", { class: `move ${best > i ? "up" : best < i ? "down" : ""}` },
          best > i ? `▲${best - i}` : best < i ? `▼${i - best}` : "=", ` vs best branch #${best + 1}`);
      return el("li", { "data-id": p.id },
        el("div", { class: "hit-head" }, el("span", {}, `#${i + 1}`), el("span", { class: "hit-id" }, p.id), move),
        bar(p.score, fusedMax, { color: "var(--fused)" }),
        ...why.branches.map((b, j) => el("div", { class: "muted" }, `${active[j].label}: `,
          b ? bar(b.score, maxAbs[j], { width: 80, color: COLORS[active[j].kind], label: `#${b.rank + 1} · ${fmt(b.score)}` }) : "not found")),
        el("div", { class: "hit-text" }, label(p)));
    })));
  const columns = branchLists.map((pts, j) => el("div", { class: `list card kind-${active[j].kind}`, "data-branch": j },
    el("h3", {}, active[j].label),
    el("ol", {}, ...pts.slice(0, Math.max(Number($("#limit").value), 10)).map((p, i) => {
      const k = fusedRank.get(String(p.id));
      return el("li", { "data-id": p.id },
        el("div", { class: "hit-head" }, el("span", {}, `#${i + 1}`), el("span", { class: "hit-id" }, p.id),
          el("span", { class: `move ${k === undefined ? "new" : k < i ? "up" : k > i ? "down" : ""}` },
            k === undefined ? "→ not fused in top" : `→ fused #${k + 1}`)),
        bar(p.score, maxAbs[j], { color: COLORS[active[j].kind] }),
        el("div", { class: "hit-text" }, label(p)));
    }))));
  $("#flow").replaceChildren(rankFlow(fusedPoints, active));
  $("#lists").replaceChildren(fusedColumn, ...columns);
  $("#lists").querySelectorAll("li[data-id]").forEach((li) => {  // hovering a point lights it up everywhere
    li.onmouseenter = () => $("#lists").querySelectorAll(`li[data-id="${li.dataset.id}"]`).forEach((x) => x.classList.add("hl"));
    li.onmouseleave = () => $("#lists").querySelectorAll("li.hl").forEach((x) => x.classList.remove("hl"));
  });
}

// Where each fused point came from: one panel per branch, a line from the point's rank in that
// branch (left) to its fused rank (right); ranks deeper than the fused list meet at the last row.
function rankFlow(fusedPoints, active) {
  const ns = "http://www.w3.org/2000/svg", rows = fusedPoints.length, step = 15, top = 20, panel = 190;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "bars"); svg.setAttribute("id", "rank-flow");
  svg.setAttribute("width", panel * active.length); svg.setAttribute("height", top + step * (rows + 1) + 4);
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  const y = (rank) => top + step * Math.min(rank, rows) + step / 2;
  active.forEach((r, j) => {
    const x0 = j * panel, color = COLORS[r.kind];
    add("text", { x: x0, y: 12, style: `fill: ${color}` }, `${r.label} → fused`);
    for (let rank = 0; rank <= rows; rank += 1) {
      add("text", { x: x0, y: y(rank) + 4 }, rank < rows ? `#${rank + 1}` : "deeper");
      if (rank < rows) add("text", { x: x0 + 130, y: y(rank) + 4 }, `#${rank + 1} ${fusedPoints[rank].id}`);
    }
    fusedPoints.forEach((p, i) => {
      const b = explainOf(p).branches[j];
      if (b) add("line", { x1: x0 + 38, y1: y(b.rank), x2: x0 + 126, y2: y(i), stroke: color, "stroke-width": 1.5 });
    });
  });
  return svg;
}

function drawRetrievers() {
  $("#retrievers").replaceChildren(...retrievers.map((r) => el("div", { class: `retriever kind-${r.kind}` },
    el("label", {}, el("input", { type: "checkbox", checked: r.enabled, onchange: (e) => { r.enabled = e.target.checked; changed(); } }),
      ` ${r.label} `),
    r.model ? el("input", { value: r.model, size: 22, title: "model (server-side embedding)",
      onchange: (e) => { r.model = e.target.value; changed(); } }) : "",
    el("label", {}, " weight ", el("input", { type: "number", step: "0.1", value: r.weight, style: "width:4em",
      oninput: (e) => { r.weight = e.target.value; changed(); } })))));
}

function showKnobs() {
  const fusion = $("#fusion").value;
  document.querySelectorAll(".for-rrf").forEach((n) => { n.hidden = fusion !== "rrf"; });
  document.querySelectorAll(".for-linear").forEach((n) => { n.hidden = fusion !== "linear"; });
}

let timer = null;
let changes = 0;
function changed() {  // every knob re-runs the query (debounced while typing)
  showKnobs();
  const mine = ++changes;
  document.body.dataset.pending = "true";  // until the lists show this change (tests wait on it)
  clearTimeout(timer);
  timer = setTimeout(async () => {
    await guarded(run);
    if (mine === changes) delete document.body.dataset.pending;
  }, 250);
}

async function chooseCollection(name) {
  collection = name;
  retrievers = retrieversOf(await api("GET", `/collections/${name}`));
  drawRetrievers();
  await run();
}

function curl(request) {
  const key = localStorage.getItem("hybrid.apiKey") ? ` -H "api-key: $HYBRID_API_KEY"` : "";
  return `curl -s -X POST ${location.origin}/collections/${collection}/points/query${key} ` +
    `-H 'content-type: application/json' -d '${JSON.stringify(request).replace(/'/g, "'\\''")}'`;
}

function python(request) {  // qdrant-client has no models for our extensions: those go as plain JSON
  const plain = request.prefetch.every((p) => p.query.text !== undefined) && !request.query.linear;
  const key = localStorage.getItem("hybrid.apiKey") ? `, api_key=os.environ["HYBRID_API_KEY"]` : "";
  if (!plain) {
    return `import json, os\nimport httpx  # BM25 field queries and linear fusion are hybrid extensions to Qdrant's API\n\n` +
      `result = httpx.post("${location.origin}/collections/${collection}/points/query",\n` +
      `                    headers={"api-key": os.environ.get("HYBRID_API_KEY", "")}, timeout=60,\n` +
      `                    json=json.loads(${JSON.stringify(JSON.stringify(request))})).json()["result"]\n` +
      `print(result["points"])`;  // a JSON string literal is a Python one too
  }
  const prefetch = request.prefetch.map((p) => `        models.Prefetch(query=models.Document(text=${JSON.stringify(p.query.text)}, ` +
    `model=${JSON.stringify(p.query.model)}),${p.using ? ` using=${JSON.stringify(p.using)},` : ""} limit=${p.limit}),`).join("\n");
  const query = request.query.rrf
    ? `models.RrfQuery(rrf=models.Rrf(k=${request.query.rrf.k}, weights=${JSON.stringify(request.query.rrf.weights)}))`
    : "models.FusionQuery(fusion=models.Fusion.DBSF)";
  return `import os\nfrom qdrant_client import QdrantClient, models\n\n` +
    `client = QdrantClient(url="${location.origin}"${key}, cloud_inference=True)  # the server embeds the text\n` +
    `result = client.query_points(\n    "${collection}",\n    prefetch=[\n${prefetch}\n    ],\n` +
    `    query=${query},\n    limit=${request.limit},\n    with_payload=True,\n)\nprint(result.points)`;
}

async function copy(text) {
  $("#snippet").textContent = text;
  $("#snippet").closest("details").open = true;
  try { await navigator.clipboard.writeText(text); } catch (_) { /* shown below the request instead */ }
}

boot(async () => {
  ["#query", "#limit", "#depth", "#rrf-k"].forEach((s) => $(s).addEventListener("input", changed));
  ["#fusion", "#normalization"].forEach((s) => $(s).addEventListener("change", changed));
  $("#copy-curl").onclick = () => copy(curl(buildRequest()));
  $("#copy-python").onclick = () => copy(python(buildRequest()));
  showKnobs();
  await fillCollections($("#collection"), (name) => guarded(() => chooseCollection(name)));
});
