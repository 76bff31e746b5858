// All runs of the namespace with their live status.

import { api } from "../api.js";
import { fmtNumber, fmtPercent, fmtTime, h, liveRegion, table } from "../dom.js";
import { phaseBadge, reasonText, verdictBadge } from "./common.js";

export async function render(main, _params, page) {
  const region = h("div", { "aria-live": "polite" });
  const update = liveRegion(region, (runs) =>
    table(
      "Runs",
      [
        ["Run", (r) => h("a", { href: `#/runs/${r.name}`, "data-key": `run:${r.name}`, text: r.name })],
        ["Plan", (r) => r.plan],
        ["Seed", (r) => String(r.seed)],
        ["Phase", (r) => [phaseBadge(r.phase), " ", h("span", { class: "muted", text: reasonText(r) })]],
        ["Progress", (r) => h("progress", { max: "100", value: String(r.progress ?? 0), "aria-label": `Progress of ${r.name}` })],
        ["Observed", (r) => fmtNumber(r.observed)],
        ["Gap", (r) => fmtPercent(r.gap_percent)],
        ["Verdict", (r) => verdictBadge(r.verdict)],
        ["Started", (r) => fmtTime(r.started_at)],
      ],
      [...runs].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))),
      "No runs yet: approve a plan and run it.",
    ),
  );
  const load = async () => update((await api.get("/runs")).items);
  main.append(h("h1", { text: "Runs" }), region);
  page.poll(load, 2000);
}
