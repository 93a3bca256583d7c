// Shared by every page: the API key, REST calls, access, small DOM and SVG helpers.
// Every data call goes through `api()`, so the REST API's key checks decide what a page can do.

const KEY = "hybrid.apiKey";
const COLLECTION = "hybrid.collection";
export const BASE = "";  // the REST API is served next to the dashboard

export const apiKey = () => localStorage.getItem(KEY) || "";

export class ApiError extends Error {
  constructor(status, message) { super(`${status}: ${message}`); this.status = status; }
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { "api-key": key, ...extra } : extra;
}

// One REST call; resolves to Qdrant's `result` (or the whole body when `raw`), rejects with ApiError.
export async function api(method, path, body, { raw = false } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "content-type": "application/json" }) };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const response = await fetch(BASE + path, init);
  const text = await response.text();
  let data = text;
  try { data = text ? JSON.parse(text) : null; } catch (_) { /* plain text answer */ }
  if (!response.ok) {
    const message = data && data.status && data.status.error ? data.status.error : text || response.statusText;
    throw new ApiError(response.status, message);
  }
  return raw || !data || data.result === undefined ? data : data.result;
}

// Raw fetch with the key (downloads, uploads, the console): the Response itself.
export function request(method, path, init = {}) {
  return fetch(BASE + path, { ...init, method, headers: headers(init.headers || {}) });
}

export function status(message, ok = false) {
  const el = document.getElementById("status");
  el.textContent = message || "";
  el.className = ok ? "ok" : "";
}

// Run an async action, reporting its error in the status line instead of the console.
export async function guarded(action) {
  try { return await action(); } catch (error) { status(error.message || String(error)); return undefined; }
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const json = (value) => JSON.stringify(value, null, 2);

// A horizontal SVG bar for `value` on a 0..max scale, labelled with the value.
export function bar(value, max, { width = 120, color = "var(--accent)", label } = {}) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const text = document.createElementNS(ns, "text");
  text.textContent = label !== undefined ? label : fmt(value);
  svg.setAttribute("class", "bars"); svg.setAttribute("height", 12);
  svg.setAttribute("width", width + 8 + 6 * text.textContent.length);  // room for the label
  const rect = document.createElementNS(ns, "rect");
  const share = max > 0 && Number.isFinite(value) ? Math.max(0, Math.min(1, value / max)) : 0;
  rect.setAttribute("width", Math.max(1, share * width)); rect.setAttribute("height", 10);
  rect.setAttribute("y", 1); rect.setAttribute("fill", color);
  text.setAttribute("x", width + 4); text.setAttribute("y", 10);
  svg.append(rect, text);
  return svg;
}

export const fmt = (x) => (typeof x === "number" ? (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4)) : String(x));

// The access the key grants: "write" | "read" | "none"; read-only hides and disables write controls.
export async function loadAccess() {
  let granted = "none";
  try { granted = (await api("GET", "/dashboard/api/access")).access; } catch (error) {
    status(apiKey() ? `the key was refused (${error.message})` : "this server needs an API key: type it above");
  }
  document.body.classList.toggle("read-only", granted !== "write");
  document.querySelectorAll(".write").forEach((node) => { node.disabled = granted !== "write"; });
  const badge = $("#access");
  badge.textContent = { write: "read-write", read: "read-only", none: "no access" }[granted];
  badge.className = `badge ${granted}`;
  return granted;
}

export const canWrite = () => !document.body.classList.contains("read-only");

// The collection picker every page shares; remembers the choice across pages.
export async function fillCollections(select, onChange) {
  const names = ((await api("GET", "/collections")).collections || []).map((c) => c.name).sort();
  select.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
  const remembered = localStorage.getItem(COLLECTION);
  if (names.includes(remembered)) select.value = remembered;
  select.onchange = () => { localStorage.setItem(COLLECTION, select.value); onChange(select.value); };
  if (select.value) onChange(select.value);
  return names;
}

// Start a page: wire the key form, learn the access, then run the page's own `start`.
export async function boot(start) {
  const input = $("#api-key");
  input.value = apiKey();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY, input.value.trim());
    location.reload();
  });
  const granted = await loadAccess();
  if (granted !== "none") await guarded(start);
  document.body.dataset.ready = "true";  // for tests and the load-time probe
}
