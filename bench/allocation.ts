/**
 * Heap allocation per request, from V8's own GC log. A young-generation
 * scavenge pauses the sidecar for ~1–2 ms (bench/results/2026-12-04-faa1312/p99-tail.md); how often
 * one comes is set by the bytes each request allocates, and how long it lasts by
 * what survives it and by the ArrayBuffers it sweeps, not by the garbage. Unlike a
 * latency, these do not move with the VM's noise: the same build repeats within ~2%.
 *
 * The sidecar and the minimal uWS → h1 proxy (the floor of any Node proxy hop)
 * run with --trace-gc-nvp, their output going to a file. Each route is warmed up,
 * then loaded for BENCH_DURATION s; the GC lines logged during the load give the
 * bytes allocated per request (V8's `allocated` since the previous GC, summed),
 * scavenges per 10,000 requests, and per scavenge (medians) its pause, the part of
 * it spent sweeping young ArrayBuffers, and the bytes it found alive and promoted.
 * The first GC of a window also counts bytes from just before it (at most one
 * young generation, ~1% of a window's total).
 *
 * Usage: node dist/bench/allocation.js  (Redis on 127.0.0.1:6379; BENCH_DURATION
 * s per route and round, default 4; BENCH_ROUNDS, default 2, the lowest kept;
 * BENCH_ONLY=REGEX, only the sidecar routes whose name matches; BENCH_FLUSH_MS,
 * the metering flush interval; BENCH_SIDECAR_NODE_FLAGS, more flags for the sidecar;
 * BENCH_RATE=RPS, open-loop loads at that rate instead, adding the share of
 * requests that arrived during a GC pause past its first 0.5 ms (a lower bound
 * on what GC alone adds to the tail, free of this VM's wake-up noise);
 * BENCH_CLI=OTHER/dist/src/cli.js measures another build and only prints).
 * Writes bench/results/<date>-<sha>/allocation.{json,md} (allocation-rate.{json,md} with
 * BENCH_RATE); with BENCH_CLI or BENCH_SIDECAR_NODE_FLAGS it only prints.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DIST, machine, nodeFlagsFrom, runLoad, startServer, type Server } from './harness.js';
import { costRoutes, makeCredentials, removeCredentials, sidecarConfig } from './scenarios.js';
import { writeResultFiles } from './results-dir.js';

const duration = Number(process.env['BENCH_DURATION'] ?? 4);
// BENCH_RATE: fixed-rate loads (open loop, rps) instead of closed-loop ones; adds the share of requests a GC pause held past 0.5 ms.
const rate = Number(process.env['BENCH_RATE'] ?? 0) || undefined;
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 2);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const CLI = process.env['BENCH_CLI'] ?? `${DIST}src/cli.js`;
const UP = 3951;
const SIDE = 3953;
const MIN = 3956;

/** One GC as --trace-gc-nvp prints it (the fields used here). */
interface Gc {
  scavenge: boolean;
  pauseMs: number;
  allocated: number;
  survived: number;
  promoted: number;
  arrayBuffersMs: number;
}

function parseGcLines(text: string): Gc[] {
  const out: Gc[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes(' pause=')) continue;
    const field = (name: string) => Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
    out.push({
      scavenge: / gc=s\b/.test(line),
      pauseMs: field('pause'),
      allocated: field('allocated'),
      survived: field('new_space_survived'),
      promoted: field('promoted'),
      arrayBuffersMs: field('scavenge.sweep_array_buffers'),
    });
  }
  return out;
}

export interface AllocationRow {
  route: string;
  requests: number;
  bytesPerRequest: number;
  scavengesPer10k: number;
  scavengePauseP50Ms: number;
  /** Median KB a scavenge found alive (V8's new_space_survived: copied within the young generation or promoted). */
  survivedKbP50: number;
  /** Median KB a scavenge promoted to the old generation. */
  promotedKbP50: number;
  /** Median time a scavenge spent sweeping young ArrayBuffers (one per Buffer/ArrayBuffer allocated). */
  arrayBuffersMsP50: number;
  /** With BENCH_RATE: % of requests that arrived during a GC pause past its first 0.5 ms (all GCs). */
  gcDelayedPct: number | undefined;
  p99Ms: number;
}

