// The dashboard shell: sign-in dialog, hash router, notifications and per-page timers.
// Each view is a module exporting `render(main, params, page)`; `page` carries what a view may
// use (toast, poll, onLeave) and everything it registers is stopped when the user navigates away.

import { session } from "./api.js";
import { h } from "./dom.js";
import * as papers from "./views/papers.js";
import * as paper from "./views/paper.js";
import * as plans from "./views/plans.js";
import * as runs from "./views/runs.js";
import * as run from "./views/run.js";
import * as report from "./views/report.js";
import * as story from "./views/story.js";

const ROUTES = [
  [/^#\/papers\/?$/, papers, "papers"],
  [/^#\/papers\/([a-z0-9-]+)\/report$/, report, "papers"],
  [/^#\/papers\/([a-z0-9-]+)\/story$/, story, "papers"],
  [/^#\/papers\/([a-z0-9-]+)$/, paper, "papers"],
  [/^#\/plans\/?$/, plans, "plans"],
  [/^#\/runs\/?$/, runs, "runs"],
  [/^#\/runs\/([a-z0-9-]+)$/, run, "runs"],
];

const main = document.getElementById("main");
const dialog = document.getElementById("login");
let current = null;

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const note = h("div", { class: `toast toast-${kind}`, text: message });
  box.append(note);
  setTimeout(() => note.remove(), kind === "error" ? 8000 : 4000);
}

class Page {
  constructor() {
    this.cleanups = [];
    this.active = true;
  }

  toast(message, kind) {
    if (this.active) toast(message, kind);
  }

  // Runs `fn` now and every `ms` while the page is shown, never two at a time.
  poll(fn, ms) {
    let timer = null;
    const tick = async () => {
      if (!this.active) return;
      try {
        const again = await fn();
        if (again === false) return;
      } catch (error) {
        this.toast(error.message, "error");
      }
      if (this.active) timer = setTimeout(tick, ms);
    };
    tick();
    this.onLeave(() => clearTimeout(timer));
  }

  onLeave(fn) {
    this.cleanups.push(fn);
  }

  leave() {
    this.active = false;
    this.cleanups.forEach((fn) => fn());
  }
}

function showSession() {
  const signedIn = Boolean(session.token);
  document.getElementById("sign-in").hidden = signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  document.getElementById("session-info").textContent = signedIn
    ? `namespace: ${session.namespace || "default"}`
    : "not signed in";
}

function askToken(message = "") {
  document.getElementById("login-error").textContent = message;
  document.getElementById("login-namespace").value = session.namespace;
  if (!dialog.open) dialog.showModal();
  document.getElementById("login-token").focus();
}

async function route() {
  if (current) current.leave();
  const hash = window.location.hash || "#/papers";
  if (!session.token) {
    main.replaceChildren(
      h("h1", { tabindex: "-1", text: "P2N dashboard" }),
      h("p", { text: "Sign in with your API token to see papers, plans and runs." }),
    );
    showSession();
    askToken();
    return;
  }
  const match = ROUTES.map(([pattern, view, nav]) => [hash.split("?")[0].match(pattern), view, nav]).find(([m]) => m);
  document.querySelectorAll("[data-nav]").forEach((link) => link.removeAttribute("aria-current"));
  const page = new Page();
  current = page;
  main.replaceChildren();
  if (!match) {
    main.append(h("h1", { tabindex: "-1", text: "Not found" }), h("p", {}, h("a", { href: "#/papers", text: "Back to papers" })));
    main.querySelector("h1").focus();
    return;
  }
  const [found, view, nav] = match;
  document.querySelector(`[data-nav="${nav}"]`)?.setAttribute("aria-current", "page");
  const query = new URLSearchParams(hash.split("?")[1] || "");
  try {
    await view.render(main, { name: found[1], query }, page);
  } catch (error) {
    if (!page.active) return;
    main.append(h("p", { class: "error", role: "alert", text: `${error.code || "Error"}: ${error.message}` }));
  }
  const heading = main.querySelector("h1");
  if (heading && page.active && !dialog.open) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
    document.title = `${heading.textContent} · P2N`;
  }
}

document.getElementById("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = document.getElementById("login-token").value.trim();
  const namespace = document.getElementById("login-namespace").value.trim();
  if (!token) return;
  // Closed before the page renders, so the dialog's focus restoration cannot undo the page's focus.
  dialog.close();
  session.save(token, namespace);
  document.getElementById("login-token").value = "";
  showSession();
  route();
});

// The skip link must not change the URL fragment, which is the router's.
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
document.getElementById("sign-in").addEventListener("click", () => askToken());
document.getElementById("sign-out").addEventListener("click", () => {
  session.clear();
  showSession();
  route();
});

let asking = false;
session.onUnauthorized(() => {
  if (asking) return;
  asking = true;
  session.clear();
  showSession();
  askToken("The token was not accepted (E_UNAUTHORIZED). Please sign in again.");
  dialog.addEventListener("close", () => (asking = false), { once: true });
});

window.addEventListener("hashchange", route);
showSession();
route();
