// Server-sent events over fetch(), because EventSource cannot send an Authorization header and a
// token in the URL would end up in access logs. It behaves like EventSource: it parses the
// text/event-stream format, remembers the last event id, honours `retry:` and reconnects with
// `Last-Event-ID` so the server resumes after the last event seen, with no gap and no duplicate.
// A run's stream ends after its terminal stage; then the client stops instead of reconnecting.

import { authHeaders, url } from "./api.js";

const TERMINAL_STAGES = new Set(["run_complete", "run_error", "run_cancelled"]);
// Parsing a large backlog must not freeze the page: hand control back to the browser this often.
const SLICE_MS = 12;
const NO_RETRY_STATUSES = new Set([400, 401, 403, 404, 422]);

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

export class RunEventStream {
  // onEvent({id, event, data}) for every event; onState(state, detail) with state one of
  // "connecting", "open", "reconnecting", "ended", "failed".
  constructor(path, { onEvent, onState = () => {}, retryMs = 3000 } = {}) {
    this.path = path;
    this.onEvent = onEvent;
    this.onState = onState;
    this.retryMs = retryMs;
    this.lastEventId = "";
    this.lastSeq = -1;
    this.finished = false;
    this.closed = false;
    this.controller = null;
  }

  start() {
    this.loop();
    return this;
  }

  close() {
    this.closed = true;
    if (this.controller) this.controller.abort();
  }

  async loop() {
    while (!this.closed && !this.finished) {
      this.onState(this.lastEventId ? "reconnecting" : "connecting");
      try {
        await this.connectOnce();
      } catch (error) {
        if (this.closed) return;
        if (error && error.permanent) {
          this.onState("failed", error.message);
          return;
        }
      }
      if (this.closed) return;
      if (this.finished) break;
      this.onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, this.retryMs));
    }
    if (!this.closed) this.onState("ended");
  }

  async connectOnce() {
    this.controller = new AbortController();
    const headers = authHeaders({ Accept: "text/event-stream" });
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    const response = await fetch(url(this.path), { headers, signal: this.controller.signal, cache: "no-store" });
    if (!response.ok) {
      const error = new Error(`event stream refused: HTTP ${response.status}`);
      error.permanent = NO_RETRY_STATUSES.has(response.status);
      throw error;
    }
    this.onState("open");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new Parser((frame) => this.dispatch(frame), (ms) => (this.retryMs = ms));
    let sliceStart = performance.now();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.closed) break;
      parser.feed(value);
      if (this.finished) {
        reader.cancel().catch(() => {});
        break;
      }
      if (performance.now() - sliceStart > SLICE_MS) {
        await nextTask();
        sliceStart = performance.now();
      }
    }
    parser.end();
  }

  dispatch({ id, event, data }) {
    if (id !== null) this.lastEventId = id;
    const seq = Number(id);
    if (id !== null && Number.isInteger(seq)) {
      if (seq <= this.lastSeq) return;
      this.lastSeq = seq;
    }
    let payload = data;
    try {
      payload = JSON.parse(data);
    } catch {
      payload = data;
    }
    if (event === "stage_update" && payload && TERMINAL_STAGES.has(payload.stage)) this.finished = true;
    this.onEvent({ id: id === null ? null : seq, event, data: payload });
  }
}

// The text/event-stream grammar (WHATWG HTML, "Interpreting an event stream").
export class Parser {
  constructor(onFrame, onRetry = () => {}) {
    this.onFrame = onFrame;
    this.onRetry = onRetry;
    this.rest = "";
    this.resetFrame();
  }

  resetFrame() {
    this.event = "";
    this.data = [];
    this.id = null;
  }

  feed(text) {
    const chunk = this.rest + text;
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf("\n", start);
      if (newline < 0) break;
      let end = newline;
      if (end > start && chunk.charCodeAt(end - 1) === 13) end -= 1;
      this.line(chunk.slice(start, end));
      start = newline + 1;
    }
    this.rest = chunk.slice(start);
  }

  end() {
    // An unterminated last frame is discarded, as EventSource does.
    this.rest = "";
    this.resetFrame();
  }

  line(line) {
    if (line === "") {
      if (this.data.length) this.onFrame({ id: this.id, event: this.event || "message", data: this.data.join("\n") });
      this.resetFrame();
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" starts a comment (heartbeat).
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}
