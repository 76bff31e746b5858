// Kid mode: a claim and our check of it as a picture book. The pictures are drawn here as small
// SVG scenes chosen from each page's visual hint (no image service, works offline), and every one
// carries the page's alt text.

import { api } from "../api.js";
import { h } from "../dom.js";

const SCENES = [
  [/flower|iris|petal|plant/i, flower],
  [/score|bar|chart|number|grade/i, bars],
  [/computer|robot|machine|model|learn/i, robot],
  [/quiz|test|check|question/i, quiz],
];

function svgData(body) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 200"><rect width="320" height="200" rx="16" fill="#fef9c3"/>${body}</svg>`;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

function flower() {
  const petals = [0, 72, 144, 216, 288]
    .map((a) => `<ellipse cx="160" cy="70" rx="18" ry="34" fill="#a78bfa" transform="rotate(${a} 160 100)"/>`)
    .join("");
  return `<rect x="156" y="110" width="8" height="80" fill="#16a34a"/>${petals}<circle cx="160" cy="100" r="16" fill="#facc15"/>`;
}

function bars() {
  return `<rect x="80" y="60" width="60" height="120" rx="6" fill="#2563eb"/><rect x="180" y="50" width="60" height="130" rx="6" fill="#f97316"/><line x1="60" y1="180" x2="260" y2="180" stroke="#334155" stroke-width="4"/>`;
}

function robot() {
  return `<rect x="110" y="50" width="100" height="80" rx="14" fill="#94a3b8"/><circle cx="140" cy="88" r="10" fill="#fff"/><circle cx="180" cy="88" r="10" fill="#fff"/><rect x="140" y="110" width="40" height="8" rx="4" fill="#334155"/><rect x="125" y="135" width="70" height="50" rx="10" fill="#64748b"/><line x1="160" y1="50" x2="160" y2="30" stroke="#334155" stroke-width="4"/><circle cx="160" cy="26" r="6" fill="#ef4444"/>`;
}

function quiz() {
  return `<rect x="100" y="30" width="120" height="150" rx="8" fill="#fff" stroke="#334155" stroke-width="3"/><path d="M120 70 l10 10 l20 -20" stroke="#16a34a" stroke-width="6" fill="none"/><path d="M120 120 l10 10 l20 -20" stroke="#16a34a" stroke-width="6" fill="none"/><line x1="160" y1="75" x2="200" y2="75" stroke="#94a3b8" stroke-width="6"/><line x1="160" y1="125" x2="200" y2="125" stroke="#94a3b8" stroke-width="6"/>`;
}

function book() {
  return `<path d="M60 50 q50 -20 100 0 v120 q-50 -20 -100 0z" fill="#60a5fa"/><path d="M160 50 q50 -20 100 0 v120 q-50 -20 -100 0z" fill="#93c5fd"/><line x1="160" y1="50" x2="160" y2="170" stroke="#1e3a8a" stroke-width="3"/>`;
}

export function pictureFor(storyPage) {
  const hint = `${storyPage.visual_hint} ${storyPage.title}`;
  const scene = SCENES.find(([pattern]) => pattern.test(hint));
  return svgData((scene ? scene[1] : book)());
}

export async function render(main, { name, query }, page) {
  const claim = query.get("claim");
  main.append(h("h1", { text: "Storybook" }), h("p", { class: "muted", id: "story-loading", text: "Writing the story…" }));
  const body = { paper: name };
  if (claim) body.claim_id = claim;
  const book = await api.post("/explain/kid", body);
  if (!page.active) return;
  main.querySelector("#story-loading").remove();
  main.querySelector("h1").textContent = book.title;
  main.append(
    h("p", { class: "muted", text: `Reading level: grade ${book.grade_level.toFixed(1)} · written by the ${book.provider} writer · ` },
      h("a", { href: `#/papers/${name}/report`, text: "back to the report" }),
    ),
    h("ol", { class: "story" }, book.pages.map((p, i) =>
      h("li", { class: "story-page card" },
        h("img", { src: pictureFor(p), alt: p.alt_text, width: "320", height: "200" }),
        h("div", {},
          h("h2", { text: `${i + 1}. ${p.title}` }),
          h("p", { class: "story-text", text: p.body }),
        ),
      ),
    )),
    h("section", { class: "card", "aria-labelledby": "glossary-title" },
      h("h2", { id: "glossary-title", text: "Words to know" }),
      h("dl", { class: "glossary" }, book.glossary.map((g) => [h("dt", { text: g.term }), h("dd", { text: g.meaning })])),
    ),
  );
}
