// The report of a paper: claimed vs observed per claim, gap, verdict, citations and artifacts.

import { api } from "../api.js";
import { fmtNumber, fmtPercent, h, table } from "../dom.js";
import { claimedVsObservedChart } from "../chart.js";
import { actionButton, downloadFrom, downloadJson, phaseBadge, verdictBadge } from "./common.js";

function artifactLinks(run) {
  const names = Object.keys(run.artifacts || {});
  if (!names.length) return h("span", { class: "muted", text: "none" });
  return h("ul", { class: "inline-list" }, names.map((artifact) =>
    h("li", {}, h("a", { href: run.artifacts[artifact], target: "_blank", rel: "noopener noreferrer", text: artifact })),
  ));
}

function claimSection(report, section, page) {
  const claim = section.claim;
  return h(
    "section",
    { class: "card claim-report", "aria-labelledby": `claim-${claim.id}` },
    h("h3", { id: `claim-${claim.id}` }, h("code", { text: claim.id }), " ", verdictBadge(section.verdict)),
    h("dl", { class: "facts" },
      h("dt", { text: "Metric" }), h("dd", { text: section.metric }),
      h("dt", { text: "Claimed" }), h("dd", { text: fmtNumber(section.claimed) }),
      h("dt", { text: "Observed" }), h("dd", { text: fmtNumber(section.observed) }),
      h("dt", { text: "Gap" }), h("dd", { text: fmtPercent(section.gap_percent) }),
      h("dt", { text: "Plan" }), h("dd", { text: section.plan || "not planned" }),
      section.reason ? [h("dt", { text: "Reason" }), h("dd", { text: section.reason })] : null,
    ),
    h("figure", { class: "citation" },
      h("blockquote", { text: claim.citation.quote }),
      h("figcaption", { text: `${report.title || report.paper}, page ${claim.citation.page}` }),
    ),
    table(
      `Runs of ${claim.id}`,
      [
        ["Run", (r) => h("a", { href: `#/runs/${r.name}`, text: r.name })],
        ["Seed", (r) => String(r.seed)],
        ["Phase", (r) => phaseBadge(r.phase)],
        ["Observed", (r) => fmtNumber(r.observed)],
        ["Artifacts", artifactLinks],
        ["Metrics", (r) => [
          actionButton("CSV", `csv:${r.name}`, () => downloadFrom(`/runs/${r.name}/metrics.csv`, `${r.name}-metrics.csv`, page), page, { kind: "secondary" }),
          actionButton("JSON", `json:${r.name}`, () => downloadFrom(`/runs/${r.name}/metrics`, `${r.name}-metrics.json`, page), page, { kind: "secondary" }),
        ]],
      ],
      section.runs,
      "No runs yet.",
    ),
    h("p", {}, h("a", { href: `#/papers/${report.paper}/story?claim=${encodeURIComponent(claim.id)}`, text: "Explain this claim to a child (storybook)" })),
  );
}

export async function render(main, { name }, page) {
  const report = await api.get(`/papers/${name}/report`);
  const rows = report.claims.map((c) => ({ label: c.claim.id, claimed: c.claimed, observed: c.observed }));
  main.append(
    h("h1", { text: `Report: ${report.title || report.paper}` }),
    h("p", {}, phaseBadge(report.phase), " ", h("a", { href: `#/papers/${report.paper}`, text: `paper ${report.paper}` })),
    h("section", { class: "card headline", "aria-labelledby": "headline-title" },
      h("h2", { id: "headline-title", text: "Verdict" }),
      h("p", { class: "verdict", id: "report-verdict" }, verdictBadge(report.verdict)),
      h("dl", { class: "facts" },
        h("dt", { text: "Claimed" }), h("dd", { text: fmtNumber(report.claimed) }),
        h("dt", { text: "Observed" }), h("dd", { id: "report-observed", text: fmtNumber(report.observed) }),
        h("dt", { text: "Gap" }), h("dd", { text: fmtPercent(report.gap_percent) }),
        report.document_sha256 ? [h("dt", { text: "Document" }), h("dd", { class: "mono", text: `sha256 ${report.document_sha256}` })] : null,
      ),
      h("div", { class: "actions" },
        actionButton("Download report (JSON)", "report-json", async () => downloadJson(report, `${report.paper}-report.json`), page, { kind: "secondary" }),
      ),
    ),
    rows.length ? h("section", { class: "card", "aria-labelledby": "chart-title" }, h("h2", { id: "chart-title", text: "Claimed vs observed" }), claimedVsObservedChart(rows)) : null,
    h("section", { "aria-labelledby": "claims-title" },
      h("h2", { id: "claims-title", text: "Claims" }),
      report.claims.length ? report.claims.map((section) => claimSection(report, section, page)) : h("p", { class: "muted", text: "No claims." }),
    ),
  );
}
