#!/usr/bin/env bash
# Installs what spikecap needs on a Debian machine that has Node.js and npm, and builds it.
# Idempotent: what is present is left alone.
#   - Debian packages: redis-server, mosquitto, mosquitto-clients, procps (vmstat/free for tests),
#     valgrind (the addon's memory check in the tests)
#   - npm dependencies (npm ci, which also builds the native addon with node-gyp), then the
#     TypeScript build
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "spikecap needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v vmstat >/dev/null || need+=(procps)
command -v valgrind >/dev/null || need+=(valgrind)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  log "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The packages' own services may have been started by the install; spikecap starts what it needs.
fi
# mosquitto lives in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin"

stamp=node_modules/.spikecap-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
else
  if [ ! -f build/Release/spikecap_native.node ] || [ -n "$(find native binding.gyp -newer build/Release/spikecap_native.node -print -quit)" ]; then
    log "building the native addon"
    npm run --silent build:native >/dev/null
  fi
  log "building"
  npm run --silent build
fi
