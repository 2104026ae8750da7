#!/usr/bin/env bash
# Perform the Dockerfile's steps without a Docker engine, then start the result.
#
#   scripts/docker-sim.sh [--out DIR] [--no-smoke]
#
# context  the .dockerignore allowlist ("!" lines) copied from the repository
# build    npm ci; the rest of the context; mkdir -p config; npm run build; npm prune --omit=dev;
#          check-uws-binding.cjs --prune-others
# runtime  package.json, node_modules, dist, config and the binding check copied
#          into DIR/app (= /app), then `node scripts/check-uws-binding.cjs`
# smoke    as uid 10001 when run as root (USER 10001), in a clean environment, with
#          the app tree read-only: `--help` exits 0, `migrate` without --config exits 2,
#          and, once the proxy exists (dist/src/server/uws.js), `proxy` serves
#          /healthz on its admin port and exits 0 on SIGTERM.
#
# Differences from a real image build, on purpose: the base image is this machine
# (Node 20 on Debian bookworm, like node:20-bookworm-slim), and npm may use its
# local cache (--prefer-offline; packages are integrity-checked either way).
# Prints "docker-sim: OK <DIR>" last on success; exits non-zero on any failure.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=""
SMOKE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --no-smoke) SMOKE=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "docker-sim: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$OUT" ] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/argus-docker-sim.XXXXXX")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CONTEXT=$OUT/context BUILD=$OUT/build APP=$OUT/app DATA=$OUT/var-lib-argus
rm -rf "$CONTEXT" "$BUILD" "$APP" "$DATA"
step() { echo "docker-sim: $*"; }

step "context from .dockerignore"
mkdir -p "$CONTEXT"
first=""
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    ''|'#'*) continue ;;
    '*') first=1 ;;
    '!'*)
      [ -n "$first" ] || { echo "docker-sim: .dockerignore must start with '*'" >&2; exit 1; }
      path=${line#!}; path=${path%/}
      if [ -e "$REPO/$path" ]; then (cd "$REPO" && cp -a --parents "$path" "$CONTEXT/"); fi ;;
    *) echo "docker-sim: .dockerignore line not understood (allowlist only): $line" >&2; exit 1 ;;
  esac
done < "$REPO/.dockerignore"

step "build: npm ci"
mkdir -p "$BUILD"
cp "$CONTEXT/package.json" "$CONTEXT/package-lock.json" "$BUILD/"
if ! (cd "$BUILD" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) 2>"$OUT/npm-ci.err"; then
  # This machine's registry mirror lacks some other-platform optional packages
  # (e.g. @msgpackr-extract/*-darwin-*), so lockfiles written here omit them and
  # `npm ci` calls the lockfile out of sync. The same versions install with
  # `npm install --no-save`, which still follows the lockfile.
  if grep -q 'are in sync' "$OUT/npm-ci.err"; then
    step "WARNING: npm ci refused the lockfile: $(grep -m1 'Missing:' "$OUT/npm-ci.err" || true)"
    step "WARNING: falling back to npm install --no-save (same lockfile); regenerate package-lock.json against the full registry before a real image build"
    (cd "$BUILD" && npm install --no-save --prefer-offline --no-audit --no-fund --loglevel=error)
  else
    cat "$OUT/npm-ci.err" >&2
    exit 1
  fi
fi
step "build: COPY . . && npm run build && npm prune --omit=dev && check-uws-binding --prune-others"
cp -a "$CONTEXT/." "$BUILD/"
(cd "$BUILD" && mkdir -p config && npm run build --silent && npm prune --omit=dev --no-audit --no-fund --loglevel=error \
  && node scripts/check-uws-binding.cjs --prune-others)

step "runtime: assemble /app"
mkdir -p "$APP/scripts" "$DATA/spool"
cp "$BUILD/package.json" "$APP/"
cp -a "$BUILD/node_modules" "$BUILD/dist" "$BUILD/config" "$APP/"
cp "$BUILD/scripts/check-uws-binding.cjs" "$APP/scripts/"
(cd "$APP" && env -i PATH="$PATH" NODE_ENV=production node scripts/check-uws-binding.cjs)

if [ "$SMOKE" = 0 ]; then step "OK $OUT"; exit 0; fi

