// The live log pane. A run may print tens of megabytes, so the pane keeps a bounded ring of the
// newest lines: lines arriving between two frames are queued (the queue is capped too), and once
// per animation frame the batch is appended in one DocumentFragment and the oldest rows removed.
// The DOM never holds more than `maxLines` rows, whatever the size of the log.

import { h } from "./dom.js";

export class LogPane {
  constructor({ maxLines = 2000, label = "Run log" } = {}) {
    this.maxLines = maxLines;
    this.pending = [];
    this.total = 0;
    this.follow = true;
    this.scheduled = false;
    this.list = h("ol", { class: "log-lines", "aria-label": label });
    this.viewport = h("div", { class: "log-viewport", tabindex: "0", role: "log", "aria-live": "off", "aria-label": label }, this.list);
    this.counter = h("span", { class: "muted log-counter", text: "0 lines" });
    const followBox = h("input", {
      type: "checkbox",
      id: "log-follow",
      checked: true,
      onchange: (event) => {
        this.follow = event.target.checked;
        if (this.follow) this.scrollToEnd();
      },
    });
    this.followBox = followBox;
    this.element = h(
      "section",
      { class: "log-pane", "aria-labelledby": "log-title" },
      h(
        "div",
        { class: "log-toolbar" },
        h("h2", { id: "log-title", text: "Log" }),
        this.counter,
        h("label", { class: "inline", for: "log-follow" }, followBox, " Follow the end"),
        h("button", { type: "button", class: "secondary", onclick: () => this.clear(), text: "Clear" }),
      ),
      this.viewport,
    );
  }

  push(text, kind = "stdout") {
    this.total += 1;
    this.pending.push([text, kind]);
    // Lines that could never be shown are dropped before they cost any DOM work.
    if (this.pending.length > this.maxLines * 2) this.pending.splice(0, this.pending.length - this.maxLines);
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.scheduled = false;
    let batch = this.pending;
    this.pending = [];
    if (batch.length > this.maxLines) batch = batch.slice(batch.length - this.maxLines);
    const fragment = document.createDocumentFragment();
    for (const [text, kind] of batch) {
      fragment.append(h("li", { class: kind === "stdout" ? null : `log-${kind}`, text }));
    }
    this.list.append(fragment);
    let excess = this.list.childElementCount - this.maxLines;
    while (excess-- > 0) this.list.firstElementChild.remove();
    const shown = this.list.childElementCount;
    this.counter.textContent =
      shown < this.total
        ? `${this.total.toLocaleString("en-US")} lines (showing the last ${shown.toLocaleString("en-US")})`
        : `${this.total.toLocaleString("en-US")} lines`;
    if (this.follow) this.scrollToEnd();
  }

  scrollToEnd() {
    this.viewport.scrollTop = this.viewport.scrollHeight;
  }

  clear() {
    this.pending = [];
    this.list.replaceChildren();
    this.counter.textContent = `${this.total.toLocaleString("en-US")} lines (cleared)`;
  }
}
