// Builds the /editor bundle: one minified IIFE (editor.js) and its stylesheet (editor.css)
// into carepath/webapi/staff/static/editor/, committed so that neither pip nor CI needs Node.
// Run with `make frontend` (or `npm ci && npm run build` here).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { readFile } from "node:fs/promises";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "..", "carepath", "webapi", "staff", "static", "editor");

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

// JSONValidation compiles the whole schema (resolving every $ref) on every lint run; the
// schema only changes when the page swaps it, so keep the compiled one for the same object.
const compileSchemaOnce = {
  name: "compile-schema-once",
  setup(build) {
    build.onLoad({ filter: /codemirror-json-schema[\\/]dist[\\/]features[\\/]validation\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const before = "this.schema = new Draft04(schema);";
      if (!source.includes(before)) throw new Error("codemirror-json-schema changed: review build.mjs");
      const after =
        "if (this.compiledFrom !== schema) { this.compiledFrom = schema; this.schema = new Draft04(schema); }";
      return { contents: source.replace(before, after), loader: "js" };
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
  plugins: [plainMarkdown, compileSchemaOnce],
  logLevel: "info",
});
const sizes = Object.entries(result.metafile.outputs).map(
  ([file, out]) => `${path.basename(file)} ${(out.bytes / 1024).toFixed(1)} KiB`,
);
console.log(sizes.join(", "));
