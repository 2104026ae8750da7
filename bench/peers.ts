/**
 * `npm run bench:peers`: the sidecar next to nginx and HAProxy 2.6 (Debian
 * packages, installed with apt-get when missing) in one run, on the same nginx
 * `return 200` upstream, the same RS256 token on every request, the same pinning
 * (wrk -t1 -c64 on core 0; proxy under test and upstream on core 1) and the same
 * rounds (every config once per round, BENCH_ROUNDS rounds, median kept):
 *
 * - nginx plain reverse proxy; HAProxy plain proxy; HAProxy `jwt_verify` RS256 on
 *   every request (alg, iss, aud, exp checked) + a stick-table rate count per `sub`;
 * - the sidecar: passthrough (`auth: none`, no limits, no metering), JWT cache hit +
 *   local limit, and the production hot path (JWT + local limit + metering to BullMQ);
 * - the same over a Unix-socket upstream (sidecar passthrough and hot path, nginx),
 *   which also gives `uds-vs-tcp` (UDS against TCP loopback, same rounds);
 * - a Fastify gateway (bench/fastify-gateway.ts: @fastify/jwt with its cache,
 *   @fastify/rate-limit, @fastify/http-proxy).
 *
 * Then, with a C compiler, a fixed-rate run (BENCH_RATE, default 4500/s, C generator
 * bench/openloop.c) for p99 and p99.9 of direct, nginx, HAProxy jwt and the sidecar's
 * passthrough and hot path: BENCH_FIXED_ROUNDS (3) alternating rounds, medians.
 *
 * Every sidecar runs with the Node flags of the image's ENTRYPOINT (Dockerfile;
 * peers-kit.ts imageNodeFlags), then BENCH_NODE_FLAGS.
 *
 * - the hot path with tracing configured and nothing sampled (ratio 0), with and
 *   without a client `traceparent`: issue 28's cost of tracing, paired per round.
 *
 * Metered configs' batches are completed by bench/drainer.ts on core 0 (a billing
 * worker without a ledger), so the proxies see them acknowledged as in production;
 * BENCH_DRAIN=0 runs without it (batches then stay unacknowledged and are polled).
 *
 * Options: BENCH_DURATION (s, default 5), BENCH_ROUNDS (3), BENCH_ONLY (regex on the
 * config name), BENCH_RATE (0: no fixed-rate rows), BENCH_FIXED_ROUNDS, BENCH_REDIS, BENCH_DRAIN,
 * BENCH_IMAGE_FLAGS=0 (sidecars without the image's Node flags).
 * Results: bench/results/<date>-<sha>/peers.{json,md} and uds-vs-tcp.{json,md}. Needs Redis.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DIST, pinLocalRedis, startServer } from './harness.js';
import { buildOpenLoop, runOpenLoop } from './openloop-native.js';
import {
  ensurePackages,
  loadAverage,
  measure,
  median,
  pinSelf,
  rsaPublicPem,
  startHaproxy,
  startNginxProxy,
  startNginxUpstream,
  startDrainer,
  startSidecar,
  type Measured,
  type Target,
} from './peers-kit.js';
import { writeResultFiles } from './results-dir.js';
import { AUDIENCE, ISSUER, makeCredentials, removeCredentials } from './scenarios.js';

const duration = Number(process.env['BENCH_DURATION'] ?? 5);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const rate = Number(process.env['BENCH_RATE'] ?? 4500);
const fixedRounds = Number(process.env['BENCH_FIXED_ROUNDS'] ?? 3);
/** Fixed-rate runs, and how many of them had the generator at real-time priority (bench/openloop.c). */
const fixedRuns = { total: 0, realtime: 0 };
const only = process.env['BENCH_ONLY'] ? new RegExp(process.env['BENCH_ONLY']) : undefined;
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const drain = process.env['BENCH_DRAIN'] !== '0';

