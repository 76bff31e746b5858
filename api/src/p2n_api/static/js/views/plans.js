// All plans of the namespace, with their approval and run buttons (the human in the loop).

import { api } from "../api.js";
import { fmtTime, h, liveRegion, table } from "../dom.js";
import { phaseBadge, planActions, planSummary } from "./common.js";

export async function render(main, _params, page) {
  const region = h("div", { "aria-live": "polite" });
  const update = liveRegion(region, (plans) =>
    table(
      "Plans",
      [
        ["Plan", (p) => h("code", { text: p.name })],
        ["Paper", (p) => h("a", { href: `#/papers/${p.paper}`, text: p.paper })],
        ["Claim", (p) => p.claim_id],
        ["Phase", (p) => [phaseBadge(p.phase), p.approved_by ? h("span", { class: "muted", text: ` approved by ${p.approved_by}` }) : null]],
        ["Summary", (p) => planSummary(p)],
        ["Created", (p) => fmtTime(p.created_at)],
        ["", (p) => planActions(p, page, { onChange: () => load() })],
      ],
      plans,
      "No plans yet: open a paper and plan one of its claims.",
    ),
  );
  const load = async () => update((await api.get("/plans")).items);
  main.append(h("h1", { text: "Plans" }), region);
  page.poll(load, 2000);
}
