// Builds the /editor bundle: one minified IIFE (editor.js) and its stylesheet (editor.css)
// into carepath/webapi/static/editor/, committed so that neither pip nor CI needs Node.
// Run with `make frontend` (or `npm ci && npm run build` here).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "..", "carepath", "webapi", "static", "editor");

// codemirror-json-schema renders schema text and validation messages through markdown-it
// and shiki (a WASM highlighter, several megabytes) and assigns the result to innerHTML;
// validation messages quote what the author typed. Replace that module with one that
// escapes the text, which keeps the bundle small and typed text inert.
const plainMarkdown = {
  name: "plain-markdown",
  setup(build) {
    build.onResolve({ filter: /\/utils\/markdown(\.js)?$/ }, (args) => {
      if (!args.importer.includes("codemirror-json-schema")) return undefined;
      return { path: path.join(here, "src", "plain-markdown.js") };
    });
  },
};

const result = await esbuild.build({
  entryPoints: { editor: path.join(here, "src", "editor.js") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outdir,
  legalComments: "linked",
  metafile: true,
  plugins: [plainMarkdown],
  logLevel: "info",
});
const sizes = Object.entries(result.metafile.outputs).map(
  ([file, out]) => `${path.basename(file)} ${(out.bytes / 1024).toFixed(1)} KiB`,
);
console.log(sizes.join(", "));