ensurePackages();
pinSelf(0);
const dir = mkdtempSync(join(tmpdir(), 'argus-peers-'));
chmodSync(dir, 0o755); // nginx workers (user nobody) connect to the upstream socket in it
const UP = 3960;
const SOCK = join(dir, 'up.sock');
const creds = await makeCredentials(dir, redisUrl, 1);
const pem = rsaPublicPem(creds, dir);
const bearer = { authorization: `Bearer ${creds.jwt}` };

interface Peer {
  readonly name: string;
  readonly path: string;
  /** Key of the UDS/TCP pair this row belongs to, and which side. */
  readonly pair?: readonly [string, 'tcp' | 'uds'];
  /** Request headers beyond the bearer. */
  readonly headers?: Record<string, string>;
  start(port: number): Promise<Target>;
}

const PASS = 'sidecar, route `auth: none`, no limits, no metering';
const JWT = 'sidecar, JWT cache hit + local limit';
const HOT = 'sidecar, JWT cache hit + local limit + metering to BullMQ (production hot path)';
const HAPROXY_JWT = 'HAProxy 2.6 `jwt_verify` RS256 on every request + stick table';
const TRACE0 = `${HOT}, tracing configured, ratio 0`;
const TRACE0_TP = `${TRACE0}, client traceparent`;
/** A client's trace context, flags 01 (sampled upstream of us); ratio 0 with parent_based off samples none of it. */
const TRACEPARENT = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
const FASTIFY = 'Fastify 4 + @fastify/jwt (cached) + @fastify/rate-limit + @fastify/http-proxy';
const fastify = async (port: number): Promise<Target> => {
  const s = await startServer('fastify', `${DIST}bench/fastify-gateway.js`, [String(port), `http://127.0.0.1:${UP}`, pem, ISSUER, AUDIENCE], port, 1);
  return { name: s.name, port, pids: () => [s.pid], stop: () => s.stop() };
};
const sidecar = (v: Parameters<typeof startSidecar>[6]) => (port: number) => startSidecar(dir, `sidecar ${port}`, port, UP, redisUrl, creds, v);
const ALL: Peer[] = [
  { name: 'nginx plain reverse proxy', path: '/x', pair: ['nginx', 'tcp'], start: (p) => startNginxProxy(dir, p, `127.0.0.1:${UP}`) },
  { name: 'HAProxy 2.6 plain proxy', path: '/x', start: (p) => startHaproxy(dir, p, `127.0.0.1:${UP}`) },
  { name: HAPROXY_JWT, path: '/x', start: (p) => startHaproxy(dir, p, `127.0.0.1:${UP}`, pem) },
  { name: PASS, path: '/pass/x', pair: ['sidecar passthrough', 'tcp'], start: sidecar({ metering: false, ratelimit: false }) },
  { name: JWT, path: '/jwt/x', start: sidecar({ metering: false }) },
  { name: HOT, path: '/jwt/x', pair: ['sidecar hot path', 'tcp'], start: sidecar({}) },
  { name: TRACE0, path: '/jwt/x', start: sidecar({ tracing: 0 }) },
  { name: TRACE0_TP, path: '/jwt/x', headers: TRACEPARENT, start: sidecar({ tracing: 0 }) },
  { name: 'nginx plain reverse proxy, UDS upstream', path: '/x', pair: ['nginx', 'uds'], start: (p) => startNginxProxy(dir, p, `unix:${SOCK}`) },
  {
    name: `${PASS}, UDS upstream`,
    path: '/pass/x',
    pair: ['sidecar passthrough', 'uds'],
    start: sidecar({ metering: false, ratelimit: false, upstream: `unix:${SOCK}` }),
  },
  { name: `${HOT}, UDS upstream`, path: '/jwt/x', pair: ['sidecar hot path', 'uds'], start: sidecar({ upstream: `unix:${SOCK}` }) },
  { name: FASTIFY, path: '/x', start: fastify },
];
const PEERS = ALL.filter((p) => !only || only.test(p.name));

