#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: build, lint, format check, unit,
# integration and end-to-end tests. Tests start their own Redis and Mosquitto on free
# loopback ports in temporary directories; nothing running on the machine is used.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PATH:/usr/sbin"
npm test
