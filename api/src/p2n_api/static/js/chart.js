// Charts drawn as inline SVG, with no library: a live line chart of metric values by step, and the
// claimed-vs-observed bar chart of the report. Each chart is an image with a text equivalent.

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2"];

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceRange(values) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

const label = (value) => Number(value).toLocaleString("en-US", { maximumFractionDigits: 4 });

// Series keyed by "metric (split)", each a list of {step, value}; redraws on every update, which is
// cheap because metric updates are few compared with log lines.
export class MetricChart {
  constructor() {
    this.series = new Map();
    this.svg = s("svg", { viewBox: "0 0 640 260", class: "chart", role: "img", "aria-label": "No metric yet" });
    this.legend = document.createElement("ul");
    this.legend.className = "legend";
    this.element = document.createElement("figure");
    this.element.className = "metric-chart";
    const caption = document.createElement("figcaption");
    caption.textContent = "Metrics reported by the run";
    this.element.append(caption, this.svg, this.legend);
    this.draw();
  }

  add({ metric, split, value, step }) {
    const key = split ? `${metric} (${split})` : metric;
    if (!this.series.has(key)) this.series.set(key, []);
    const points = this.series.get(key);
    const existing = points.findIndex((p) => p.step === step);
    if (existing >= 0) points[existing] = { step, value };
    else points.push({ step, value });
    points.sort((a, b) => a.step - b.step);
    this.draw();
  }

  draw() {
    this.svg.replaceChildren();
    this.legend.replaceChildren();
    const all = [...this.series.values()].flat();
    if (!all.length) {
      this.svg.append(s("text", { x: 320, y: 130, "text-anchor": "middle", class: "chart-empty" }, "Waiting for metrics…"));
      this.svg.setAttribute("aria-label", "No metric yet");
      return;
    }
    const [x0, x1] = niceRange(all.map((p) => p.step));
    const [y0, y1] = niceRange(all.map((p) => p.value));
    const left = 70, right = 620, top = 20, bottom = 220;
    const x = (v) => left + ((v - x0) / (x1 - x0)) * (right - left);
    const y = (v) => bottom - ((v - y0) / (y1 - y0)) * (bottom - top);
    this.svg.append(
      s("line", { x1: left, y1: bottom, x2: right, y2: bottom, class: "axis" }),
      s("line", { x1: left, y1: top, x2: left, y2: bottom, class: "axis" }),
      s("text", { x: left - 8, y: top + 4, "text-anchor": "end", class: "tick" }, label(y1)),
      s("text", { x: left - 8, y: bottom, "text-anchor": "end", class: "tick" }, label(y0)),
      s("text", { x: left, y: bottom + 18, "text-anchor": "middle", class: "tick" }, `step ${label(x0)}`),
      s("text", { x: right, y: bottom + 18, "text-anchor": "end", class: "tick" }, `step ${label(x1)}`),
    );
    const summary = [];
    let index = 0;
    for (const [key, points] of this.series) {
      const color = COLORS[index++ % COLORS.length];
      if (points.length > 1) {
        const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join("");
        this.svg.append(s("path", { d, fill: "none", stroke: color, "stroke-width": 2 }));
      }
      for (const p of points) this.svg.append(s("circle", { cx: x(p.step), cy: y(p.value), r: 4, fill: color }));
      const last = points[points.length - 1];
      summary.push(`${key}: ${label(last.value)} at step ${last.step}`);
      const item = document.createElement("li");
      item.dataset.metric = key;
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = color;
      item.append(swatch, `${key}: ${label(last.value)}`);
      this.legend.append(item);
    }
    this.svg.setAttribute("aria-label", `Metric chart. ${summary.join("; ")}`);
  }
}

// Claimed vs observed, one pair of bars per claim; rows are {label, claimed, observed}.
export function claimedVsObservedChart(rows) {
  const height = 40 + rows.length * 70;
  const svg = s("svg", { viewBox: `0 0 640 ${height}`, class: "chart", role: "img" });
  const values = rows.flatMap((r) => [r.claimed, r.observed]).filter((v) => v !== null && v !== undefined);
  const max = Math.max(...values.map(Math.abs), 1e-9);
  const left = 180, right = 480;
  const width = (v) => (Math.abs(v) / max) * (right - left);
  const description = [];
  rows.forEach((row, i) => {
    const top = 20 + i * 70;
    svg.append(s("text", { x: left - 10, y: top + 26, "text-anchor": "end", class: "tick" }, row.label));
    svg.append(s("rect", { x: left, y: top, width: width(row.claimed), height: 22, class: "bar-claimed" }));
    svg.append(s("text", { x: left + width(row.claimed) + 6, y: top + 16, class: "tick" }, `claimed ${label(row.claimed)}`));
    if (row.observed === null || row.observed === undefined) {
      svg.append(s("text", { x: left, y: top + 44, class: "tick" }, "observed: not yet"));
    } else {
      svg.append(s("rect", { x: left, y: top + 28, width: width(row.observed), height: 22, class: "bar-observed" }));
      svg.append(s("text", { x: left + width(row.observed) + 6, y: top + 44, class: "tick" }, `observed ${label(row.observed)}`));
    }
    description.push(`${row.label}: claimed ${label(row.claimed)}, observed ${row.observed == null ? "not yet" : label(row.observed)}`);
  });
  svg.setAttribute("aria-label", `Claimed versus observed. ${description.join("; ")}`);
  const figure = document.createElement("figure");
  figure.className = "report-chart";
  const caption = document.createElement("figcaption");
  caption.append(swatch("bar-claimed"), " claimed by the paper   ", swatch("bar-observed"), " observed by the runs");
  figure.append(svg, caption);
  return figure;
}

function swatch(kind) {
  const el = document.createElement("span");
  el.className = `swatch ${kind}`;
  return el;
}
