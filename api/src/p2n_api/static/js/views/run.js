// The run page: live status, progress bar, metric chart and log pane, all fed by the run's SSE
// stream (resumed with Last-Event-ID after a drop), plus cancel and the metric downloads.

import { api } from "../api.js";
import { fmtNumber, fmtPercent, fmtTime, h, liveRegion } from "../dom.js";
import { MetricChart } from "../chart.js";
import { LogPane } from "../logpane.js";
import { RunEventStream } from "../sse.js";
import { TERMINAL_RUN_PHASES, actionButton, downloadFrom, phaseBadge, reasonText, verdictBadge } from "./common.js";

const STAGE_TEXT = {
  queued: "queued",
  run_start: "running",
  seed_check: "seeds set",
  run_complete: "complete",
  run_error: "failed",
  run_cancelled: "cancelled",
};
const MAX_SAMPLES = 20;

export async function render(main, { name }, page) {
  const run = await api.get(`/runs/${name}`);
  const statusRegion = h("div", { class: "run-status" });
  const stage = h("span", { id: "run-stage", text: "waiting for events" });
  const connection = h("span", { id: "run-connection", class: "muted", text: "" });
  const bar = h("progress", { id: "run-progress", max: "100", value: String(run.progress ?? 0), "aria-labelledby": "progress-label" });
  const percent = h("span", { id: "run-percent", text: `${Math.round(run.progress ?? 0)}%` });
  const progressMsg = h("span", { class: "muted", id: "run-progress-msg" });
  const chart = new MetricChart();
  const log = new LogPane();
  const samples = h("ul", { class: "samples", "aria-label": "Sample predictions" });
  const reportLink = h("span");
  let finished = TERMINAL_RUN_PHASES.has(run.phase);

  const cancel = actionButton("Cancel run", "cancel", async () => {
    if (!window.confirm(`Cancel run ${name}? Partial artifacts are kept.`)) return;
    await api.post(`/runs/${name}/cancel`, undefined);
    page.toast(`Cancelling ${name}`);
  }, page, { kind: "danger", disabled: finished });
  cancel.id = "run-cancel";

  const showStatus = liveRegion(statusRegion, (r) => [
    h("p", {},
      phaseBadge(r.phase), " ",
      r.queue_position ? h("span", { class: "muted", text: `queue position ${r.queue_position} ` }) : null,
      h("span", { class: "muted", text: reasonText(r) }),
    ),
    h("dl", { class: "facts" },
      h("dt", { text: "Plan" }), h("dd", { text: r.plan }),
      h("dt", { text: "Seed" }), h("dd", { text: String(r.seed) }),
      h("dt", { text: "Started" }), h("dd", { text: fmtTime(r.started_at) }),
      h("dt", { text: "Completed" }), h("dd", { text: fmtTime(r.completed_at) }),
      h("dt", { text: "Metric" }), h("dd", { text: r.metric || "—" }),
      h("dt", { text: "Claimed" }), h("dd", { text: fmtNumber(r.claimed) }),
      h("dt", { text: "Observed" }), h("dd", { id: "run-observed", text: fmtNumber(r.observed) }),
      h("dt", { text: "Gap" }), h("dd", { text: fmtPercent(r.gap_percent) }),
      h("dt", { text: "Verdict" }), h("dd", {}, verdictBadge(r.verdict)),
    ),
  ]);
  showStatus(run);

  function setProgress(value, msg) {
    const clamped = Math.max(0, Math.min(100, Number(value) || 0));
    bar.value = clamped;
    percent.textContent = `${Math.round(clamped)}%`;
    if (msg !== undefined) progressMsg.textContent = msg;
  }

  async function refreshRun() {
    const latest = await api.get(`/runs/${name}`);
    showStatus(latest);
    if (TERMINAL_RUN_PHASES.has(latest.phase)) {
      finished = true;
      cancel.disabled = true;
      if (latest.phase === "Succeeded") setProgress(100);
    }
    return !finished;
  }

  const handlers = {
    stage_update: (data) => {
      stage.textContent = STAGE_TEXT[data.stage] || data.stage;
      if (data.code) stage.textContent += ` (${data.code}${data.message ? `: ${data.message}` : ""})`;
      if (data.stage === "run_complete") setProgress(100);
      if (STAGE_TEXT[data.stage] && ["run_complete", "run_error", "run_cancelled"].includes(data.stage)) {
        refreshRun().catch(() => {});
      }
    },
    progress: (data) => setProgress(data.percent, data.msg),
    log_line: (data) => log.push(data.text, data.level === "info" ? data.stream : data.level),
    metric_update: (data) => chart.add(data),
    sample_pred: (data) => {
      samples.prepend(h("li", { text: data.text }));
      while (samples.childElementCount > MAX_SAMPLES) samples.lastElementChild.remove();
    },
    token: (data) => log.push(data.text, "system"),
  };
  const stream = new RunEventStream(`/runs/${name}/events`, {
    onEvent: ({ event, data }) => handlers[event]?.(data),
    onState: (state, detail) => {
      connection.textContent = { connecting: "connecting…", open: "live", reconnecting: "reconnecting…", ended: "stream ended", failed: `stream failed: ${detail}` }[state];
      connection.dataset.state = state;
    },
  }).start();
  page.onLeave(() => stream.close());

  api.get(`/plans/${run.plan}`).then(
    (plan) => reportLink.replaceChildren(h("a", { href: `#/papers/${plan.paper}/report`, class: "button-link secondary", id: "run-report", text: "Open the report" })),
    () => {},
  );

  main.append(
    h("h1", { text: `Run ${name}` }),
    statusRegion,
    h("section", { class: "card", "aria-labelledby": "progress-label" },
      h("h2", { id: "progress-label", text: "Progress" }),
      h("div", { class: "progress-row" }, bar, percent),
      h("p", {}, "Stage: ", stage, " · ", progressMsg, " · ", connection),
      h("div", { class: "actions" },
        cancel,
        actionButton("Download metrics (CSV)", "csv", () => downloadFrom(`/runs/${name}/metrics.csv`, `${name}-metrics.csv`, page), page, { kind: "secondary" }),
        actionButton("Download metrics (JSON)", "json", () => downloadFrom(`/runs/${name}/metrics`, `${name}-metrics.json`, page), page, { kind: "secondary" }),
        reportLink,
      ),
    ),
    h("section", { class: "card", "aria-labelledby": "metrics-title" }, h("h2", { id: "metrics-title", text: "Metrics" }), chart.element),
    h("section", { class: "card", "aria-labelledby": "samples-title" }, h("h2", { id: "samples-title", text: "Sample predictions" }), samples),
    log.element,
  );
  if (!finished) page.poll(refreshRun, 2000);
}