/** Load one route and read the GC lines its server logged meanwhile. */
async function measure(server: Server, logFile: string, route: string, path: string, headers: Record<string, string>): Promise<AllocationRow> {
  const before = readFileSync(logFile, 'utf8').length;
  const load = rate ? { mode: 'rate' as const, rate } : { mode: 'closed' as const };
  const r = await runLoad(
    { scenario: route, target: server.name, ...load, url: `http://127.0.0.1:${server.port}${path}`, connections: 16, durationS: duration, headers },
    server,
  );
  if (r.non2xx > 0 || r.errors > 0 || r.requests === 0) throw new Error(`${route}: ${r.non2xx} non-2xx and ${r.errors} errors of ${r.requests} requests`);
  const gcs = parseGcLines(readFileSync(logFile, 'utf8').slice(before));
  const scavenges = gcs.filter((g) => g.scavenge);
  const p50 = (f: (g: Gc) => number) => scavenges.map(f).sort((a, b) => a - b)[Math.floor(scavenges.length / 2)] ?? 0;
  const sum = (f: (g: Gc) => number) => gcs.reduce((s, g) => s + f(g), 0);
  return {
    route,
    requests: r.requests,
    bytesPerRequest: Math.round(sum((g) => g.allocated) / r.requests),
    scavengesPer10k: Math.round((scavenges.length / r.requests) * 1e5) / 10,
    scavengePauseP50Ms: p50((g) => g.pauseMs),
    survivedKbP50: Math.round(p50((g) => g.survived) / 1024),
    promotedKbP50: Math.round(p50((g) => g.promoted) / 1024),
    arrayBuffersMsP50: p50((g) => g.arrayBuffersMs),
    // Requests arriving while a pause had already lasted 0.5 ms wait longer than that (a lower bound: the backlog adds more).
    gcDelayedPct: rate ? Math.round(((gcs.reduce((t, g) => t + Math.max(0, g.pauseMs - 0.5), 0) / 1000) * rate * 1e4) / r.requests) / 100 : undefined,
    p99Ms: r.p99_ms,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'argus-allocation-'));
