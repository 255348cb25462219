// Saving and submitting from the /editor page, through the drafts API (/editor/api/):
//
//   Save (button, Ctrl/Cmd-S): open the draft if there is none (POST documents/<kind>/<name>/draft),
//   then PUT versions/<id>/source with the revision she started from. A stale save (409
//   draft-conflict) names who saved and when and keeps her text: in the editor, in a box
//   below it once she loads theirs, and in this browser's localStorage.
//   Submit for review: saves first, then POST versions/<id>/submit; a 422 not-compiled lists
//   the located errors (the linter has underlined them already).
//
// Her unsaved text is kept in localStorage under the page's data-storage-key (staff, kind,
// name) on every change, restored when she opens the file again (a session that ended while
// she typed, a closed tab), and cleared once the server has it. Nothing she typed is ever
// put through innerHTML.

const STORE_DELAY_MS = 300;

function format(template, values) {
  return String(template || "").replace(/%\((\w+)\)s/g, (_, key) => (key in values ? String(values[key]) : ""));
}

function localTime(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso || "";
  return when.toLocaleString("zh-CN", { hour12: false });
}

function readStored(key) {
  try {
    const raw = window.localStorage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function writeStored(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // a full or disabled storage: the text is still in the editor
  }
}

// A fresh CSRF token after she logged in again (a new session has a new token): the
// editor page's own <meta>, fetched, never evaluated.
async function freshToken() {
  const response = await fetch(window.location.href, { credentials: "same-origin" });
  if (!response.ok || response.redirected) return null;
  const html = await response.text();
  const parsed = new DOMParser().parseFromString(html, "text/html");
  const meta = parsed.querySelector('meta[name="csrf-token"]');
  const token = meta ? meta.getAttribute("content") : null;
  const mine = document.querySelector('meta[name="csrf-token"]');
  if (token && mine) mine.setAttribute("content", token);
  return token;
}

async function call(method, url, body) {
  const send = () => {
    const headers = { Accept: "application/json", "X-Requested-With": "fetch" };
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) headers["X-CSRFToken"] = meta.getAttribute("content");
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  };
  let response = await send();
  let payload = await response.json().catch(() => ({}));
  if (response.status === 400 && payload.code === "csrf-failed" && (await freshToken())) {
    response = await send();
    payload = await response.json().catch(() => ({}));
  }
  return { status: response.status, redirected: response.redirected, body: payload };
}

