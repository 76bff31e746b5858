// One paper: its claims with citations, the plans made for them (approve, run) and their runs.

import { api } from "../api.js";
import { fmtNumber, fmtPercent, fmtTime, h, liveRegion, table } from "../dom.js";
import { actionButton, phaseBadge, planActions, planSummary, reasonText, verdictBadge } from "./common.js";

function citation(claim) {
  return h(
    "figure",
    { class: "citation" },
    h("blockquote", { text: claim.citation.quote }),
    h("figcaption", { text: `page ${claim.citation.page}` }),
  );
}

function claimsTable(name, claims, page, options, onPlanned) {
  return table(
    "Claims",
    [
      ["Claim", (c) => h("code", { text: c.id })],
      ["Value", (c) => `${c.metric} = ${fmtNumber(c.value)}${c.unit && !["ratio", "fraction"].includes(c.unit) ? ` ${c.unit}` : ""}`],
      ["Setting", (c) => [c.model, c.dataset, c.protocol].filter(Boolean).join(" · ")],
      ["Citation", citation],
      ["", (c) => [
        actionButton("Plan this claim", `plan:${c.id}`, async () => {
          const plan = await api.post("/plans", {
            paper: name,
            claim_id: c.id,
            approval_required: options.approval.checked,
            planner: { provider: options.planner.value },
          });
          page.toast(`Plan ${plan.name} created`);
          onPlanned();
        }, page),
        h("a", { href: `#/papers/${name}/story?claim=${encodeURIComponent(c.id)}`, class: "button-link secondary", "data-key": `story:${c.id}`, text: "Storybook" }),
      ]],
    ],
    claims,
    "No claims extracted yet.",
  );
}

export async function render(main, { name }, page) {
  const header = h("div");
  const claimsRegion = h("div");
  const plansRegion = h("div", { "aria-live": "polite" });
  const runsRegion = h("div", { "aria-live": "polite" });
  const historyRegion = h("div");
  const approval = h("input", { type: "checkbox", id: "plan-approval", checked: true });
  const planner = h("select", { id: "plan-planner" }, ["auto", "offline", "openai"].map((value) => h("option", { value, text: value })));
  const options = { approval, planner };

  const showHeader = liveRegion(header, (p) => [
    h("h1", { text: p.title || p.name, tabindex: "-1", "data-key": "page-title" }),
    h("p", {},
      phaseBadge(p.phase), " ",
      h("span", { class: "muted", text: reasonText(p) }), " ",
      h("span", { class: "muted", text: `${p.name} · ${p.claim_count} claims${p.pages ? ` · ${p.pages} pages` : ""}` }),
    ),
    p.document_sha256 ? h("p", { class: "muted mono", text: `sha256 ${p.document_sha256}` }) : null,
    h("p", {},
      h("a", { href: `#/papers/${p.name}/report`, class: "button-link", id: "open-report", text: "Open the report" }), " ",
      h("a", { href: "#/papers", class: "button-link secondary", text: "All papers" }),
    ),
  ]);
  let plansOfPaper = [];
  const showClaims = liveRegion(claimsRegion, (claims) => claimsTable(name, claims, page, options, () => loadPlans()));
  const showPlans = liveRegion(plansRegion, (plans) =>
    table(
      "Plans",
      [
        ["Plan", (p) => h("code", { text: p.name })],
        ["Claim", (p) => p.claim_id],
        ["Phase", (p) => [phaseBadge(p.phase), p.approved_by ? h("span", { class: "muted", text: ` approved by ${p.approved_by}` }) : null]],
        ["Summary", (p) => planSummary(p)],
        ["", (p) => planActions(p, page, { onChange: () => loadPlans() })],
      ],
      plans,
      "No plans yet: plan a claim above.",
    ),
  );
  const showRuns = liveRegion(runsRegion, (runs) =>
    table(
      "Runs",
      [
        ["Run", (r) => h("a", { href: `#/runs/${r.name}`, "data-key": `run:${r.name}`, text: r.name })],
        ["Plan", (r) => r.plan],
        ["Seed", (r) => String(r.seed)],
        ["Phase", (r) => phaseBadge(r.phase)],
        ["Progress", (r) => h("progress", { max: "100", value: String(r.progress ?? 0), "aria-label": `Progress of ${r.name}` })],
        ["Observed", (r) => fmtNumber(r.observed)],
        ["Verdict", (r) => verdictBadge(r.verdict)],
      ],
      runs,
      "No runs yet.",
    ),
  );
  const showHistory = liveRegion(historyRegion, (items) =>
    table(
      "Run history",
      [
        ["Run", (r) => h("a", { href: `#/runs/${r.name}`, text: r.name })],
        ["Claim", (r) => r.claim || ""],
        ["Seed", (r) => String(r.seed)],
        ["Phase", (r) => phaseBadge(r.phase)],
        ["Observed", (r) => fmtNumber(r.observed)],
        ["Gap", (r) => fmtPercent(r.gap_percent)],
        ["Verdict", (r) => verdictBadge(r.verdict)],
        ["Finished", (r) => fmtTime(r.completed_at)],
      ],
      items,
      "No finished runs recorded yet.",
    ),
  );

  async function loadPaper() {
    // Paper first, claims second: once the paper reads Ready its claims are in place, so polling can
    // stop without a claims list fetched a moment before extraction finished.
    const p = await api.get(`/papers/${name}`);
    const claims = await api.get(`/papers/${name}/claims`);
    showHeader(p);
    showClaims(claims.items);
    return p.phase !== "Ready" && p.phase !== "Failed";
  }
  async function loadPlans() {
    plansOfPaper = (await api.get("/plans")).items.filter((p) => p.paper === name);
    showPlans(plansOfPaper);
  }
  async function loadRuns() {
    const names = new Set(plansOfPaper.map((p) => p.name));
    const runs = names.size ? (await api.get("/runs")).items.filter((r) => names.has(r.plan)) : [];
    showRuns(runs);
    showHistory((await api.get(`/papers/${name}/runs`)).items);
  }

  await loadPaper();
  main.append(
    header,
    h("section", { "aria-labelledby": "claims-title" },
      h("h2", { id: "claims-title", text: "Claims" }),
      h("div", { class: "toolbar" },
        h("label", { class: "inline", for: "plan-approval" }, approval, " Require approval before running"),
        h("label", { class: "inline", for: "plan-planner" }, "Planner ", planner),
      ),
      claimsRegion,
    ),
    h("section", { "aria-labelledby": "plans-title" }, h("h2", { id: "plans-title", text: "Plans" }), plansRegion),
    h("section", { "aria-labelledby": "runs-title" }, h("h2", { id: "runs-title", text: "Runs" }), runsRegion),
    h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title", text: "Run history" }), historyRegion),
  );
  page.poll(loadPaper, 1500);
  page.poll(async () => {
    await loadPlans();
    await loadRuns();
  }, 2000);
}
