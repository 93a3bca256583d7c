// Collections: status, config, live optimizer activity, payload indexes, aliases, snapshots.
import { $, api, bar, boot, canWrite, el, guarded, json, request, status } from "./core.js";

let current = null;
let poll = null;

async function listCollections() {
  const names = ((await api("GET", "/collections")).collections || []).map((c) => c.name).sort();
  const infos = await Promise.all(names.map((name) => api("GET", `/collections/${name}`)));
  $("#collections tbody").replaceChildren(...names.map((name, i) => el("tr", {
    class: `clickable${name === current ? " selected" : ""}`, "data-name": name, onclick: () => select(name),
  }, el("td", {}, name), el("td", {}, infos[i].status), el("td", { class: "num" }, infos[i].points_count),
     el("td", { class: "num" }, infos[i].segments_count))));
  const aliases = (await api("GET", "/aliases")).aliases || [];
  $("#aliases tbody").replaceChildren(...aliases.map((a) => el("tr", {},
    el("td", {}, a.alias_name), el("td", {}, "→ ", a.collection_name),
    el("td", {}, el("button", { class: "write", onclick: () => guarded(() => dropAlias(a.alias_name)) }, "delete")))));
  const remembered = localStorage.getItem("hybrid.collection");
  if (!current && names.length) await select(names.includes(remembered) ? remembered : names[0]);
}

async function select(name) {
  current = name;
  localStorage.setItem("hybrid.collection", name);
  document.querySelectorAll("#collections tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.name === name));
  $("#detail-name").textContent = name;
  await Promise.all([showInfo(), showOptimizations(), showSnapshots()]);
  clearInterval(poll);
  poll = setInterval(() => guarded(showOptimizations), 2000);  // the optimizer is live: poll it
}

async function showInfo() {
  const info = await api("GET", `/collections/${current}`);
  const rows = [["status", info.status], ["optimizer", json(info.optimizer_status)], ["points", info.points_count],
    ["indexed vectors", info.indexed_vectors_count], ["segments", info.segments_count]];
  $("#info tbody").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
  $("#config").textContent = json(info.config);
  const schema = Object.entries(info.payload_schema || {});
  $("#indexes tbody").replaceChildren(...(schema.length ? schema.map(([field, s]) => el("tr", {},
    el("td", {}, field), el("td", {}, s.data_type), el("td", { class: "num" }, s.points ?? ""),
    el("td", {}, el("button", { class: "write", onclick: () => guarded(() => dropIndex(field)) }, "delete"))))
    : [el("tr", {}, el("td", { class: "muted" }, "no payload index"))]));
}

async function showOptimizations() {
  if (!current) return;
  const opt = await api("GET", `/collections/${current}/optimizations?with=queued,completed,idle_segments`);
  const sum = opt.summary || {};
  const segments = (list) => `${list.length} segment(s), ${list.reduce((n, s) => n + s.points_count, 0)} points`;
  const running = (o) => el("li", {}, `${o.optimizer} (${segments(o.segments)}) `,
    o.progress && o.progress.total ? bar(o.progress.done || 0, o.progress.total, { label: `${o.progress.done || 0}/${o.progress.total}` }) : "");
  const finished = (o) => el("li", { class: "muted" }, `${o.optimizer}: ${typeof o.status === "string" ? o.status : json(o.status)}, ` +
    `${segments(o.segments)}${o.progress && o.progress.duration_sec != null ? `, ${o.progress.duration_sec.toFixed(2)} s` : ""}`);
  $("#optimizations").replaceChildren(
    el("div", {}, `${opt.running.length} running · ${sum.queued_optimizations ?? 0} queued ` +
      `(${sum.queued_segments ?? 0} segments, ${sum.queued_points ?? 0} points) · ${sum.idle_segments ?? 0} idle segment(s)`),
    el("ul", {}, ...opt.running.map(running), ...(opt.queued || []).map((o) => el("li", {}, `queued: ${o.optimizer} (${segments(o.segments)})`)),
      ...(opt.completed || []).slice(0, 5).map(finished)),
    el("details", {}, el("summary", {}, "raw"), el("pre", {}, json(opt))));
  $("#opt-updated").textContent = `(live, ${new Date().toLocaleTimeString()})`;
}

async function showSnapshots() {
  const snaps = await api("GET", `/collections/${current}/snapshots`);
  $("#snapshots tbody").replaceChildren(...(snaps.length ? snaps.map((s) => el("tr", {},
    el("td", {}, s.name), el("td", { class: "num" }, `${(s.size / 1024).toFixed(1)} KiB`), el("td", {}, s.creation_time || ""),
    el("td", {}, el("button", { onclick: () => guarded(() => download(s.name)) }, "download"), " ",
      el("button", { class: "write", onclick: () => guarded(() => restoreListed(s.name)) }, "restore"))))
    : [el("tr", {}, el("td", { class: "muted" }, "no snapshot"))]));
  document.querySelectorAll("#snapshots .write").forEach((b) => { b.disabled = !canWrite(); });
}

async function snapshotBlob(name) {
  const response = await request("GET", `/collections/${current}/snapshots/${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(`download failed: ${response.status}`);
  return response.blob();
}

async function download(name) {  // a plain link cannot send the key: fetch, then save the blob
  const url = URL.createObjectURL(await snapshotBlob(name));
  el("a", { href: url, download: name }).click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function restore(blob, name) {
  const form = new FormData();
  form.append("snapshot", blob, name);
  const response = await request("POST", `/collections/${current}/snapshots/upload?wait=true`, { body: form });
  if (!response.ok) throw new Error(`restore failed: ${response.status} ${await response.text()}`);
  status(`restored ${current} from ${name}`, true);
  await refresh();
}

const restoreListed = async (name) => restore(await snapshotBlob(name), name);

async function dropIndex(field) {
  await api("DELETE", `/collections/${current}/index/${encodeURIComponent(field)}?wait=true`);
  await showInfo();
}

async function dropAlias(alias) {
  await api("POST", "/collections/aliases", { actions: [{ delete_alias: { alias_name: alias } }] });
  await listCollections();
}

async function refresh() { await listCollections(); if (current) await select(current); }

boot(async () => {
  $("#index-form").addEventListener("submit", (e) => { e.preventDefault(); guarded(async () => {
    const f = e.target.elements;
    await api("PUT", `/collections/${current}/index?wait=true`, { field_name: f.field.value, field_schema: f.schema.value });
    await showInfo();
  }); });
  $("#alias-form").addEventListener("submit", (e) => { e.preventDefault(); guarded(async () => {
    await api("POST", "/collections/aliases", { actions: [{ create_alias: { collection_name: current, alias_name: e.target.elements.alias.value } }] });
    await listCollections();
  }); });
  $("#snapshot-create").addEventListener("click", () => guarded(async () => {
    await api("POST", `/collections/${current}/snapshots?wait=true`);
    await showSnapshots();
  }));
  $("#snapshot-upload").addEventListener("change", (e) => guarded(() => restore(e.target.files[0], e.target.files[0].name)));
  await listCollections();
});
