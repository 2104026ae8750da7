/**
 * What bench/peers.ts and bench/threads.ts share: the Debian peers (nginx-light,
 * HAProxy, wrk, installed with apt-get when missing), their configs, the nginx
 * `return 200` upstream on TCP and on a Unix socket, the sidecar in a given
 * variant, one wrk load and the CPU the processes under test spent on it.
 *
 * Layout: this process pins itself to core 0, so wrk (and the fixed-rate
 * generator) run there; every server (proxy under test and upstream) starts on
 * core 1 unless told otherwise. CPU per request comes from /proc (user and
 * system ticks of every process of a server, its children included).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { cpuTimes, DIST, pinLocalRedis, startServer, type Server } from './harness.js';
import { buildOpenLoop, runOpenLoop } from './openloop-native.js';
import { AUDIENCE, ISSUER, makeCredentials, removeCredentials, sidecarConfig, type Credentials, type SidecarVariant } from './scenarios.js';

export const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Install the Debian packages whose commands are missing (nginx-light, haproxy, wrk); throws when apt-get fails. */
export function ensurePackages(): void {
  const missing = [
    ['nginx', 'nginx-light'],
    ['haproxy', 'haproxy'],
    ['wrk', 'wrk'],
    ['taskset', 'util-linux'],
  ]
    .filter(([cmd]) => !has(cmd!))
    .map(([, pkg]) => pkg!);
  if (missing.length === 0) return;
  process.stderr.write(`installing ${missing.join(' ')} with apt-get\n`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const run = (args: string[]) => spawnSync(sudo[0] ?? args[0]!, [...sudo.slice(1), ...(sudo.length ? args : args.slice(1))], { stdio: 'inherit' });
  run(['apt-get', 'update']);
  if (run(['apt-get', 'install', '-y', '--no-install-recommends', ...missing]).status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed`);
}

/** Pin this process (and so wrk and the generators it spawns) to `core`. */
export function pinSelf(core: number): void {
  spawnSync('taskset', ['-a', '-c', '-p', String(core), String(process.pid)], { stdio: 'ignore' });
}

/** A server under test: the pids whose CPU counts, and how to stop it. */
export interface Target {
  readonly name: string;
  readonly port: number;
  /** Every process of the server (nginx: master and workers). */
  pids(): number[];
  stop(): Promise<void>;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** User and system ticks of all `pids` (processes that exited count as 0). */
export function ticksOf(pids: number[]): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  for (const pid of pids) {
    try {
      const t = cpuTimes(pid);
      user += t.user;
      sys += t.sys;
    } catch {
      // exited
    }
  }
  return { user, sys };
}

function waitForPort(port: number, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const sock = connect(port, '127.0.0.1');
      sock.once('error', () => (Date.now() > deadline ? reject(new Error(`nothing listens on ${port}`)) : setTimeout(poll, 50)));
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
    };
    poll();
  });
}

/** Start a daemon (nginx -g 'daemon off;', haproxy -db) on `core`; resolves once `port` accepts. */
async function startDaemon(name: string, argv: string[], port: number, core: number, stopSignal: NodeJS.Signals): Promise<Target> {
  const child: ChildProcess = spawn('taskset', ['-c', String(core), ...argv], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await Promise.race([waitForPort(port), exited.then(() => Promise.reject(new Error(`${name} exited at start: ${argv.join(' ')}`)))]);
  return {
    name,
    port,
    pids: () => [child.pid!, ...childrenOf(child.pid!)],
    stop: () => {
      if (child.exitCode === null) child.kill(stopSignal);
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      return exited;
    },
  };
}

function nginxConf(dir: string, name: string, body: string): string {
  const file = join(dir, `${name}.conf`);
  writeFileSync(
    file,
    `worker_processes 1; daemon off; pid ${dir}/${name}.pid; error_log ${dir}/${name}.err;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 10000000;
  client_body_temp_path ${dir}/${name}-body; proxy_temp_path ${dir}/${name}-proxy;
${body}
}
`,
  );
  return file;
}

/** nginx `return 200 "ok"` on 127.0.0.1:`port` and on the Unix socket `sock`. */
export function startNginxUpstream(dir: string, port: number, sock: string, core = 1): Promise<Target> {
  const conf = nginxConf(dir, 'upstream', `  server { listen 127.0.0.1:${port}; listen unix:${sock}; location / { return 200 "ok"; } }`);
  return startDaemon('nginx upstream', ['nginx', '-c', conf], port, core, 'SIGTERM');
}

/** nginx as a plain keep-alive reverse proxy to `upstream` (`127.0.0.1:port` or `unix:/path`). */
export function startNginxProxy(dir: string, port: number, upstream: string, core = 1): Promise<Target> {
  const conf = nginxConf(
    dir,
    `proxy-${port}`,
    `  upstream app { server ${upstream}; keepalive 128; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
  );
  return startDaemon('nginx proxy', ['nginx', '-c', conf], port, core, 'SIGTERM');
}

/** The RS256 public key of the bench JWKS as a PEM file (what HAProxy's jwt_verify reads). */
export function rsaPublicPem(creds: Pick<Credentials, 'jwksFile'>, dir: string): string {
  const jwks = JSON.parse(readFileSync(creds.jwksFile, 'utf8')) as { keys: Array<Record<string, unknown>> };
  const jwk = jwks.keys.find((k) => k['alg'] === 'RS256');
  if (!jwk) throw new Error('no RS256 key in the bench JWKS');
  const file = join(dir, 'rs256.pub.pem');
  writeFileSync(file, createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }));
  return file;
}