# USER 10001 and a read-only root filesystem, as far as this machine allows.
RUN_AS=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  RUN_AS=(setpriv --reuid=10001 --regid=10001 --clear-groups)
  chmod 755 "$OUT"
  chown -R 10001:10001 "$DATA"
fi
chmod -R a-w "$APP"
# The Node flags of the image's ENTRYPOINT (between "node" and the script), as the container runs them.
read -r -a NODE_FLAGS < <(node -e '
  const line = require("node:fs").readFileSync(process.argv[1], "utf8").split("\n").find((l) => l.startsWith("ENTRYPOINT "));
  const argv = JSON.parse(line.slice("ENTRYPOINT ".length));
  console.log(argv.slice(1, -1).join(" "));' "$REPO/Dockerfile")
run() { (cd "$APP" && env -i PATH="$PATH" HOME=/nonexistent NODE_ENV=production ${RUN_AS[@]+"${RUN_AS[@]}"} node ${NODE_FLAGS[@]+"${NODE_FLAGS[@]}"} "$APP/dist/src/cli.js" "$@"); }

step "smoke: --help"
run --help >"$OUT/help.txt"
cat "$OUT/help.txt"
step "smoke: migrate without --config exits 2"
set +e; run migrate 2>"$OUT/migrate.err"; code=$?; set -e
[ "$code" = 2 ] || { echo "docker-sim: migrate exited $code, expected 2" >&2; cat "$OUT/migrate.err" >&2; exit 1; }

if [ -f "$APP/dist/src/server/uws.js" ]; then
  step "smoke: proxy"
  read -r PORT ADMIN < <(node -e '
    const net = require("node:net"); const ports = [];
    const grab = () => { const s = net.createServer().listen(0, "127.0.0.1", () => { ports.push(s.address().port); s.close(() => ports.length < 2 ? grab() : console.log(ports.join(" "))); }); };
    grab();')
  # The shipped standalone config with this run's ports and spool dir, else a minimal one.
  (cd "$APP" && node -e '
    const fs = require("node:fs"); const YAML = require("js-yaml");
    const [file, port, admin, spool, out] = process.argv.slice(1);
    const cfg = fs.existsSync(file) ? YAML.load(fs.readFileSync(file, "utf8"), { schema: YAML.CORE_SCHEMA })
      : { upstream: { url: "http://127.0.0.1:9" }, routes: [{ path: "/*", auth: "none" }] };
    cfg.listen = { host: "127.0.0.1", port: Number(port) };
    cfg.admin = { host: "127.0.0.1", port: Number(admin) };
    cfg.metering = { ...(cfg.metering ?? {}), spool_dir: spool };
    fs.writeFileSync(out, YAML.dump(cfg, { schema: YAML.CORE_SCHEMA }));' config/standalone.yaml "$PORT" "$ADMIN" "$DATA/spool" "$OUT/proxy.yaml")
  (cd "$APP" && exec env -i PATH="$PATH" HOME=/nonexistent NODE_ENV=production ARGUS_SESSION_SECRET=docker-sim-session-secret-0123456789 \
    ${RUN_AS[@]+"${RUN_AS[@]}"} node ${NODE_FLAGS[@]+"${NODE_FLAGS[@]}"} "$APP/dist/src/cli.js" proxy --config "$OUT/proxy.yaml") >"$OUT/proxy.log" 2>&1 &
  PID=$!
  status=000
  for _ in $(seq 1 150); do
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$ADMIN/healthz" || true)
    [ "$status" = 200 ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.2
  done
  if [ "$status" != 200 ]; then
    kill "$PID" 2>/dev/null || true
    echo "docker-sim: proxy /healthz answered $status" >&2; cat "$OUT/proxy.log" >&2; exit 1
  fi
  step "smoke: proxy /healthz 200 on admin port $ADMIN"
  kill -TERM "$PID"
  set +e; wait "$PID"; code=$?; set -e
  [ "$code" = 0 ] || { echo "docker-sim: proxy exited $code after SIGTERM" >&2; cat "$OUT/proxy.log" >&2; exit 1; }
  step "smoke: proxy exited 0 on SIGTERM"
else
  step "smoke: no dist/src/server/uws.js in this tree yet; proxy start skipped"
fi
chmod -R u+w "$APP"
step "OK $OUT"
