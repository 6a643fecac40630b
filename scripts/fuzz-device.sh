#!/usr/bin/env bash
# Fuzzes the device's receive path (firmware-bridge/device/fuzz/fuzz_board.c) with libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer for a fixed time: arbitrary wire bytes,
# well-framed hostile requests, and hostile model images uploaded with their true hash. The
# target also aborts on any malformed frame the device sends. Starts from a seed corpus of
# valid frames (HELLO, PING, STEP, an upload, a tiny model) that it generates each run, plus
# whatever earlier runs found (build/device/fuzz-corpus).
#
# Usage: scripts/fuzz-device.sh [SECONDS]     (default 60)
# Exit:  0 no crash in the time; 1 a crash (reproducer in build/device/fuzz-artifacts/, rerun
#        with build/device/fuzz-board FILE); 2 cannot run (no clang, bad argument, build error).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-60}"
out="$root/build/device"

if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "fuzz-device: SECONDS must be a whole number of seconds >= 1, got '$secs'" >&2
  exit 2
fi
# libFuzzer and the sanitizers' runtimes come with Debian's clang and libclang-rt-dev (a
# recommendation of clang, so an install without recommends lacks them); installed here when
# missing, as setup.sh does its packages.
need=()
if ! command -v clang >/dev/null 2>&1; then
  need+=(clang libclang-rt-dev)
elif [ ! -f "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]; then
  need+=(libclang-rt-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "fuzz-device: installing ${need[*]} (libFuzzer, ASan, UBSan)" >&2
  if ! { $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${need[@]}" >/dev/null; }; then
    echo "fuzz-device: cannot install ${need[*]} with apt-get" >&2
    exit 2
  fi
fi
if ! make -s -C "$root/firmware-bridge/device" fuzz; then
  echo "fuzz-device: building the fuzz target failed" >&2
  exit 2
fi

seeds="$out/fuzz-seed-corpus"
corpus="$out/fuzz-corpus"
artifacts="$out/fuzz-artifacts"
log="$out/fuzz.log"
rm -rf "$seeds"
mkdir -p "$seeds" "$corpus" "$artifacts"
"$out/fuzz-seeds" "$seeds"
echo "fuzz-device: fuzzing for ${secs}s ($(ls "$seeds" | wc -l) seeds," \
  "$(ls "$corpus" | wc -l) inputs in the corpus); log: $log"

set +e
"$out/fuzz-board" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" "$seeds" >"$log" 2>&1
rc=$?
set -e

if [ "$rc" -ne 0 ]; then
  tail -n 60 "$log" >&2
  echo "fuzz-device: CRASH (exit $rc); reproducer(s):" >&2
  ls -t "$artifacts" | head -n 5 | sed "s|^|  $artifacts/|" >&2
  exit 1
fi
grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
grep -E '#[0-9]+ +DONE' "$log" | tail -n 1 || true
echo "fuzz-device: no crash in ${secs}s ($(ls "$corpus" | wc -l) inputs in the corpus)"
