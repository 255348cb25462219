// The /editor page: a CodeMirror 6 YAML editor driven by carepath's JSON Schemas
// (completion of keys and enum values, hover, inline schema errors) and, on every change,
// by the server's compiler (POST /editor/api/compile), whose located problems are
// underlined where she typed, with their message and hint.
//
// The page gives everything through the DOM: #editor's data-* attributes (kind, file name,
// URLs, byte limit), the source in <script type="application/json" id="editor-source"> and
// the UI strings in #editor-messages. Nothing the author typed ever goes through innerHTML.
import "./editor.css";
import { EditorView, basicSetup } from "codemirror";
import { Compartment, EditorState } from "@codemirror/state";
import { hoverTooltip, keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { yaml, yamlLanguage } from "@codemirror/lang-yaml";
import { linter, lintGutter, forceLinting } from "@codemirror/lint";
import { stateExtensions, updateSchema, handleRefresh } from "codemirror-json-schema";
import { yamlCompletion, yamlSchemaHover, yamlSchemaLinter } from "codemirror-json-schema/yaml";
import { attachWorkflow } from "./workflow.js";
import { attachPreview } from "./preview.js";

const LINT_DELAY_MS = 150;
// how long a read-only item waits after a change (a loaded version) before its preview
const PREVIEW_DELAY_MS = 300;

function readJson(id, fallback) {
  const node = document.getElementById(id);
  if (!node) return fallback;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return fallback;
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : null;
}

// The server counts columns in characters (code points); CodeMirror in UTF-16 units.
function offsetIn(line, column) {
  let units = 0;
  let seen = 1;
  for (const ch of line.text) {
    if (seen >= column) break;
    units += ch.length;
    seen += 1;
  }
  return line.from + Math.min(units, line.length);
}

function toCodeMirror(doc, d, t) {
  const lineNo = Math.min(Math.max(d.line || 1, 1), doc.lines);
  const line = doc.line(lineNo);
  let from = offsetIn(line, d.col || 1);
  const endLine = doc.line(Math.min(Math.max(d.end_line || lineNo, lineNo), doc.lines));
  let to = d.end_col ? offsetIn(endLine, d.end_col) : line.to;
  if (to <= from) {
    // a point at the end of a line: underline its last character so it can be seen
    to = Math.min(from + 1, line.to);
    if (to <= from && from > line.from) from -= 1;
  }
  return {
    from,
    to: Math.max(to, from),
    severity: d.severity === "warning" ? "warning" : "error",
    message: d.hint ? `${d.message} — ${t.hint}: ${d.hint}` : d.message,
    renderMessage: () => renderDiagnostic(d, t),
  };
}

function renderDiagnostic(d, t) {
  const box = document.createElement("div");
  box.className = "cp-diagnostic";
  const code = document.createElement("code");
  code.textContent = d.code;
  const message = document.createElement("span");
  message.className = "cp-message";
  message.textContent = ` ${d.message}`;
  box.append(code, message);
  if (d.hint) {
    const hint = document.createElement("div");
    hint.className = "cp-hint";
    hint.textContent = `${t.hint}: ${d.hint}`;
    box.append(hint);
  }
  return box;
}

function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

function start() {
  const root = document.getElementById("editor");
  if (!root) return;
  const t = readJson("editor-messages", {});
  const source = readJson("editor-source", "");
  const { kind, file, compileUrl, renderUrl, schemaUrl } = root.dataset;
  // a content item's check is its preview's request too: POST /editor/api/render answers
  // with the same diagnostics as /compile, plus what she would read
  const previewPanel = document.getElementById("content-preview");
  const preview = kind === "content" && renderUrl && previewPanel ? attachPreview(previewPanel, t) : null;
  const maxBytes = Number(root.dataset.maxBytes || 1000000);
  const status = document.getElementById("editor-status");
  const setStatus = (text, state) => {
    if (!status) return;
    status.textContent = text;
    status.dataset.state = state;
  };

  const schemaLint = kind === "pathway" || kind === "form" ? yamlSchemaLinter() : null;
  let generation = 0;

  // Schema completion parses the whole buffer and walks the schema on the main thread (a
  // 300-line pathway: a few hundred milliseconds on a busy PC). Run after a keystroke, it
  // would hold up the compile request behind it, so it waits until the check of that
  // keystroke has been drawn (at most a second).
  let checked = Promise.resolve();
  let markChecked = () => undefined;
  const awaitingCheck = EditorView.updateListener.of((update) => {
    if (!update.docChanged) return;
    markChecked();
    checked = new Promise((resolve) => {
      markChecked = resolve;
      setTimeout(resolve, 1000);
    });
  });
  const completeAfterCheck = (source) => async (context) => {
    await checked;
    if (context.aborted) return null;
    return source(context);
  };

  const tooLarge = (bytes) => ({
    line: 1,
    col: 1,
    end_col: 2,
    severity: "error",
    code: "file-too-large",
    message: `${bytes.toLocaleString("en")} bytes; the limit is ${maxBytes.toLocaleString("en")}`,
    hint: t.tooLargeHint,
  });

  async function serverDiagnostics(text) {
    const bytes = utf8Length(text);
    // never sent: the server would refuse it the same way, after a long upload
    if (bytes > maxBytes) return { ok: true, diagnostics: [tooLarge(bytes)], preview: null };
    const headers = {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-Requested-With": "fetch",
    };
    const token = csrfToken();
    if (token) headers["X-CSRFToken"] = token;
    try {
      const response = await fetch(preview ? renderUrl : compileUrl, {
        method: "POST",
        headers,
        credentials: "same-origin",
        body: JSON.stringify({ kind, text, path: file || null }),
      });
      if (response.status === 413) return { ok: true, diagnostics: [tooLarge(bytes)], preview: null };
      if (response.status === 401 || response.redirected) {
        return { ok: false, reason: t.sessionExpired };
      }
      if (!response.ok) return { ok: false, reason: `${t.serverError} (${response.status})` };
      const body = await response.json();
      return {
        ok: true,
        diagnostics: body.diagnostics || [],
        // the server lists at most 200 problems; these count all of them
        more: body.more || 0,
        errors: body.errors || 0,
        warnings: body.warnings || 0,
        preview: body.preview || null,
      };
    } catch {
      return { ok: false, reason: t.offline };
    }
  }

  async function lint(view) {
    const mine = ++generation;
    const doc = view.state.doc;
    const text = doc.toString();
    setStatus(t.checking, "checking");
    const started = performance.now();
    const server = await serverDiagnostics(text);
    root.dataset.serverMs = String(Math.round(performance.now() - started));
    // The server validates against the same schema (draft 2020-12, with carepath's codes)
    // and compiles; codemirror-json-schema's in-browser check (draft 4 rules, 60-300 ms for
    // 300 lines) would only repeat it, late. It speaks when the server cannot: offline, or
    // a session that ended while she typed.
    let local = [];
    if (schemaLint && !server.ok) {
      try {
        local = schemaLint(view).map((d) => ({ ...d, source: "schema" }));
      } catch {
        local = [];
      }
    }
    const fromServer = server.ok ? server.diagnostics.map((d) => toCodeMirror(doc, d, t)) : [];
    // the server's schema pass reports the same mistakes; keep its located, coded one
    const serverLines = new Set(fromServer.map((d) => doc.lineAt(d.from).number));
    const merged = fromServer.concat(local.filter((d) => !serverLines.has(doc.lineAt(d.from).number)));
    if (mine === generation) {
      if (preview) preview.show(server);
      const listed = merged.filter((d) => d.severity === "error").length;
      const more = server.ok ? server.more : 0;
      const errors = more ? server.errors : listed;
      const warnings = more ? server.warnings : merged.length - listed;
      const elapsed = Math.round(performance.now() - started);
      root.dataset.lastCheckMs = String(elapsed);
      if (!server.ok) setStatus(server.reason, "offline");
      else if (merged.length === 0) setStatus(t.clean, "clean");
      else {
        const counts = t.problems.replace("%(errors)s", errors).replace("%(warnings)s", warnings);
        const unlisted = more ? ` ${String(t.andMore || "").replace("%(count)s", more)}` : "";
        setStatus(counts + unlisted, "problems");
      }
      // resolved once CodeMirror has drawn these diagnostics (the next frame)
      const done = markChecked;
      requestAnimationFrame(() => done());
    }
    return merged.sort((a, b) => a.from - b.from || a.to - b.to);
  }

  const readOnly = root.dataset.readonly === "true";
  const readOnlyMode = new Compartment();
  const extensions = [
    basicSetup,
    readOnlyMode.of(EditorState.readOnly.of(readOnly)),
    EditorView.updateListener.of((update) => {
      if (update.docChanged && window.carepathEditor.onChange) window.carepathEditor.onChange();
    }),
    keymap.of([indentWithTab]),
    EditorView.lineWrapping,
    EditorState.tabSize.of(2),
    lintGutter(),
    EditorView.contentAttributes.of({ "aria-label": t.editorLabel || "editor", lang: "zh-CN" }),
  ];
  if (readOnly) {
    if (kind === "pathway" || kind === "form") extensions.push(yaml());
  } else if (kind === "pathway" || kind === "form") {
    extensions.push(
      linter(lint, { delay: LINT_DELAY_MS, needsRefresh: handleRefresh }),
      yaml(),
      awaitingCheck,
      yamlLanguage.data.of({ autocomplete: completeAfterCheck(yamlCompletion()) }),
      hoverTooltip(yamlSchemaHover()),
      stateExtensions(undefined),
    );
  } else {
    // an item's Markdown body around YAML front matter: the server's lint checks it all
    extensions.push(linter(lint, { delay: LINT_DELAY_MS }));
  }

  if (preview && readOnly) {
    // no lint runs on a read-only item: ask for its preview on opening and when the text is
    // replaced (a version loaded into the editor)
    let timer = null;
    let asked = 0;
    const refresh = async (text) => {
      const mine = ++asked;
      const answer = await serverDiagnostics(text);
      if (mine === asked) preview.show(answer);
    };
    extensions.push(
      EditorView.updateListener.of((update) => {
        if (!update.docChanged) return;
        clearTimeout(timer);
        timer = setTimeout(() => refresh(update.state.doc.toString()), PREVIEW_DELAY_MS);
      }),
    );
    refresh(source);
  }

  const view = new EditorView({
    parent: root,
    state: EditorState.create({ doc: source, extensions }),
  });
  window.carepathEditor = { view };
  attachWorkflow({
    view,
    root,
    t,
    setReadOnly: (on) => view.dispatch({ effects: readOnlyMode.reconfigure(EditorState.readOnly.of(on)) }),
    recheck: () => forceLinting(view),
  });

  if (schemaUrl && !readOnly) {
    fetch(schemaUrl, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((schema) => {
        if (schema) updateSchema(view, schema);
        forceLinting(view);
      })
      .catch(() => undefined);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
