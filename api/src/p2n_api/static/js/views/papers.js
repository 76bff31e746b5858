// Papers: the list (live phases) and the form that creates a paper from text, a URL or an upload.

import { api } from "../api.js";
import { fmtTime, h, liveRegion, table } from "../dom.js";
import { actionButton, phaseBadge, reasonText } from "./common.js";

function createForm(page, refresh) {
  const kind = h("select", { id: "paper-source", name: "source" },
    h("option", { value: "text", text: "Paste text or markdown" }),
    h("option", { value: "url", text: "From a URL (http, https, s3)" }),
    h("option", { value: "file", text: "Upload a file (PDF, text, markdown)" }),
  );
  const text = h("textarea", { id: "paper-text", name: "text", rows: "8" });
  const link = h("input", { id: "paper-url", name: "url", type: "url", placeholder: "https://example.org/paper.pdf" });
  const file = h("input", { id: "paper-file", name: "file", type: "file", accept: ".pdf,.txt,.md,.markdown,application/pdf,text/plain,text/markdown" });
  const fields = {
    text: h("div", { class: "field" }, h("label", { for: "paper-text", text: "Paper text" }), text),
    url: h("div", { class: "field", hidden: true }, h("label", { for: "paper-url", text: "URL" }), link),
    file: h("div", { class: "field", hidden: true }, h("label", { for: "paper-file", text: "File" }), file),
  };
  kind.addEventListener("change", () => {
    for (const [key, field] of Object.entries(fields)) field.hidden = key !== kind.value;
  });
  const name = h("input", { id: "paper-name", name: "name", type: "text", pattern: "[a-z0-9]([\\-a-z0-9]*[a-z0-9])?", maxlength: "63", placeholder: "generated when empty" });
  const title = h("input", { id: "paper-title", name: "title", type: "text", maxlength: "512" });
  const provider = h("select", { id: "paper-provider", name: "provider" },
    ["auto", "offline", "openai"].map((value) => h("option", { value, text: value })),
  );
  const status = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-paper-title" },
    h("h2", { id: "create-paper-title", text: "Add a paper" }),
    h("div", { class: "grid" },
      h("div", { class: "field" }, h("label", { for: "paper-name", text: "Name" }), name),
      h("div", { class: "field" }, h("label", { for: "paper-title", text: "Title (optional)" }), title),
      h("div", { class: "field" }, h("label", { for: "paper-source", text: "Source" }), kind),
      h("div", { class: "field" }, h("label", { for: "paper-provider", text: "Claim extraction" }), provider),
    ),
    fields.text, fields.url, fields.file,
    status,
    h("div", { class: "actions" }, h("button", { type: "submit", id: "paper-create", text: "Add paper" })),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      let created;
      if (kind.value === "file") {
        if (!file.files.length) throw new Error("Choose a file to upload.");
        const data = new FormData();
        data.append("file", file.files[0]);
        if (name.value) data.append("name", name.value);
        if (title.value) data.append("title", title.value);
        created = await api.postForm("/papers/upload", data);
      } else {
        const body = { extraction: { provider: provider.value } };
        if (name.value) body.name = name.value;
        if (title.value) body.title = title.value;
        if (kind.value === "url") body.url = link.value;
        else body.text = text.value;
        created = await api.post("/papers", body);
      }
      page.toast(`Paper ${created.name} added`);
      form.reset();
      kind.dispatchEvent(new Event("change"));
      refresh();
      window.location.hash = `#/papers/${created.name}`;
    } catch (error) {
      status.textContent = `${error.code || "Error"}: ${error.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function render(main, _params, page) {
  const region = h("div", { "aria-live": "polite" });
  const update = liveRegion(region, (items) =>
    table(
      "Papers",
      [
        ["Name", (p) => h("a", { href: `#/papers/${p.name}`, "data-key": `open:${p.name}`, text: p.name })],
        ["Title", (p) => p.title || ""],
        ["Phase", (p) => [phaseBadge(p.phase), " ", h("span", { class: "muted", text: reasonText(p) })]],
        ["Claims", (p) => String(p.claim_count)],
        ["Added", (p) => fmtTime(p.created_at)],
        ["", (p) => [
          h("a", { href: `#/papers/${p.name}/report`, class: "button-link secondary", "data-key": `report:${p.name}`, text: "Report" }),
          actionButton("Delete", `delete:${p.name}`, async () => {
            if (!window.confirm(`Delete paper ${p.name}?`)) return;
            await api.delete(`/papers/${p.name}`);
            page.toast(`Paper ${p.name} deleted`);
            load();
          }, page, { kind: "danger" }),
        ]],
      ],
      items,
      "No papers yet: add one below.",
    ),
  );
  const load = async () => update((await api.get("/papers")).items);
  main.append(h("h1", { text: "Papers" }), region, createForm(page, load));
  page.poll(load, 3000);
}
