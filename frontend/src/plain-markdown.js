// Stands in for codemirror-json-schema's utils/markdown.js (see build.mjs): text in, escaped
// HTML out, with `code` spans kept as <code> so schema descriptions still read well.
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

export function renderMarkdown(markdown, inline = true) {
  const html = escapeHtml(markdown).replace(/`([^`]+)`/g, "<code>$1</code>");
  return inline ? html : `<p>${html}</p>`;
}
