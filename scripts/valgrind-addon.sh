#!/usr/bin/env bash
# Runs scripts/valgrind-step-loop.mjs (reservoirs on the built-in core and on the core HAL
# driver: step, get/set state, reset, close, error paths, finalizers) under valgrind memcheck,
# and fails on any memory error (invalid read/write/free, use of uninitialised values, ...) or
# definite/indirect leak whose stack touches spikecap's native code: spikecap_native.node,
# spikecap_core_driver.so, or the sources reservoir.c, reservoir.cc, core_driver.c.
# Node and V8 themselves are noisy under valgrind; errors that do not touch our code are
# counted and ignored.
#
# Usage: scripts/valgrind-addon.sh [rounds]     (default 3; needs `npm run build:native`)
# Env:   SPIKECAP_VALGRIND_XML=file  keeps valgrind's XML report there.
# Exit:  0 clean, 1 errors in our code (or the workload failed), 2 cannot run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"

if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind-addon: valgrind is not installed (apt-get install valgrind)" >&2
  exit 2
fi
for f in build/Release/spikecap_native.node build/Release/spikecap_core_driver.so; do
  if [ ! -f "$root/$f" ]; then
    echo "valgrind-addon: $f is missing; run npm run build:native" >&2
    exit 2
  fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
xml="$tmp/memcheck.xml"
log="$tmp/workload.log"

echo "valgrind-addon: running the workload under memcheck ($rounds rounds; under a minute on 2 cores)..."
start=$SECONDS
set +e
# --keep-debuginfo: the driver is dlclose()d before the leak check; keep its symbols for stacks.
# --smc-check: V8 writes and rewrites machine code on the heap.
valgrind --tool=memcheck --xml=yes --xml-file="$xml" \
  --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --keep-debuginfo=yes --smc-check=all-non-file --num-callers=50 --error-limit=no \
  node --expose-gc "$root/scripts/valgrind-step-loop.mjs" "$rounds" >"$log" 2>&1
status=$?
set -e
elapsed=$((SECONDS - start))
if [ -n "${SPIKECAP_VALGRIND_XML:-}" ]; then cp "$xml" "$SPIKECAP_VALGRIND_XML"; fi

cat "$log"
if [ ! -s "$xml" ]; then
  echo "valgrind-addon: FAIL: valgrind wrote no report (exit status $status)" >&2
  exit 1
fi

set +e
node - "$xml" "$status" "$elapsed" <<'EOF'
// Reads valgrind's XML and keeps the errors whose stacks (any of them: the error's, the
// allocation's, the origin's) have a frame in our objects or sources.
const fs = require('node:fs');
const [xmlFile, status, elapsed] = process.argv.slice(2);
const xml = fs.readFileSync(xmlFile, 'utf8');
const ours = (frame) =>
  /spikecap_native\.node|spikecap_core_driver\.so/.test(frame.obj) ||
  /^(reservoir\.c|reservoir\.cc|core_driver\.c|addon\.cc)$/.test(frame.file);
const unescape = (s) =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
const tag = (s, name) => {
  const m = s.match(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`));
  return m ? unescape(m[1].trim()) : '';
};
const errors = [...xml.matchAll(/<error>([\s\S]*?)<\/error>/g)].map((m) => {
  const body = m[1];
  const frames = [...body.matchAll(/<frame>([\s\S]*?)<\/frame>/g)].map((f) => ({
    obj: tag(f[1], 'obj'),
    fn: tag(f[1], 'fn'),
    file: tag(f[1], 'file'),
    line: tag(f[1], 'line'),
  }));
  const what = tag(body, 'what') || tag(tag(body, 'xwhat'), 'text');
  return { kind: tag(body, 'kind'), what, frames };
});
// V8's conservative stack scan reads uninitialised stack slots by design: when a GC runs
// during a call into the addon, the stack has our frames, but the read is V8's.
const v8StackScan = (e) =>
  e.frames.some((f) => /IteratePointersInStack|PushAllRegistersAndIterateStack|ConservativeStack/.test(f.fn));
const relevant = (e) =>
  !/^Leak_(PossiblyLost|StillReachable)$/.test(e.kind) && e.frames.some(ours) && !v8StackScan(e);
const bad = errors.filter(relevant);
const where = (f) =>
  `${f.fn || '???'} (${f.file ? `${f.file}:${f.line}` : f.obj.split('/').pop() || '?'})`;
const shown = 20;
for (const e of bad.slice(0, shown)) {
  console.log(`\n${e.kind}: ${e.what}`);
  for (const f of e.frames.slice(0, 12)) console.log(`    ${ours(f) ? '>' : ' '} ${where(f)}`);
}
if (bad.length > shown) console.log(`\n... and ${bad.length - shown} more (SPIKECAP_VALGRIND_XML=file keeps the report)`);
const workloadFailed = status !== '0';
console.log(
  `\nvalgrind-addon: ${bad.length} error(s) in spikecap native code, ` +
    `${errors.length - bad.length} elsewhere (node/V8, ignored); workload exit status ${status}; ${elapsed}s`,
);
if (bad.length > 0 || workloadFailed) {
  console.log(`valgrind-addon: FAIL${workloadFailed ? ' (the workload itself failed)' : ''}`);
  process.exit(1);
}
console.log('valgrind-addon: OK');
EOF
result=$?
set -e
exit "$result"