interface Row {
  readonly peer: Peer;
  readonly runs: Measured[];
}

const targets: Target[] = [];
let upstream: Target | undefined;
let restoreRedis = (): void => undefined;
let drainer: { stop(): Promise<void> } | undefined;
const loadAtStart = loadAverage();
try {
  const redis = new Redis(redisUrl);
  restoreRedis = await pinLocalRedis(redis);
  redis.disconnect();
  upstream = await startNginxUpstream(dir, UP, SOCK);
  if (drain) drainer = await startDrainer(redisUrl, creds, 0);
  const started: Array<{ peer: Peer; target: Target }> = [];
  let port = 3970;
  for (const peer of PEERS) {
    const target = await peer.start(port);
    port += 2;
    targets.push(target);
    started.push({ peer, target });
  }
  const rows = started.map(({ peer }) => ({ peer, runs: [] as Measured[] }));
  for (const { peer, target } of started) measure(target, upstream, peer.path, { ...bearer, ...peer.headers }, 2); // warm-up (JIT, caches, pools)
  for (let round = 0; round < rounds; round++) {
    started.forEach(({ peer, target }, i) => {
      const m = measure(target, upstream!, peer.path, { ...bearer, ...peer.headers }, duration);
      if (m.non2xx > 0) throw new Error(`${peer.name}: ${m.non2xx} non-2xx answers`);
      rows[i]!.runs.push(m);
      process.stderr.write(
        `round ${round + 1} ${peer.name.slice(0, 60).padEnd(60)} ${String(m.rps).padStart(6)} rps  ${m.cpu_us} (${m.user_us}) µs/req  upstream ${m.upstream_us}\n`,
      );
    });
  }
  const fixed = await fixedRate(started);
  report(rows, fixed);
} finally {
  for (const t of targets.reverse()) await t.stop();
  await upstream?.stop();
  await drainer?.stop();
  restoreRedis();
  const r = new Redis(redisUrl);
  await removeCredentials(r, creds);
  r.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

interface Fixed {
  readonly name: string;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly p999_ms: number;
  readonly max_ms: number;
  /** Each round's p99.9 (ms), in run order. */
  readonly p999_rounds: number[];
}

/**
 * p50/p99/p99.9 at a fixed rate (C generator): direct, nginx, HAProxy jwt, the sidecar's
 * passthrough and hot path. BENCH_FIXED_ROUNDS rounds (default 3) of 2 × BENCH_DURATION s,
 * alternating the configs, medians per config: one window's p99.9 is its ~50 slowest
 * requests, and on this shared VM a single stall of the machine (seen: 24-43 ms for nginx
 * and HAProxy in one window) decides it.
 */
async function fixedRate(started: Array<{ peer: Peer; target: Target }>): Promise<Fixed[]> {
  const binary = rate > 0 ? buildOpenLoop() : undefined;
  if (binary === undefined || binary instanceof Error) {
    if (binary) process.stderr.write(`no fixed-rate rows: ${binary.message}\n`);
    return [];
  }
  const picks: Array<[string, number, string]> = [['direct (nginx upstream)', UP, '/x']];
  const picked = (name: string) => name === HAPROXY_JWT || name === HOT || name === PASS || name === 'nginx plain reverse proxy';
  for (const { peer, target } of started) if (picked(peer.name)) picks.push([peer.name, target.port, peer.path]);
  // The other servers stop first: they share core 1, and an idle Node process whose allocation
  // rate just fell runs V8's memory reducer (a full GC of a heap the wrk rounds grew), which
  // took 20-30 ms of that core from whichever proxy was being measured. Production runs one
  // sidecar beside its app, not six.
  const rest = started.filter(({ peer }) => !picked(peer.name)).map(({ target }) => target);
  await Promise.all(rest.map((t) => t.stop()));
  // Stopped once: the final clean-up must not wait for their exit again.
  for (const t of rest) targets.splice(targets.indexOf(t), 1);
  await new Promise((r) => setTimeout(r, 3000));
  const runs = picks.map(() => [] as Array<{ p50: number; p99: number; p99_9: number; max: number }>);
  for (let round = 0; round < fixedRounds; round++)
    picks.forEach(([name, port, path], i) => {
      const r = runOpenLoop(binary, { url: `http://127.0.0.1:${port}${path}`, rate, connections: 32, durationS: duration * 2, headers: bearer, warmupS: 2 });
      runs[i]!.push(r.latency);
      fixedRuns.total++;
      if (r.realtime) fixedRuns.realtime++;
      process.stderr.write(`fixed ${rate}/s round ${round + 1} ${name}: p99 ${r.latency.p99} p99.9 ${r.latency.p99_9} ms\n`);
    });
  return picks.map(([name], i) => {
    const m = (k: 'p50' | 'p99' | 'p99_9' | 'max') => median(runs[i]!.map((x) => x[k]));
    return { name, p50_ms: m('p50'), p99_ms: m('p99'), p999_ms: m('p99_9'), max_ms: m('max'), p999_rounds: runs[i]!.map((x) => x.p99_9) };
  });
}

function report(rows: Row[], fixed: Fixed[]): void {
  const med = (row: Row | undefined, k: keyof Measured) => (row ? median(row.runs.map((r) => r[k] as number)) : Number.NaN);
  const byName = (name: string) => rows.find((r) => r.peer.name === name);
  const ratio = (a: string, b: string) => {
    const x = med(byName(a), 'rps') / med(byName(b), 'rps');
    return Number.isFinite(x) ? x.toFixed(2) : 'n/a';
  };
  /** Per round, this config's CPU per request minus the hot path's (the two ran back to back). */
  const paired = (name: string): string => {
    const a = byName(name);
    const b = byName(HOT);
    if (!a || !b) return 'n/a';
    const d = (k: 'cpu_us' | 'user_us') => median(a.runs.map((r, i) => r[k] - b.runs[i]![k])).toFixed(1);
    return `${d('cpu_us')} (${d('user_us')}) [rounds ${a.runs.map((r, i) => (r.cpu_us - b.runs[i]!.cpu_us).toFixed(1)).join(' / ')}]`;
  };
  const command = `npm run bench:peers (BENCH_DURATION=${duration} BENCH_ROUNDS=${rounds} BENCH_RATE=${rate} BENCH_FIXED_ROUNDS=${fixedRounds}${only ? ` BENCH_ONLY=${only.source}` : ''}${drain ? '' : ' BENCH_DRAIN=0'})`;
  const load = `load average at start ${loadAtStart}, at end ${loadAverage()} (1/5/15 min; 2 vCPUs shared with other work)`;
  const layout = `wrk -t1 -c64 on core 0, proxy under test and nginx upstream on core 1, Redis on core 0; ${rounds} rounds of ${duration} s alternating configs after a 2 s warm-up each, medians; CPU from /proc of the proxy's processes (user + system, and user) and of the upstream`;
  const md = [
    '# peers: the sidecar next to nginx and HAProxy',
    '',
    '| config | rps (median) | rps (rounds) | CPU µs/req (user) | upstream µs/req | p99 ms (wrk) |',
    '|---|---:|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.peer.name} | ${med(r, 'rps')} | ${r.runs.map((x) => x.rps).join(' / ')} | ${med(r, 'cpu_us')} (${med(r, 'user_us')}) | ${med(r, 'upstream_us')} | ${med(r, 'p99_ms')} |`,
    ),
    '',
    ...(fixed.length
      ? [
          `Fixed rate ${rate}/s (bench/openloop.c, 32 connections, ${duration * 2} s after 2 s warm-up, ${fixedRounds} rounds alternating the configs, medians; latency from each request's due time; generator at real-time priority in ${fixedRuns.realtime} of ${fixedRuns.total} runs):`,
          '',
          '| config | p50 ms | p99 ms | p99.9 ms | p99.9 ms (rounds) | max ms |',
          '|---|---:|---:|---:|---|---:|',
          ...fixed.map((f) => `| ${f.name} | ${f.p50_ms} | ${f.p99_ms} | ${f.p999_ms} | ${f.p999_rounds.join(' / ')} | ${f.max_ms} |`),
          '',
        ]
      : []),
    `- hot path / sidecar passthrough rps: ${ratio(HOT, PASS)} (issue 27 goal 1: ≥ 0.90)`,
    `- hot path / HAProxy jwt_verify + stick table rps: ${ratio(HOT, HAPROXY_JWT)} (goal 2: ≥ 1.25)`,
    `- hot path / Fastify gateway rps: ${ratio(HOT, FASTIFY)} (goal 2: ≥ 2.5)`,
    `- JWT cache hit + limit / passthrough: ${ratio(JWT, PASS)}; passthrough / nginx: ${ratio(PASS, 'nginx plain reverse proxy')}`,
    `- tracing configured at ratio 0, CPU µs/req added over the hot path (issue 28: ≤ 0.5), median of the rounds' paired differences, total (user): no client traceparent ${paired(TRACE0)}; client traceparent ${paired(TRACE0_TP)}`,
    `- metered batches ${drain ? 'completed by bench/drainer.ts on core 0 (a billing worker without a ledger)' : 'never acknowledged (BENCH_DRAIN=0)'}`,
    `- ${layout}`,
    `- ${load}`,
    '',
  ].join('\n');
  writeResultFiles(
    'peers',
    command,
    { loadavg: loadAtStart },
    { rows: rows.map((r) => ({ config: r.peer.name, path: r.peer.path, runs: r.runs })), fixed_rate: fixed },
    md,
  );
  process.stdout.write(md);
  udsVsTcp(rows, command, load, layout);
}

