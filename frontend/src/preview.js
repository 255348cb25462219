// The content item's preview panel (预览): the lock-screen notification and the SMS as the
// summary would reach her, and the full text as her inbox shows it, from the server's answer
// to POST /editor/api/render (which also carries the compile diagnostics, so the editor asks
// once per pause in typing).
//
// Every plain part is set with textContent. The one HTML inserted is the inbox body,
// `preview.inbox.html`, made on the server by carepath/webapi/staff/editor/render.py: Markdown
// rendered by markdown-it with raw HTML off (a <script> or <img onerror> she typed comes back
// as escaped text), images off, and only http(s) links (content: links become inert spans).
// markdown-it escapes every text and attribute it writes, so that HTML cannot carry a tag,
// an event handler or a javascript: URL of the author's. Nothing else goes through innerHTML.

function byId(id) {
  return document.getElementById(id);
}

function setText(id, text) {
  const node = byId(id);
  if (node) node.textContent = text;
}

function showChannel(prefix, view, shown, t) {
  setText(`${prefix}-text`, view.sent ? shown : "");
  const note = byId(`${prefix}-note`);
  if (note) {
    note.hidden = view.sent;
    note.textContent = view.sent ? "" : `${t.previewNotSent}: ${view.note}`;
  }
}

export function attachPreview(panel, t) {
  const state = byId("preview-state");
  const setState = (text, name) => {
    panel.dataset.state = name;
    if (state) {
      state.textContent = text;
      state.hidden = !text;
    }
  };

  return {
    // answer: { ok, preview?, reason? } as the editor's request returned it
    show(answer) {
      if (!answer.ok) {
        setState(answer.reason || t.offline, "offline");
        return;
      }
      const preview = answer.preview;
      if (!preview) {
        // keep the last good preview on screen, marked stale, until the errors are fixed
        setState(t.previewBlocked, "blocked");
        return;
      }
      const facts = preview.facts || {};
      setText("preview-facts", `${facts.first_name || ""} · ${facts.gestational_age || ""} · ${facts.today || ""}`);
      const summary = preview.summary;
      const refused = byId("preview-refused");
      if (refused) {
        refused.hidden = !summary.refused;
        setText("preview-refused-code", summary.code || "");
        setText("preview-refused-message", summary.message || "");
        setText("preview-refused-own", summary.own || "");
      }
      showChannel("preview-wechat", preview.wechat, preview.wechat.text, t);
      showChannel("preview-sms", preview.sms, preview.sms.text, t);
      setText("preview-title", preview.inbox.title);
      const body = byId("preview-body");
      // Server-made, sanitised-by-construction HTML: see the comment at the top of this file.
      if (body) body.innerHTML = preview.inbox.html;
      panel.dataset.summary = summary.sent;
      setState("", "ready");
    },
  };
}
