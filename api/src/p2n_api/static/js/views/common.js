// Pieces shared by several views: status badges, action buttons for plans, download helpers.

import { api } from "../api.js";
import { badge, downloadBlob, focusNext, h } from "../dom.js";

export const TERMINAL_RUN_PHASES = new Set(["Succeeded", "Failed", "Cancelled", "TimedOut"]);

export function phaseBadge(phase) {
  return badge(phase || "Pending");
}

export function verdictBadge(verdict) {
  if (!verdict) return badge("no verdict", "none");
  return badge(verdict.replace("_", " "), verdict);
}

export function reasonText(obj) {
  if (!obj.reason && !obj.message) return "";
  return [obj.reason, obj.message].filter(Boolean).join(": ");
}

// Buttons run an async action once at a time and report its outcome.
export function actionButton(label, key, action, page, { kind = "", disabled = false, title } = {}) {
  const button = h("button", { type: "button", class: kind, "data-key": key, disabled, title, text: label });
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      await action();
    } catch (error) {
      page.toast(`${error.code || "Error"}: ${error.message}`, "error");
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
  return button;
}

export function planActions(plan, page, { onChange = () => {} } = {}) {
  const seedId = `seed-${plan.name}`;
  const seed = h("input", { type: "number", id: seedId, min: "0", value: "0", class: "seed", "data-key": seedId });
  const approve =
    plan.phase === "AwaitingApproval"
      ? actionButton(`Approve`, `approve:${plan.name}`, async () => {
          await api.post(`/plans/${plan.name}/approve`, undefined);
          page.toast(`Plan ${plan.name} approved`);
          focusNext(`run:${plan.name}`);
          onChange();
        }, page)
      : null;
  const runnable = plan.phase === "Ready";
  const start = actionButton(
    "Run",
    `run:${plan.name}`,
    async () => {
      const created = await api.post(`/plans/${plan.name}/run`, { seed: Number(seed.value || 0) });
      page.toast(`Run ${created.run_id} started`);
      window.location.hash = `#/runs/${created.run_id}`;
    },
    page,
    { disabled: !runnable, title: runnable ? undefined : `The plan is ${plan.phase}` },
  );
  return h(
    "div",
    { class: "plan-actions" },
    approve,
    h("label", { class: "inline", for: seedId }, "Seed ", seed),
    start,
  );
}

export function planSummary(plan) {
  if (!plan.plan) return h("span", { class: "muted", text: reasonText(plan) || "planning…" });
  const p = plan.plan;
  return h("span", { text: `${p.model} on ${p.dataset}, ${p.protocol}; ${p.metric} target ${p.target}` });
}

export async function downloadFrom(path, filename, page) {
  try {
    downloadBlob(await api.blob(path), filename);
  } catch (error) {
    page.toast(`${error.code || "Error"}: ${error.message}`, "error");
  }
}

export function downloadJson(data, filename) {
  downloadBlob(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), filename);
}