/** The UDS/TCP pairs of the same run as their own result. */
function udsVsTcp(rows: Row[], command: string, load: string, layout: string): void {
  const pairs = new Map<string, { tcp?: Row; uds?: Row }>();
  for (const r of rows) if (r.peer.pair) pairs.set(r.peer.pair[0], { ...pairs.get(r.peer.pair[0]), [r.peer.pair[1]]: r });
  const complete = [...pairs].filter(([, p]) => p.tcp && p.uds);
  if (complete.length === 0) return;
  const med = (row: Row, k: keyof Measured) => median(row.runs.map((r) => r[k] as number));
  const lines = complete.map(([name, p]) => {
    const [t, u] = [p.tcp!, p.uds!];
    const pct = (k: keyof Measured) => `${(((med(u, k) - med(t, k)) / med(t, k)) * 100).toFixed(1)}%`;
    return `| ${name} | ${med(t, 'rps')} | ${med(u, 'rps')} | ${pct('rps')} | ${med(t, 'cpu_us')} (${med(t, 'user_us')}) | ${med(u, 'cpu_us')} (${med(u, 'user_us')}) | ${pct('cpu_us')} | ${med(t, 'upstream_us')} → ${med(u, 'upstream_us')} |`;
  });
  const md = [
    '# Unix-socket upstream vs TCP loopback',
    '',
    '| proxy | TCP rps | UDS rps | rps change | TCP CPU µs/req (user) | UDS CPU µs/req (user) | proxy CPU change | upstream µs/req TCP → UDS |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...lines,
    '',
    `- Same run as peers.md (${command}); rounds alternate every config, UDS and TCP rows included.`,
    `- ${layout}`,
    `- ${load}`,
    '',
  ].join('\n');
  writeResultFiles(
    'uds-vs-tcp',
    command,
    { loadavg: loadAverage() },
    { pairs: complete.map(([name, p]) => ({ name, tcp: p.tcp!.runs, uds: p.uds!.runs })) },
    md,
  );
  process.stdout.write(md);
}
