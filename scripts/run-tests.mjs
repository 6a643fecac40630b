#!/usr/bin/env node
// Runs the compiled test files (dist/test/<dirs>/**/*.test.js) with Node's test runner.
// Node 20's `--test` takes no globs, and given a directory it would also run helpers and
// benchmarks, so the files are listed here. Usage: run-tests.mjs [unit integration e2e]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'dist', 'test');
const dirs = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e'];

function find(dir) {
  let out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries.sort()) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (e.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = dirs.flatMap((d) => find(path.join(root, d)));
if (files.length === 0) {
  console.error(
    `no test files under ${dirs.map((d) => path.join(root, d)).join(', ')}: run npm run build first`,
  );
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