export function attachWorkflow({ view, root, t, setReadOnly, recheck }) {
  const ids = (id) => document.getElementById(id);
  const saveButton = ids("save");
  const submitButton = ids("submit-review");
  const saveState = ids("save-state");
  const notice = ids("editor-notice");
  const noticeText = ids("editor-notice-text");
  const noticeList = ids("editor-notice-list");
  const conflictActions = ids("conflict-actions");
  const kept = ids("kept-text");
  const badge = ids("document-status");
  const reviewLink = ids("review-link");
  const key = root.dataset.storageKey;

  const state = {
    versionId: root.dataset.versionId ? Number(root.dataset.versionId) : null,
    revision: root.dataset.revision ? Number(root.dataset.revision) : null,
    status: root.dataset.status,
    saved: view.state.doc.toString(), // what the server has (or the text she opened)
    busy: false,
    conflict: null,
  };
  window.carepathEditor.workflow = state;

  const setSaveState = (text, kind) => {
    if (!saveState) return;
    saveState.textContent = text;
    saveState.dataset.state = kind;
  };
  const showNotice = (text, kind, items = []) => {
    notice.hidden = false;
    notice.dataset.kind = kind;
    noticeText.textContent = text;
    noticeList.replaceChildren(
      ...items.map((item) => {
        const li = document.createElement("li");
        li.textContent = item;
        return li;
      }),
    );
    conflictActions.hidden = kind !== "conflict";
  };
  const hideNotice = () => {
    notice.hidden = true;
    conflictActions.hidden = true;
  };
  const setStatus = (status) => {
    state.status = status;
    root.dataset.status = status;
    if (badge) {
      badge.dataset.status = status;
      badge.textContent = (t.statuses && t.statuses[status]) || status;
    }
    const current = document.querySelector(`.cp-library a[aria-current="page"] .cp-status`);
    if (current) {
      current.dataset.status = status;
      current.textContent = badge ? badge.textContent : status;
    }
  };

  const text = () => view.state.doc.toString();
  const remember = () => {
    const now = text();
    if (now === state.saved) writeStored(key, null);
    else writeStored(key, { text: now, versionId: state.versionId, revision: state.revision, at: Date.now() });
  };
  let storeTimer = null;
  const dirty = () => text() !== state.saved;

  // the text she had not saved when she last had this file open (session ended, tab closed)
  const stored = key ? readStored(key) : null;
  if (stored && typeof stored.text === "string" && stored.text !== state.saved && state.status !== "in_review" && saveButton) {
    // her base is the revision she had then: a save over anything newer is a conflict
    // (refused by the server, her text kept), never a silent overwrite
    if (state.versionId !== null) state.revision = stored.versionId === state.versionId ? stored.revision : -1;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: stored.text } });
    showNotice(t.restored, "info");
    setSaveState(t.unsaved, "dirty");
  } else if (stored && stored.text === state.saved) {
    writeStored(key, null);
  }

  window.carepathEditor.onChange = () => {
    if (!key) return;
    setSaveState(dirty() ? t.unsaved : "", dirty() ? "dirty" : "clean");
    clearTimeout(storeTimer);
    storeTimer = setTimeout(remember, STORE_DELAY_MS);
  };

  const failed = (result) => {
    if (result.status === 401 || result.redirected) {
      showNotice(t.saveExpired, "expired");
      setSaveState(t.unsaved, "dirty");
      return;
    }
    const reason = result.body && (result.body.detail || result.body.title || result.body.code);
    showNotice(format(t.saveFailed, { reason: reason || result.status }), "error");
  };

  const conflict = (who, when, revision) => {
    state.conflict = { revision };
    remember();
    kept.value = text();
    showNotice(format(t.conflict, { name: who || "?", time: localTime(when) }), "conflict");
    setSaveState(t.unsaved, "dirty");
  };

  async function openDraft() {
    const opened = await call("POST", root.dataset.draftUrl);
    if (opened.status !== 200 && opened.status !== 201) return { ok: false, result: opened };
    const draft = opened.body;
    const wasOurs = state.versionId === draft.id;
    state.versionId = draft.id;
    remember();
    // an existing draft that someone else changed after she opened the file
    if (opened.status === 200 && !wasOurs && draft.source !== state.saved) {
      conflict(draft.saved_by && draft.saved_by.name, draft.saved_at, draft.revision);
      return { ok: false, handled: true };
    }
    if (!wasOurs || state.revision === null) state.revision = draft.revision;
    setStatus("draft");
    return { ok: true };
  }

  async function save({ overwrite = false } = {}) {
    if (state.busy || view.state.readOnly) return false;
    state.busy = true;
    setSaveState(t.saving, "saving");
    try {
      if (state.versionId === null) {
        const opened = await openDraft();
        if (!opened.ok) {
          if (!opened.handled) failed(opened.result);
          return false;
        }
      }
      if (overwrite && state.conflict) state.revision = state.conflict.revision;
      const sent = text();
      const result = await call("PUT", `${root.dataset.versionsUrl}/${state.versionId}/source`, {
        source: sent,
        base_revision: state.revision,
      });
      if (result.status === 200) {
        state.revision = result.body.revision;
        state.saved = sent;
        state.conflict = null;
        hideNotice();
        kept.hidden = true;
        remember(); // clears the kept copy unless she typed while it was saving
        setSaveState(format(t.saved, { time: localTime(result.body.saved_at) }), dirty() ? "dirty" : "saved");
        root.dataset.saves = String(Number(root.dataset.saves || 0) + 1);
        return true;
      }
      if (result.status === 409 && result.body.code === "draft-conflict") {
        conflict(result.body.saved_by, result.body.saved_at, result.body.current_revision);
        return false;
      }
      failed(result);
      return false;
    } catch {
      remember();
      showNotice(t.offlineSave, "error");
      return false;
    } finally {
      state.busy = false;
    }
  }

  async function submit() {
    if (view.state.readOnly) return;
    if (dirty() || state.versionId === null) {
      if (!(await save())) return;
    }
    state.busy = true;
    setSaveState(t.submitting, "saving");
    try {
      const result = await call("POST", `${root.dataset.versionsUrl}/${state.versionId}/submit`, {});
      if (result.status === 200) {
        setStatus("in_review");
        setReadOnly(true);
        saveButton.disabled = true;
        submitButton.disabled = true;
        reviewLink.href = `${root.dataset.reviewUrl}/${state.versionId}`;
        reviewLink.hidden = false;
        showNotice(t.submitted, "ok");
        setSaveState(t.inReview, "review");
        writeStored(key, null);
        return;
      }
      if (result.status === 422 && result.body.code === "not-compiled") {
        const items = (result.body.errors || []).map((e) =>
          e.line ? `${format(t.atLine, { line: e.line })}: ${e.message} (${e.code})` : `${e.message} (${e.code})`,
        );
        // the server lists at most 200 of them
        if (result.body.more) items.push(format(t.andMore, { count: result.body.more }));
        showNotice(t.notCompiled, "error", items);
        setSaveState("", "clean");
        recheck();
        return;
      }
      failed(result);
    } catch {
      showNotice(t.offlineSave, "error");
    } finally {
      state.busy = false;
    }
  }

  async function loadTheirs() {
    if (state.versionId === null) return;
    const result = await call("GET", `${root.dataset.versionsUrl}/${state.versionId}`);
    if (result.status !== 200) {
      failed(result);
      return;
    }
    kept.value = kept.value || text();
    kept.hidden = false;
    state.revision = result.body.revision;
    state.saved = result.body.source;
    state.conflict = null;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: result.body.source } });
    writeStored(key, null);
    showNotice(t.theirsLoaded, "info");
    conflictActions.hidden = true;
    kept.hidden = false;
    setSaveState("", "clean");
  }

  async function copyMine() {
    kept.value = kept.value || text();
    kept.hidden = false;
    try {
      await navigator.clipboard.writeText(kept.value);
      setSaveState(t.copied, "info");
    } catch {
      kept.select();
      setSaveState(t.copyFailed, "info");
    }
  }

  if (saveButton) saveButton.addEventListener("click", () => save());
  if (submitButton) submitButton.addEventListener("click", () => submit());
  ids("conflict-theirs").addEventListener("click", () => loadTheirs());
  ids("conflict-copy").addEventListener("click", () => copyMine());
  ids("conflict-mine").addEventListener("click", () => save({ overwrite: true }));
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
      event.preventDefault();
      if (saveButton && !saveButton.disabled) save();
    }
  });
  return { save, submit };
}
