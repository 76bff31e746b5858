// Small DOM helpers. Text always goes through textContent, never innerHTML, so paper text,
// claims and log lines cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function fmtNumber(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits });
}

export function fmtPercent(value, digits = 2) {
  if (value === null || value === undefined) return "—";
  const sign = value > 0 ? "+" : "";
  return `${sign}${Number(value).toFixed(digits)}%`;
}

export function fmtTime(value) {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function badge(text, kind = "") {
  const tone = String(kind || text || "").toLowerCase().replace(/[^a-z_]/g, "");
  return h("span", { class: `badge badge-${tone}`, text: text || "—" });
}

// A table from rows: columns are [header, cell(row) -> Node|string].
export function table(caption, columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "muted", text: empty });
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden", text: caption }),
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col", text: title })))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))),
  );
}

export function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Replaces a live-refreshed region's content without losing the keyboard focus: the focused
// control is found again in the new content by its data-key.
let focusNextKey = null;

// After an action removes its own button (Approve), say which control should get the focus next.
export function focusNext(key) {
  focusNextKey = key;
}

export function replaceKeepingFocus(container, ...children) {
  const focused = document.activeElement;
  const key = focused && container.contains(focused) ? focused.dataset.key : undefined;
  container.replaceChildren();
  append(container, children);
  for (const wanted of [focusNextKey, key]) {
    const target = wanted && container.querySelector(`[data-key="${CSS.escape(wanted)}"]`);
    if (target && !target.disabled) {
      target.focus({ preventScroll: true });
      if (wanted === focusNextKey) focusNextKey = null;
      return;
    }
  }
}

// Re-renders a region only when its data changed (polling must not disturb the reader).
export function liveRegion(container, build) {
  let last = null;
  return (data) => {
    const snapshot = JSON.stringify(data);
    if (snapshot === last) return;
    last = snapshot;
    replaceKeepingFocus(container, build(data));
  };
}
