#!/usr/bin/env bash
# promtool on what Prometheus will really see: starts the built proxy (one
# thread, then two: the threads' metrics are summed on scrape), the billing
# worker and the control process briefly on free ports with a throwaway config, scrapes each /metrics,
# and runs `promtool check metrics` on the scrape; then `promtool check rules`
# on the chart's PrometheusRule spec (helm/argus-sidecar/files/prometheus-rules.yaml).
# Needs `npm run build` first, promtool on PATH, and for the worker Redis on
# 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (as `npm test` does).
# Exits non-zero when any check fails (or promtool is missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLI="$ROOT/dist/src/cli.js"
command -v promtool >/dev/null 2>&1 || { echo "promtool-check: promtool not on PATH (Debian: apt-get install prometheus)" >&2; exit 1; }
[ -f "$CLI" ] || { echo "promtool-check: $CLI missing: run npm run build first" >&2; exit 1; }
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
SUFFIX="promtool$$$RANDOM"

# scrape <name> <config> <command>: start, wait for the admin port in the log, scrape, check, stop.
scrape() {
  local name=$1 cfg=$2 cmd=$3 log="$TMP/$1.log" port="" pid
  node "$CLI" "$cmd" --config "$cfg" >"$log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 150); do
    port=$(grep -o '"admin_port":[0-9]*' "$log" | head -1 | cut -d: -f2 || true)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "promtool-check: $name exited early:" >&2; cat "$log" >&2; return 1; }
    sleep 0.2
  done
  [ -n "$port" ] || { echo "promtool-check: $name did not start:" >&2; cat "$log" >&2; return 1; }
  curl -fsS "http://127.0.0.1:$port/metrics" >"$TMP/$name.prom"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "promtool-check: $name: $(grep -c '^# TYPE' "$TMP/$name.prom") metric families scraped"
  promtool check metrics <"$TMP/$name.prom"
}

proxy_cfg() { # proxy_cfg <threads>
  cat >"$TMP/proxy$1.yaml" <<YAML
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
threads: $1
upstream: { url: "http://127.0.0.1:9" }
routes:
  - path: /*
    auth: none
metering: { enabled: false }
YAML
  echo "$TMP/proxy$1.yaml"
}

scrape proxy "$(proxy_cfg 1)" proxy
scrape proxy-threads "$(proxy_cfg 2)" proxy

cat >"$TMP/worker.yaml" <<YAML
admin: { host: 127.0.0.1, port: 0 }
upstream: { url: "http://127.0.0.1:9" }
redis: { url: "redis://127.0.0.1:6379", key_prefix: "$SUFFIX:" }
postgres: { url: "postgres://postgres@127.0.0.1:5432/postgres" }
routes:
  - path: /*
    auth: none
metering: { queue: "$SUFFIX", spool_dir: "$TMP/spool" }
YAML
scrape worker "$TMP/worker.yaml" worker
# The control process: a search_path with no tables, so its reconciler and projection
# watch touch nothing shared (their queries fail and are logged; the metrics are there).
cat >"$TMP/control.yaml" <<YAML
upstream: { url: "http://127.0.0.1:9" }
redis: { url: "redis://127.0.0.1:6379", key_prefix: "$SUFFIX:" }
postgres: { url: "postgres://postgres@127.0.0.1:5432/postgres?options=-c%20search_path%3D$SUFFIX" }
routes:
  - path: /*
control:
  internal: { host: 127.0.0.1, port: 0 }
  public: { host: 127.0.0.1, port: 0 }
  admin: { host: 127.0.0.1, port: 0 }
YAML
scrape control "$TMP/control.yaml" control

redis-cli -h 127.0.0.1 --scan --pattern "*$SUFFIX*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null 2>&1 || true
promtool check rules "$ROOT/helm/argus-sidecar/files/prometheus-rules.yaml"
echo "promtool-check: OK"
