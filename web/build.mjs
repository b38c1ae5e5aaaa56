// Bundles src/main.js into ONE minified ES module, the file the server embeds
// and serves as /console/static/quietline.js.
//
//   node build.mjs          writes ../src/web/console/quietline.js
//   node build.mjs --check  builds to a temporary file and fails unless it is
//                           byte for byte the committed one
//
// Deterministic: the same package-lock.json (so the same esbuild and the same
// sources) gives the same bytes. Nothing in the output depends on the time, the
// machine, the working directory or absolute paths: no banner, no legal
// comments, no source map, paths resolved from this folder.

import { build } from "esbuild";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const committed = resolve(here, "../src/web/console/quietline.js");
const check = process.argv.includes("--check");

async function bundle() {
  const result = await build({
    absWorkingDir: here,
    entryPoints: ["src/main.js"],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    treeShaking: true,
    legalComments: "none",
    sourcemap: false,
    charset: "utf8",
    metafile: false,
    write: false,
    logLevel: "warning",
    outfile: "quietline.js",
  });
  if (result.outputFiles.length !== 1) throw new Error(`expected one output file, got ${result.outputFiles.length}`);
  return result.outputFiles[0].contents;
}

const bytes = await bundle();

if (check) {
  const dir = await mkdtemp(join(tmpdir(), "quietline-js-"));
  try {
    const fresh = join(dir, "quietline.js");
    await writeFile(fresh, bytes);
    const built = await readFile(fresh);
    let current;
    try {
      current = await readFile(committed);
    } catch {
      console.error(`check: ${committed} is missing; run npm run build`);
      process.exit(1);
    }
    if (!built.equals(current)) {
      console.error(
        `check: ${committed} (${current.length} bytes) differs from a fresh build (${built.length} bytes); run npm run build and commit it`,
      );
      process.exit(1);
    }
    console.log(`check: quietline.js matches a fresh build (${built.length} bytes)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
} else {
  await writeFile(committed, bytes);
  console.log(`wrote ${committed} (${bytes.length} bytes)`);
}
