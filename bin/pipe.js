#!/usr/bin/env node
// Thin launcher: the CLI is compiled from TypeScript into dist/ by `npm ci` (the prepare script).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err); process.exitCode = 1; },
);
