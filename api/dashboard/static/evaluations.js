// Evaluations: reports of `python -m evals beir` (tables, plots, per-query wins and losses between
// two plans), and running plans on a collection with judged queries.
import { $, api, bar, boot, el, fillCollections, fmt, guarded, json, request } from "./core.js";
import { branchQuery, retrieversOf } from "./retrievers.js";

const SVG = "http://www.w3.org/2000/svg";
let report = null;

async function listReports() {
  const reports = await api("GET", "/dashboard/api/reports");
  $("#reports tbody").replaceChildren(...(reports.length ? reports.map((r) => el("tr", {
    class: "clickable", "data-name": r.name, onclick: () => guarded(() => openReport(r)),
  }, el("td", {}, r.name), el("td", {}, r.dataset), el("td", {}, r.plans.join(", "))))
    : [el("tr", {}, el("td", { class: "muted", colspan: 3 }, "no report yet: run `python -m evals beir --dataset …` or one below"))]));
  if (reports.length) await openReport(reports[0]);
}

async function openReport(entry) {
  document.querySelectorAll("#reports tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.name === entry.name));
  const base = `/dashboard/api/reports/${encodeURIComponent(entry.name)}`;
  show(await api("GET", `${base}/report.json`), entry.name);
  const images = await Promise.all(entry.files.filter((f) => f.endsWith(".png")).map(async (f) => {
    const response = await request("GET", `${base}/${encodeURIComponent(f)}`);  // images need the key too
    return el("figure", {}, el("img", { src: URL.createObjectURL(await response.blob()), alt: f }), el("figcaption", { class: "muted" }, f));
  }));
  $("#plots").replaceChildren(...(images.length ? [el("h3", {}, "Plots"), ...images] : []));
}

function show(r, title) {
  report = r;
  $("#report-title").textContent = `${title} · ${r.dataset} · ${r.query_ids.length} queries · baseline ${r.baseline}`;
  $("#plots").replaceChildren();
  const best = Object.fromEntries(r.metrics.map((m) => [m, Math.max(...r.plans.map((p) => p.metrics[m].mean))]));
  $("#metrics").replaceChildren(el("table", { id: "metrics-table" },
    el("thead", {}, el("tr", {}, el("th", {}, "plan"), ...r.metrics.map((m) => el("th", {}, m)),
      el("th", { class: "num" }, "p50 ms"), el("th", { class: "num" }, "p99 ms"))),
    el("tbody", {}, ...r.plans.map((p) => el("tr", { "data-plan": p.name }, el("td", {}, p.name),
      ...r.metrics.map((m) => {
        const s = p.metrics[m], c = (p.comparisons || {})[m];
        const sig = c && c.p_value < 0.05 ? (c.mean_difference > 0 ? " ▲" : " ▼") : "";
        return el("td", { title: c ? `vs ${c.baseline}: ${fmt(c.mean_difference)} (p=${fmt(c.p_value)})` : "baseline" },
          bar(s.mean, best[m], { width: 70, label: `${s.mean.toFixed(3)}${sig}` }),
          el("div", { class: "muted" }, `[${s.low.toFixed(3)}, ${s.high.toFixed(3)}]`));
      }),
      el("td", { class: "num" }, p.latency ? p.latency.p50_ms.toFixed(2) : ""),
      el("td", { class: "num" }, p.latency ? p.latency.p99_ms.toFixed(2) : ""))))));
  $("#charts").replaceChildren(el("div", {}, el("h3", {}, "Recall@k"), recallChart(r)));
  const names = r.plans.map((p) => p.name);
  const options = (list) => list.map((n) => el("option", { value: n }, n));
  $("#plan-a").replaceChildren(...options(names)); $("#plan-b").replaceChildren(...options(names));
  $("#metric").replaceChildren(...options(r.metrics));
  if (names.length > 1) { $("#plan-a").value = names[names.length - 1]; $("#plan-b").value = r.baseline || names[0]; }
  compare();
}

function recallChart(r) {  // recall@k per plan as SVG polylines on a log-spaced k axis
  const w = 360, h = 160, pad = 28;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", w + 140); svg.setAttribute("height", h + pad); svg.setAttribute("class", "bars");
  const x = (i) => pad + (i * (w - pad)) / Math.max(1, r.recall_ks.length - 1);
  const y = (v) => h - v * (h - 10);
  const colors = ["#d6336c", "#4263eb", "#2b8a3e", "#f08c00", "#9c36b5", "#1098ad", "#495057", "#e8590c"];
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  add("line", { x1: pad, y1: h, x2: w, y2: h, stroke: "#adb5bd" });
  r.recall_ks.forEach((k, i) => add("text", { x: x(i) - 4, y: h + 14 }, k));
  [0, 0.5, 1].forEach((v) => add("text", { x: 0, y: y(v) + 4 }, v));
  r.plans.forEach((p, j) => {
    const color = colors[j % colors.length];
    add("polyline", { fill: "none", stroke: color, "stroke-width": 2, points: p.recall_curve.map((v, i) => `${x(i)},${y(v)}`).join(" ") });
    add("text", { x: w + 8, y: 12 + j * 13, style: `fill: ${color}` }, p.name);
  });
  return svg;
}

function compare() {  // per-query difference A - B on one metric, biggest wins first
  if (!report) return;
  const plan = (name) => report.plans.find((p) => p.name === name);
  const a = plan($("#plan-a").value), b = plan($("#plan-b").value), metric = $("#metric").value;
  if (!a || !b) return;
  const rows = report.query_ids.map((q) => [q, a.per_query[metric][q] - b.per_query[metric][q]]).sort((x, y) => y[1] - x[1]);
  const wins = rows.filter(([, d]) => d > 1e-12).length, losses = rows.filter(([, d]) => d < -1e-12).length;
  $("#tally").replaceChildren(el("b", { class: "win" }, `${wins} wins`), " · ",
    el("b", { class: "loss" }, `${losses} losses`), ` · ${rows.length - wins - losses} ties`);
  const max = Math.max(...rows.map(([, d]) => Math.abs(d)), 1e-12);
  $("#per-query").replaceChildren(el("table", { id: "wins" }, el("tbody", {}, ...rows.filter(([, d]) => Math.abs(d) > 1e-12)
    .map(([q, d]) => el("tr", {}, el("td", {}, q), el("td", { class: d > 0 ? "win" : "loss" }, d > 0 ? "win" : "loss"),
      el("td", {}, bar(Math.abs(d), max, { color: d > 0 ? "#2b8a3e" : "#c92a2a", label: (d > 0 ? "+" : "") + d.toFixed(3) })))))));
}

async function defaultPlans(collection) {  // one plan per retriever, then their RRF
  const text = "$text";
  const branches = retrieversOf(await api("GET", `/collections/${collection}`)).filter((r) => r.kind !== "multivector");
  const plans = branches.map((r) => ({ name: r.label.replace(/\s+/g, "_"), request: branchQuery(r, text, 100) }));
  if (branches.length > 1) plans.push({ name: "rrf", request: { prefetch: branches.map((r) => branchQuery(r, text, 100)), query: { rrf: { k: 60 } } } });
  $("#plans").value = json(plans);
}

async function runEvaluation() {
  const body = { collection: $("#collection").value, plans: JSON.parse($("#plans").value),
    max_queries: Number($("#max-queries").value), id_field: $("#id-field").value.trim() || null };
  if ($("#dataset").value) body.dataset = $("#dataset").value;
  else Object.assign(body, JSON.parse($("#judged").value));
  $("#run-status").textContent = "running…";
  const started = performance.now();
  const result = await api("POST", "/dashboard/api/evaluate", body);
  $("#run-status").textContent = `done in ${((performance.now() - started) / 1000).toFixed(1)} s (not saved)`;
  show(result, `run on ${body.collection}`);
}

boot(async () => {
  ["#plan-a", "#plan-b", "#metric"].forEach((s) => $(s).addEventListener("change", compare));
  $("#run").onclick = () => guarded(async () => {
    try { await runEvaluation(); } catch (error) { $("#run-status").textContent = ""; throw error; }
  });
  const datasets = await api("GET", "/dashboard/api/datasets");
  $("#dataset").append(...datasets.map((d) => el("option", { value: d }, d)));
  await fillCollections($("#collection"), (name) => guarded(() => defaultPlans(name)));
  await listReports();
});