/**
 * HAProxy 2.6, one thread, keep-alive both ways. `jwtPem`: verify the bearer's RS256
 * signature on every request (jwt_verify), check alg, iss, aud and exp, and count
 * requests per `sub` in a stick table (limit far above the load, as the sidecar's).
 */
export function startHaproxy(dir: string, port: number, upstream: string, jwtPem?: string, core = 1): Promise<Target> {
  const server = upstream.startsWith('unix:') ? upstream : upstream.replace(/^http:\/\//, '');
  const jwt = jwtPem
    ? `  stick-table type string len 64 size 100k expire 60s store http_req_rate(60s)
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str RS256 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"${jwtPem}") -m int 1 }
  http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('$.iss')
  http-request deny deny_status 401 unless { var(txn.iss) -m str ${ISSUER} }
  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('$.aud')
  http-request deny deny_status 401 unless { var(txn.aud) -m str ${AUDIENCE} }
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request set-var(txn.now) date()
  http-request deny deny_status 401 unless { var(txn.exp),sub(txn.now) -m int gt 0 }
  http-request set-var(txn.sub) var(txn.bearer),jwt_payload_query('$.sub')
  http-request track-sc0 var(txn.sub)
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100000000 }
`
    : '';
  const file = join(dir, `haproxy-${port}.cfg`);
  writeFileSync(
    file,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
${jwt}  default_backend be
backend be
  server app ${server} maxconn 1000
`,
  );
  return startDaemon(jwtPem ? 'haproxy jwt' : 'haproxy', ['haproxy', '-db', '-f', file], port, core, 'SIGTERM');
}

/** The sidecar (`node dist/src/cli.js proxy`) in `variant`, pinned to `core` (a taskset list, e.g. "1" or "0,1"). */
export async function startSidecar(
  dir: string,
  name: string,
  port: number,
  upstreamPort: number,
  redisUrl: string,
  creds: Credentials,
  variant: SidecarVariant,
  core: number | string = 1,
): Promise<Target> {
  const file = join(dir, `sidecar-${port}.yaml`);
  writeFileSync(file, sidecarConfig(port, port + 1, upstreamPort, redisUrl, creds, { spoolDir: join(dir, `spool-${port}`), ...variant }));
  // The image's Node flags, then BENCH_NODE_FLAGS (e.g. --trace-gc, with BENCH_SERVER_LOG_DIR to keep their output).
  const flags = [...imageNodeFlags(), ...(process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean)];
  const server: Server = await startServer(name, `${DIST}src/cli.js`, ['proxy', '--config', file], port, core as number, {}, flags);
  return { name, port, pids: () => [server.pid], stop: () => server.stop() };
}

/**
 * The Node flags the image starts the sidecar with: its Dockerfile's ENTRYPOINT
 * between `node` and the script (scripts/docker-sim.sh reads them the same way),
 * so the benchmarks measure the process that ships. BENCH_IMAGE_FLAGS=0: none.
 */
export function imageNodeFlags(dockerfile = fileURLToPath(new URL('../../Dockerfile', import.meta.url))): string[] {
  if (process.env['BENCH_IMAGE_FLAGS'] === '0') return [];
  const line = readFileSync(dockerfile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ENTRYPOINT '));
  if (!line) throw new Error(`${dockerfile}: no ENTRYPOINT line`);
  const argv = JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
  if (argv[0] !== 'node' || !argv.at(-1)?.endsWith('cli.js')) throw new Error(`${dockerfile}: ENTRYPOINT is not ["node", …flags, ".../cli.js"]`);
  return argv.slice(1, -1);
}

/**
 * bench/drainer.ts on `core`: completes the usage queue's jobs as a billing worker
 * would (without a ledger), so metered sidecars see their batches acknowledged.
 */
export async function startDrainer(redisUrl: string, creds: Credentials, core = 0): Promise<{ stop(): Promise<void> }> {
  const queue = `bench-${creds.prefix.split(':')[1]}`;
  const child = spawn('taskset', ['-c', String(core), process.execPath, `${DIST}bench/drainer.js`, redisUrl, queue, `${creds.prefix}bull`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    void exited.then(() => reject(new Error('bench drainer exited at start')));
  });
  return {
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      return exited;
    },
  };
}

export interface WrkResult {
  readonly rps: number;
  readonly requests: number;
  readonly p99_ms: number;
  readonly non2xx: number;
}

/** One `wrk -t1 -c<connections>` load of `durationS` on this process's core. */
export function wrk(port: number, path: string, headers: Record<string, string>, durationS: number, connections = 64): WrkResult {
  const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const out = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency', ...h, `http://127.0.0.1:${port}${path}`], {
    encoding: 'utf8',
  }).stdout;
  const m = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  return {
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)),
    p99_ms: m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : Number.NaN,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

