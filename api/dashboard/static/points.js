// Points: scroll with a filter (builder or raw JSON), a point's payload and vectors, "find similar".
import { $, api, boot, el, fillCollections, guarded, json } from "./core.js";

const OPS = {  // builder operator -> Qdrant condition on `key`
  "=": (key, v) => ({ key, match: { value: scalar(v) } }),
  "any of": (key, v) => ({ key, match: { any: list(v) } }),
  "none of": (key, v) => ({ key, match: { except: list(v) } }),
  ">=": (key, v) => ({ key, range: { gte: Number(v) } }),
  "<=": (key, v) => ({ key, range: { lte: Number(v) } }),
  "text": (key, v) => ({ key, match: { text: v } }),
  "is empty": (key) => ({ is_empty: { key } }),
};
let collection = null;
let offset = null;
let selected = null;

function scalar(text) {  // numbers and booleans as such; anything else is a keyword
  const t = text.trim();
  if (t === "true" || t === "false") return t === "true";
  return t !== "" && !Number.isNaN(Number(t)) ? Number(t) : t;
}
const list = (text) => text.split(",").map(scalar);

function addCondition(field = "", op = "=", value = "") {
  const row = el("div", { class: "filter-row" },
    el("input", { name: "field", placeholder: "payload key", value: field }),
    el("select", { name: "op" }, ...Object.keys(OPS).map((o) => el("option", { value: o, selected: o === op }, o))),
    el("input", { name: "value", placeholder: "value", value }),
    el("button", { type: "button", onclick: () => { row.remove(); writeFilter(); } }, "×"));
  row.addEventListener("input", writeFilter);
  $("#conditions").append(row);
  writeFilter();
}

function writeFilter() {  // the builder's conditions -> the raw JSON box (the one the scroll reads)
  const must = [...document.querySelectorAll(".filter-row")]
    .map((row) => [row.querySelector("[name=field]").value.trim(), row.querySelector("[name=op]").value,
      row.querySelector("[name=value]").value])
    .filter(([key]) => key)
    .map(([key, op, value]) => OPS[op](key, value));
  $("#filter").value = json(must.length ? { must } : {});
}

function readFilter() {
  const text = $("#filter").value.trim();
  const filter = text ? JSON.parse(text) : {};
  return Object.keys(filter).length ? filter : undefined;
}

async function scroll(fromStart = true) {
  if (fromStart) offset = null;
  const filter = readFilter();
  const body = { limit: Number($("#limit").value), with_payload: true, with_vector: false, filter };
  if (offset !== null) body.offset = offset;
  const page = await api("POST", `/collections/${collection}/points/scroll`, body);
  offset = page.next_page_offset ?? null;
  $("#next").disabled = offset === null;
  $("#points tbody").replaceChildren(...page.points.map((p) => el("tr", {
    class: "clickable", "data-id": p.id, onclick: () => guarded(() => showPoint(p.id)),
  }, el("td", { class: "point-id" }, p.id), el("td", {}, el("code", {}, JSON.stringify(p.payload).slice(0, 160))))));
  const counted = await api("POST", `/collections/${collection}/points/count`, { filter, exact: true });
  $("#count").textContent = `${counted.count} point(s) match`;
}

async function showPoint(id) {
  selected = id;
  const point = await api("GET", `/collections/${collection}/points/${encodeURIComponent(id)}`);
  $("#point-id").textContent = String(id);
  $("#point-payload").textContent = json(point.payload);
  const vectors = point.vector && !Array.isArray(point.vector) ? point.vector : { "": point.vector };
  $("#point-vectors").textContent = Object.entries(vectors).map(([name, v]) => `${name || "(default)"}: ${abbreviate(v)}`).join("\n");
  $("#similar").disabled = false;
  $("#similar-list").replaceChildren();
}

function abbreviate(vector) {
  if (Array.isArray(vector) && Array.isArray(vector[0])) return `${vector.length} x ${vector[0].length} multivector`;
  if (Array.isArray(vector)) return `[${vector.slice(0, 8).map((x) => x.toFixed(4)).join(", ")}${vector.length > 8 ? `, … ${vector.length} dims` : ""}]`;
  if (vector && vector.indices) return `sparse, ${vector.indices.length} terms: ${JSON.stringify(vector.indices.slice(0, 10))}…`;
  return JSON.stringify(vector);
}

async function similar() {  // the point's own vector as the query (Qdrant's query-by-id)
  const using = $("#similar-using").value;
  const body = { query: selected, limit: 10, with_payload: true, filter: readFilter() };
  if (using) body.using = using;
  const found = await api("POST", `/collections/${collection}/points/query`, body);
  $("#similar-list").replaceChildren(...found.points.map((p) => el("li", {},
    el("a", { href: "#", onclick: (e) => { e.preventDefault(); guarded(() => showPoint(p.id)); } }, p.id),
    ` ${p.score.toFixed(4)} `, el("span", { class: "muted" }, JSON.stringify(p.payload).slice(0, 80)))));
}

async function chooseCollection(name) {
  collection = name;
  const info = await api("GET", `/collections/${name}`);
  const vectors = info.config.params.vectors || {};
  const names = vectors.size !== undefined ? [""] : Object.keys(vectors);
  const sparse = Object.keys(info.config.params.sparse_vectors || {});
  $("#similar-using").replaceChildren(...[...names, ...sparse].map((n) => el("option", { value: n }, n || "(default)")));
  await scroll();
}

boot(async () => {
  $("#add-condition").onclick = () => addCondition();
  $("#scroll").onclick = () => guarded(() => scroll(true));
  $("#next").onclick = () => guarded(() => scroll(false));
  $("#similar").onclick = () => guarded(similar);
  addCondition();
  await fillCollections($("#collection"), (name) => guarded(() => chooseCollection(name)));
});
