// Console: any REST request, typed as "METHOD /path" and a JSON body, sent with the dashboard's key.
import { $, boot, el, json, request } from "./core.js";

const c = () => localStorage.getItem("hybrid.collection") || "my_collection";
const EXAMPLES = () => [
  ["List collections", "GET /collections"],
  ["Collection info", `GET /collections/${c()}`],
  ["Optimizer activity", `GET /collections/${c()}/optimizations?with=queued,completed`],
  ["Scroll with a filter", `POST /collections/${c()}/points/scroll\n${json({ limit: 5, with_payload: true, filter: { must: [] } })}`],
  ["Count points", `POST /collections/${c()}/points/count\n${json({ exact: true })}`],
  ["Hybrid query with explain", `POST /collections/${c()}/points/query\n${json({
    prefetch: [{ query: { text: "what is hybrid search", model: "qdrant/bm25" }, using: "bm25", limit: 20 }],
    query: { rrf: { k: 60 } }, limit: 5, explain: true })}`],
  ["Create a collection", `PUT /collections/scratch\n${json({ vectors: { size: 4, distance: "Cosine" } })}`],
  ["Upsert points", `PUT /collections/scratch/points?wait=true\n${json({ points: [{ id: 1, vector: [0.1, 0.2, 0.3, 0.4], payload: { tag: "a" } }] })}`],
  ["Delete a collection", "DELETE /collections/scratch"],
  ["Create a snapshot", `POST /collections/${c()}/snapshots`],
  ["Aliases", "GET /aliases"],
  ["Metrics", "GET /metrics"],
];

export function parse(text) {  // "METHOD /path\n{body}" -> {method, path, body}
  const [first, ...rest] = text.trim().split("\n");
  const [method, path] = first.trim().split(/\s+/, 2);
  if (!method || !path || !path.startsWith("/")) throw new Error("the first line must be: METHOD /path");
  const body = rest.join("\n").trim();
  if (body) JSON.parse(body);  // a typo is reported here, before it is sent
  return { method: method.toUpperCase(), path, body: body || undefined };
}

async function send() {
  let parsed;
  try { parsed = parse($("#request").value); } catch (error) { $("#response").textContent = `not sent: ${error.message}`; return; }
  const started = performance.now();
  const response = await request(parsed.method, parsed.path, parsed.body === undefined ? {} :
    { body: parsed.body, headers: { "content-type": "application/json" } });
  const text = await response.text();
  $("#timing").textContent = `${response.status} ${response.statusText} · ${(performance.now() - started).toFixed(1)} ms`;
  let shown = text;
  try { shown = json(JSON.parse(text)); } catch (_) { /* not JSON: shown as it came */ }
  $("#response").textContent = shown;
  $("#response").dataset.status = response.status;
}

boot(async () => {
  $("#examples").replaceChildren(...EXAMPLES().map(([title, text]) => el("li", {},
    el("a", { href: "#", onclick: (e) => { e.preventDefault(); $("#request").value = text; } }, title))));
  $("#send").onclick = () => send().catch((error) => { $("#response").textContent = String(error); });
  $("#request").addEventListener("keydown", (e) => { if (e.key === "Enter" && e.ctrlKey) $("#send").click(); });
});