// The servers' GC logs: BENCH_SERVER_LOG_DIR keeps them, else they go with the temporary directory.
const logDir = process.env['BENCH_SERVER_LOG_DIR'] ?? dir;
process.env['BENCH_SERVER_LOG_DIR'] = logDir;
const creds = await makeCredentials(dir, redisUrl, 1);
const admin = new Redis(redisUrl);
const file = join(dir, 'sidecar.yaml');
// BENCH_FLUSH_MS: the sidecar's metering.flush_interval_ms (default: the config's).
const flushMs = Number(process.env['BENCH_FLUSH_MS'] ?? 0) || undefined;
writeFileSync(file, sidecarConfig(SIDE, SIDE + 1, UP, redisUrl, creds, { flushMs }));
// BENCH_SIDECAR_NODE_FLAGS: more Node/V8 flags for the sidecar, space-separated (e.g. --max-semi-space-size=4).
const sidecarFlags = nodeFlagsFrom('BENCH_SIDECAR_NODE_FLAGS') ?? [];
const servers: Server[] = [];
const rows: AllocationRow[] = [];
try {
  servers.push(await startServer('upstream', `${DIST}bench/upstream.js`, [String(UP)], UP, 0));
  const sidecar = await startServer('sidecar (defaults)', CLI, ['proxy', '--config', file], SIDE, 1, {}, ['--trace-gc-nvp', ...sidecarFlags]);
  servers.push(sidecar);
  const minimal = await startServer('minimal uWS→h1', `${DIST}bench/minimal-proxy.js`, [String(MIN), `http://127.0.0.1:${UP}`, 'h1'], MIN, 1, {}, [
    '--trace-gc-nvp',
  ]);
  servers.push(minimal);
  // BENCH_ONLY=REGEX: only the sidecar routes whose name matches (the minimal proxy always runs).
  const only = new RegExp(process.env['BENCH_ONLY'] ?? '');
  type Run = [name: string, server: Server, path: string, headers: Record<string, string>];
  const runs: Run[] = [
    ['minimal uWS→h1 proxy', minimal, '/x', {}],
    ...costRoutes(creds)
      .filter(([name]) => only.test(name))
      .map(([name, path, headers]): Run => [name, sidecar, path, headers]),
  ];
  for (const [, server, path, headers] of runs) {
    await runLoad(
      { scenario: 'warmup', target: '', mode: 'closed', url: `http://127.0.0.1:${server.port}${path}`, connections: 16, durationS: 2, headers },
      server,
    );
  }
  const best = new Map<string, AllocationRow>();
  for (let i = 0; i < rounds; i++) {
    for (const [name, server, path, headers] of runs) {
      const row = await measure(server, join(logDir, `${server.pid}.log`), name, path, headers);
      process.stderr.write(
        `round ${i + 1} ${name.padEnd(22)} ${row.bytesPerRequest} B/request, ${row.scavengesPer10k} scavenges/10k, pause p50 ${row.scavengePauseP50Ms} ms (ArrayBuffers ${row.arrayBuffersMsP50}), survived ${row.survivedKbP50} KB, promoted ${row.promotedKbP50} KB${rate ? `, GC-delayed > 0.5 ms ${row.gcDelayedPct}%, p99 ${row.p99Ms} ms` : ''}\n`,
      );
      const prev = best.get(name);
      if (!prev || row.bytesPerRequest < prev.bytesPerRequest) best.set(name, row);
    }
  }
  rows.push(...best.values());
} finally {
  for (const s of servers.reverse()) await s.stop();
  await removeCredentials(admin, creds);
  admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

const command = `node dist/bench/allocation.js (BENCH_DURATION=${duration} BENCH_ROUNDS=${rounds}${rate ? ` BENCH_RATE=${rate}` : ''}${sidecarFlags.length ? ` BENCH_SIDECAR_NODE_FLAGS="${sidecarFlags.join(' ')}"` : ''}${flushMs ? ` BENCH_FLUSH_MS=${flushMs}` : ''}${process.env['BENCH_CLI'] ? ` BENCH_CLI=${CLI}` : ''})`;
const floor = rows[0]!.bytesPerRequest;
const rateCols = rate ? ' requests a GC pause held > 0.5 ms | p99 ms |' : '';
const table = [
  `| route | requests | allocated B/request | over the minimal proxy | scavenges per 10k requests | scavenge pause p50 ms | of it sweeping ArrayBuffers | survived KB p50 | promoted KB p50 |${rateCols}`,
  `|---|---:|---:|---:|---:|---:|---:|---:|---:|${rate ? '---:|---:|' : ''}`,
  ...rows.map(
    (r) =>
      `| ${r.route} | ${r.requests} | ${r.bytesPerRequest} | ${r === rows[0] ? '' : `+${r.bytesPerRequest - floor}`} | ${r.scavengesPer10k} | ${r.scavengePauseP50Ms} | ${r.arrayBuffersMsP50} | ${r.survivedKbP50} | ${r.promotedKbP50} |${rate ? ` ${r.gcDelayedPct}% | ${r.p99Ms} |` : ''}`,
  ),
].join('\n');
const md = `# allocation${rate ? ` at ${rate} rps` : ''}\n\n${rate ? `Open loop at ${rate} rps` : 'Closed loop'}, 16 connections; the lowest of ${rounds} rounds per route. Sidecar: defaults (metering on, local limits).\n\n${table}\n`;
process.stdout.write(`${command}\n${JSON.stringify(machine())}\n\n${md}`);
// Only the defaults are recorded (another build or other flags only print).
if (!process.env['BENCH_CLI'] && sidecarFlags.length === 0) {
  const suite = rate ? 'allocation-rate' : 'allocation';
  writeResultFiles(suite, command, machine(), { rows }, md);
}
