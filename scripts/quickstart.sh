#!/usr/bin/env bash
# Sets everything up and runs the agent in the foreground against local Redis and Mosquitto
# on loopback: reused when they already answer, started (under var/) when they do not.
# Ctrl-C stops the agent; the servers it started keep running for the next time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PATH:/usr/sbin"
mkdir -p var/redis var/mosquitto

log() { printf '\033[1m[quickstart]\033[0m %s\n' "$*" >&2; }

if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "reusing Redis on 127.0.0.1:6379"
else
  log "starting Redis on 127.0.0.1:6379 (data in var/redis)"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir "$PWD/var/redis" \
    --appendonly yes --logfile "$PWD/var/redis/redis.log" --pidfile "$PWD/var/redis/redis.pid"
  for _ in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  log "reusing Mosquitto on 127.0.0.1:1883"
else
  log "starting Mosquitto on 127.0.0.1:1883"
  cat > var/mosquitto/mosquitto.conf <<CONF
listener 1883 127.0.0.1
allow_anonymous true
persistence false
log_dest stdout
CONF
  # Not -d: started as root, mosquitto drops to its own user, which could not write a pid
  # or log file here; its stdout, opened by this shell, stays writable.
  setsid nohup mosquitto -c "$PWD/var/mosquitto/mosquitto.conf" >var/mosquitto/mosquitto.log 2>&1 </dev/null &
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.1; done
fi

log "running the agent (Ctrl-C to stop); in another terminal: npx spikecap metrics tail --series 'cpu.*'"
exec node dist/agent/cli/main.js run --config config/spikecap.yaml
