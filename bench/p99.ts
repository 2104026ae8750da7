/**
 * Issue 3's latency target: p99 added at a fixed ~5,000 rps versus direct, under
 * 0.5 ms. Direct (generator → upstream) and the sidecar's routes are measured in
 * alternating rounds, so machine noise hits each alike; "added" is a route's p99
 * minus direct's p99 in the same round, and the median over rounds is reported.
 *
 * Layout (2 cores): the load generator, the upstream and a local Redis on core 0;
 * the sidecar alone on core 1. The generator is the C one (bench/openloop.c:
 * no pauses of its own, sleeps between due times so the upstream on its core is
 * not starved); direct's own p99 is the floor this machine can resolve. A
 * minimal uWS → h1 passthrough (bench/minimal-proxy.ts: no checks, no metering)
 * runs on the sidecar's core as a second floor: what any Node proxy hop costs here.
 *
 * Usage: node dist/bench/p99.js  (Redis on 127.0.0.1:6379; BENCH_RATE, default
 * 5000; BENCH_DURATION s per run, default 5; BENCH_ROUNDS, default 3;
 * BENCH_SIDECAR_NODE_FLAGS, Node flags for the sidecar, e.g. --cpu-prof;
 * BENCH_CLI_B=OTHER/dist/src/cli.js, another build measured alongside, rows "B: ...";
 * BENCH_SIDECAR_NODE_FLAGS_B, build B's Node flags (default A's: the same build with
 * other flags is BENCH_CLI_B=dist/src/cli.js);
 * BENCH_ONLY=REGEX, only the sidecar routes whose name matches; BENCH_SLOW_DIR=DIR,
 * every run's slow requests in DIR/<route>-r<round>.txt, see bench/openloop.c).
 * Writes bench/results/<date>-<sha>/p99.{json,md}.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DIST, nodeFlagsFrom, pinLocalRedis, runLoad, startServer, writeResults, type LoadResult, type Server } from './harness.js';
import { buildOpenLoop } from './openloop-native.js';
import { costRoutes, makeCredentials, removeCredentials, sidecarConfig } from './scenarios.js';

const rate = Number(process.env['BENCH_RATE'] ?? 5000);
const duration = Number(process.env['BENCH_DURATION'] ?? 5);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const UP = 3941;
const SIDE = 3943;
const MIN = 3946;
const SIDE_B = 3948;
// BENCH_PROXY_CORE: the core of the proxies under test (default 1, alone; 0 shares the generator's and upstream's core).
const CORE = Number(process.env['BENCH_PROXY_CORE'] ?? 1);

const built = buildOpenLoop();
if (built instanceof Error) {
  process.stderr.write(`p99: ${built.message}\nThis bench needs the C generator (a C compiler, e.g. apt-get install gcc).\n`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'argus-p99-'));
const creds = await makeCredentials(dir, redisUrl, 1);
const admin = new Redis(redisUrl);
const unpinRedis = await pinLocalRedis(admin);
const results: LoadResult[] = [];
const notes: string[] = [];
const file = join(dir, 'sidecar.yaml');
// BENCH_FLUSH_MS / BENCH_BATCH_MAX: the sidecar's metering.flush_interval_ms / batch_max_events (default: the config's).
const flushMs = Number(process.env['BENCH_FLUSH_MS'] ?? 0) || undefined;
const batchMax = Number(process.env['BENCH_BATCH_MAX'] ?? 0) || undefined;
// BENCH_METERING=0: metering off in the sidecar (and build B).
const metering = process.env['BENCH_METERING'] !== '0';
writeFileSync(file, sidecarConfig(SIDE, SIDE + 1, UP, redisUrl, creds, { flushMs, batchMax, metering }));
// BENCH_SIDECAR_NODE_FLAGS: Node/V8 flags for the sidecar alone, space-separated (e.g. --max-semi-space-size=2, --cpu-prof).
const sidecarFlags = nodeFlagsFrom('BENCH_SIDECAR_NODE_FLAGS') ?? [];
// BENCH_CLI_B=OTHER/dist/src/cli.js: a second build measured on the same routes in the same rounds (before/after in one run).
// BENCH_SIDECAR_NODE_FLAGS_B: build B's flags (default: the same as A's); with BENCH_CLI_B=dist/src/cli.js it compares flags.
const cliB = process.env['BENCH_CLI_B'];
const sidecarFlagsB = nodeFlagsFrom('BENCH_SIDECAR_NODE_FLAGS_B') ?? sidecarFlags;
const byPort = new Map<number, Server>();
async function start(...args: Parameters<typeof startServer>): Promise<Server> {
  const server = await startServer(...args);
  byPort.set(server.port, server);
  return server;
}
const serverOf = (port: number): Server => byPort.get(port)!;
try {
  await start('direct', `${DIST}bench/upstream.js`, [String(UP)], UP, 0);
  await start('sidecar (defaults)', `${DIST}src/cli.js`, ['proxy', '--config', file], SIDE, CORE, {}, sidecarFlags);
  // The floor for any Node proxy here: a uWS → h1 passthrough with no checks, on the sidecar's core.
  await start('minimal uWS→h1', `${DIST}bench/minimal-proxy.js`, [String(MIN), `http://127.0.0.1:${UP}`, 'h1'], MIN, CORE);
  if (cliB) {
    const fileB = join(dir, 'sidecar-b.yaml');
    writeFileSync(fileB, sidecarConfig(SIDE_B, SIDE_B + 1, UP, redisUrl, creds, { flushMs, batchMax, metering }));
    await start('sidecar B (defaults)', cliB, ['proxy', '--config', fileB], SIDE_B, CORE, {}, sidecarFlagsB);
  }
  // [name, port, path, headers]: direct, the minimal proxy, then every cost route through the sidecar (and build B).
  // BENCH_ONLY=REGEX: only the sidecar routes whose name matches (direct and the minimal proxy always run).
  const only = new RegExp(process.env['BENCH_ONLY'] ?? '');
  type Run = [name: string, port: number, path: string, headers: Record<string, string>];
  const runs: Run[] = [
    ['direct', UP, '/x', { authorization: `Bearer ${creds.jwt}` }],
    ['minimal uWS→h1 proxy', MIN, '/x', {}],
    ...costRoutes(creds)
      .filter(([name]) => only.test(name))
      .flatMap(([name, path, headers]) => [[name, SIDE, path, headers] as Run, ...(cliB ? [[`B: ${name}`, SIDE_B, path, headers] as Run] : [])]),
  ];
  for (const [, port, path, headers] of runs) {
    await runLoad(
      { scenario: 'warmup', target: '', mode: 'closed', url: `http://127.0.0.1:${port}${path}`, connections: 16, durationS: 2, headers },
      serverOf(port),
    );
  }
  const slowDir = process.env['BENCH_SLOW_DIR'];
  const p99 = new Map<string, number[]>();
  const p50 = new Map<string, number[]>();
  for (let i = 0; i < rounds; i++) {
    for (const [name, port, path, headers] of runs) {
      // BENCH_SLOW_DIR: each run's slow requests (OPENLOOP_SLOW) in DIR/<route>-r<round>.txt.
      if (slowDir) process.env['OPENLOOP_SLOW'] = join(slowDir, `${name.replace(/[^a-z0-9]+/gi, '-')}-r${i + 1}.txt`);
      const r = await runLoad(
        {
          scenario: name,
          target: serverOf(port).name,
          mode: 'rate',
          rate,
          url: `http://127.0.0.1:${port}${path}`,
          connections: 16,
          durationS: duration,
          headers,
        },
        serverOf(port),
      );
      results.push(r);
      p99.set(name, [...(p99.get(name) ?? []), r.p99_ms]);
      p50.set(name, [...(p50.get(name) ?? []), r.p50_ms]);
      process.stderr.write(`round ${i + 1} ${name.padEnd(22)} p50 ${r.p50_ms} p99 ${r.p99_ms} p99.9 ${r.p999_ms} max ${r.max_ms} ms  non-2xx ${r.non2xx}\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const direct99 = p99.get('direct') ?? [];
  const direct50 = p50.get('direct') ?? [];
  for (const [name] of runs.slice(1)) {
    const added99 = (p99.get(name) ?? []).map((v, i) => v - (direct99[i] ?? NaN));
    const added50 = (p50.get(name) ?? []).map((v, i) => v - (direct50[i] ?? NaN));
    notes.push(
      `${name}: p99 added ${median(added99).toFixed(3)} ms (median of ${rounds} rounds: ${added99.map((v) => v.toFixed(2)).join(', ')}); p50 added ${median(added50).toFixed(3)} ms`,
    );
  }
  notes.push(`direct p99 per round: ${direct99.join(', ')} ms (the floor this machine resolves).`);
  if (cliB) notes.push(`B: rows are build ${cliB}, measured in the same rounds.`);
  notes.push(
    `Issue 3 target: p99 added at ~${rate} rps < 0.5 ms. Generator (bench/openloop.c, sleeping between due times), upstream and Redis on core 0; the sidecar (defaults: metering on, local limits) alone on core 1.`,
  );
  writeResults('p99', `node dist/bench/p99.js (BENCH_RATE=${rate} BENCH_DURATION=${duration} BENCH_ROUNDS=${rounds})`, results, notes);
} finally {
  for (const server of [...byPort.values()].reverse()) await server.stop();
  unpinRedis();
  await removeCredentials(admin, creds);
  admin.disconnect();
}