export interface Measured extends WrkResult {
  /** CPU µs per request of the server under test: user + system, and user alone. */
  readonly cpu_us: number;
  readonly user_us: number;
  /** CPU µs per request of the upstream (nginx return 200). */
  readonly upstream_us: number;
}

/** A wrk load against `target` with the CPU `target` and `upstream` spent per request. */
export function measure(target: Target, upstream: Target, path: string, headers: Record<string, string>, durationS: number, connections = 64): Measured {
  const pids = target.pids();
  const upPids = upstream.pids();
  const t0 = ticksOf(pids);
  const u0 = ticksOf(upPids);
  const r = wrk(target.port, path, headers, durationS, connections);
  const t1 = ticksOf(pids);
  const u1 = ticksOf(upPids);
  // 100 ticks/s: µs per request = ticks × 10^4 / requests.
  const per = (ticks: number) => Math.round(((ticks * 1e4) / Math.max(1, r.requests)) * 10) / 10;
  return {
    ...r,
    cpu_us: per(t1.user - t0.user + t1.sys - t0.sys),
    user_us: per(t1.user - t0.user),
    upstream_us: per(u1.user - u0.user + u1.sys - u0.sys),
  };
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The 1/5/15-minute load averages, for the result file (other work on the machine moves every number). */
export const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');

/** What a fixed-rate bench of one sidecar at a time needs around it (see {@link fixedRateBench}). */
export interface FixedRateBench {
  readonly dir: string;
  readonly creds: Credentials;
  readonly bearer: Record<string, string>;
  /** The C open-loop generator (bench/openloop.c), built. */
  readonly generator: string;
  /** Load average when it started. */
  readonly load: string;
  /** Stop the upstream and the drainer, give Redis its cores back, remove the keys and the directory. */
  close(): Promise<void>;
}

/**
 * The setup of a fixed-rate bench of one sidecar at a time (gc-latency.ts): packages
 * checked, this process (so the load) on core 0, the C generator built, a temp dir with
 * credentials, the local Redis pinned to core 0 as in bench:peers (on core 1 it would
 * take time slices from the sidecar), an nginx upstream on `upstreamPort` and the
 * drainer completing metered batches.
 */
export async function fixedRateBench(name: string, redisUrl: string, upstreamPort: number): Promise<FixedRateBench> {
  ensurePackages();
  pinSelf(0);
  const generator = buildOpenLoop();
  if (generator instanceof Error) throw generator;
  const load = loadAverage();
  const dir = mkdtempSync(join(tmpdir(), `argus-${name}-`));
  const creds = await makeCredentials(dir, redisUrl, 1);
  const redis = new Redis(redisUrl);
  const restoreRedis = await pinLocalRedis(redis);
  redis.disconnect();
  const upstream = await startNginxUpstream(dir, upstreamPort, join(dir, 'up.sock'));
  const drainer = await startDrainer(redisUrl, creds, 0);
  return {
    dir,
    creds,
    bearer: { authorization: `Bearer ${creds.jwt}` },
    generator,
    load,
    async close() {
      await drainer.stop();
      await upstream.stop();
      restoreRedis();
      const r = new Redis(redisUrl);
      await removeCredentials(r, creds);
      r.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What `--trace-gc-nvp` says about one window. */
export interface GcSummary {
  scavenges: number;
  scavenge_ms_max: number;
  promoted_mb: number;
  mark_compacts: number;
  mark_compact_pause_ms_max: number;
  /** Longest incremental-marking step or array-buffer sweep of a mark-compact (each stalls the JavaScript thread). */
  incremental_step_ms_max: number;
  /** CPU the marking threads took (from the same core, when the process is pinned). */
  background_mark_ms: number;
}

/** The GC side of a `--trace-gc-nvp` log. */
export function gcSummary(log: string): GcSummary {
  const num = (line: string, key: string) => Number(new RegExp(` ${key}=([\\d.]+)`).exec(line)?.[1] ?? 0);
  const lines = log.split('\n');
  const sc = lines.filter((l) => / gc=s /.test(l));
  const mc = lines.filter((l) => / gc=mc /.test(l));
  const max = (xs: number[]) => Math.round(Math.max(0, ...xs) * 100) / 100;
  return {
    scavenges: sc.length,
    scavenge_ms_max: max(sc.map((l) => num(l, 'pause'))),
    promoted_mb: Math.round(sc.reduce((a, l) => a + num(l, 'promoted'), 0) / 1e4) / 100,
    mark_compacts: mc.length,
    mark_compact_pause_ms_max: max(mc.map((l) => num(l, 'pause'))),
    // The array-buffer sweep at the start of marking is reported apart from the steps; it stalls the thread too.
    incremental_step_ms_max: max(mc.flatMap((l) => [num(l, 'incremental_longest_step'), num(l, 'incremental.sweep_array_buffers')])),
    background_mark_ms: Math.round(mc.reduce((a, l) => a + num(l, 'background.mark'), 0)),
  };
}

/** One fixed-rate window of {@link fixedRateRow}: the open-loop latencies and the GC during it. */
export interface FixedRateRow extends GcSummary, SlowInGc {
  requests: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  /** The generator held real-time priority (bench/openloop.c): the helpers on its core could not delay it. */
  generator_realtime: boolean;
}

/** How many of a window's slowest requests (latency ≥ its p99.9) were in flight during a GC pause of the sidecar. */
export interface SlowInGc {
  slow_requests: number;
  /** % of them whose time in flight overlapped a pause (any kind). */
  slow_in_gc_pct: number;
  /** % overlapping a mark-compact's pause or one of its incremental steps. */
  slow_in_mc_pct: number;
  /** % that would overlap a pause by chance: the same latencies at random times (pauses × (median latency + mean pause) ÷ window). */
  slow_in_gc_chance_pct: number;
}

/**
 * Lay the GC pauses (bench/gc-timeline.ts lines) over the generator's slow requests
 * (bench/openloop.c OPENLOOP_SLOW lines, `<epoch ms sent> <latency ms>`) of the
 * window [from, to] (epoch ms), counting the requests at or above `threshold` ms.
 */
export function slowInGc(slowLog: string, gcLog: string, threshold: number, from: number, to: number): SlowInGc {
  const pairs = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.split(' '));
  const slow = pairs(slowLog)
    .map(([at, ms]) => ({ at: Number(at), ms: Number(ms) }))
    .filter((r) => r.ms >= threshold);
  const pauses = pairs(gcLog)
    .map(([at, ms, kind]) => ({ at: Number(at), ms: Number(ms), kind: kind ?? '?' }))
    .filter((g) => g.at + g.ms >= from && g.at <= to);
  const during = (r: { at: number; ms: number }, g: { at: number; ms: number }) => g.at < r.at + r.ms && g.at + g.ms > r.at;
  const pct = (n: number) => (slow.length === 0 ? 0 : Math.round((1000 * n) / slow.length) / 10);
  const meanPause = pauses.length === 0 ? 0 : pauses.reduce((a, g) => a + g.ms, 0) / pauses.length;
  const chance = Math.min(1, (pauses.length * (median(slow.map((r) => r.ms)) + meanPause)) / Math.max(1, to - from));
  return {
    slow_requests: slow.length,
    slow_in_gc_pct: pct(slow.filter((r) => pauses.some((g) => during(r, g))).length),
    slow_in_mc_pct: pct(slow.filter((r) => pauses.some((g) => (g.kind === 'mc' || g.kind === 'i') && during(r, g))).length),
    slow_in_gc_chance_pct: slow.length === 0 ? 0 : Math.round(chance * 1000) / 10,
  };
}

/**
 * One sidecar in `variant` (with `flags`, and `--trace-gc-nvp`) on core 1: a 10 s wrk
 * saturation first (grows the heap as bench:peers' rounds do), then the C open-loop
 * generator at `rate` for `durationS` s (32 connections, 2 s warm-up) on `path`.
 */
export async function fixedRateRow(
  bench: FixedRateBench,
  o: {
    label: string;
    port: number;
    upstreamPort: number;
    redisUrl: string;
    path: string;
    variant: SidecarVariant;
    flags: string[];
    rate: number;
    durationS: number;
    /** The sidecar's cli.js (default: this build's): another build's, for an A/B of two commits. */
    cli?: string;
  },
): Promise<FixedRateRow> {
  const file = join(bench.dir, `side-${o.port}.yaml`);
  writeFileSync(
    file,
    sidecarConfig(o.port, o.port + 1, o.upstreamPort, o.redisUrl, bench.creds, { spoolDir: join(bench.dir, `spool-${o.port}`), ...o.variant }),
  );
  const logDir = mkdtempSync(join(bench.dir, 'log-'));
  process.env['BENCH_SERVER_LOG_DIR'] = logDir;
  // BENCH_SLOW_DIR keeps both logs of every row (<label>-<port>-{gc,slow}.txt) for a closer look.
  const keep = process.env['BENCH_SLOW_DIR'];
  const stem = keep ? join(keep, `${o.label.replace(/[^a-z0-9]+/gi, '-')}-${o.port}`) : join(logDir, 'window');
  const gcFile = `${stem}-gc.txt`;
  const slowFile = `${stem}-slow.txt`;
  const s = await startServer(o.label, o.cli ?? `${DIST}src/cli.js`, ['proxy', '--config', file], o.port, 1, { BENCH_GC_TIMELINE: gcFile }, [
    ...o.flags,
    '--trace-gc-nvp',
    `--import=${new URL('./gc-timeline.js', import.meta.url).href}`,
  ]);
  try {
    wrk(o.port, o.path, bench.bearer, 10, 64);
    const logFile = join(logDir, `${s.pid}.log`);
    const mark = readFileSync(logFile, 'utf8').length;
    process.env['OPENLOOP_SLOW'] = slowFile;
    const from = Date.now() + 2000;
    const r = runOpenLoop(bench.generator, {
      url: `http://127.0.0.1:${o.port}${o.path}`,
      headers: bench.bearer,
      rate: o.rate,
      connections: 32,
      durationS: o.durationS,
      warmupS: 2,
    });
    delete process.env['OPENLOOP_SLOW'];
    const to = Date.now();
    const text = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
    return {
      requests: r.requests.total,
      p50_ms: r.latency.p50,
      p99_ms: r.latency.p99,
      p999_ms: r.latency.p99_9,
      max_ms: r.latency.max,
      generator_realtime: r.realtime === true,
      ...gcSummary(readFileSync(logFile, 'utf8').slice(mark)),
      ...slowInGc(text(slowFile), text(gcFile), r.latency.p99_9, from, to),
    };
  } finally {
    await s.stop();
  }
}
