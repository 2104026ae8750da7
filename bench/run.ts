/**
 * `npm run bench`: the sidecar against the upstream directly and against a minimal
 * uWS → undici passthrough, same connections and duration, in one run.
 * Closed-loop (fixed connections) and fixed-rate (~5,000 rps) modes.
 *
 * Env: BENCH_DURATION (seconds per run, default 10), BENCH_CONNECTIONS (default 64).
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, runLoad, startServer, writeResults, type LoadResult, type Server } from './harness.js';

const duration = Number(process.env['BENCH_DURATION'] ?? 10);
const connections = Number(process.env['BENCH_CONNECTIONS'] ?? 64);
const rate = Number(process.env['BENCH_RATE'] ?? 5000);
const UP = 3901;
const MIN = 3902;
const SIDE = 3903;

const dir = mkdtempSync(join(tmpdir(), 'argus-bench-'));
const cfgFile = join(dir, 'bench.yaml');
writeFileSync(
  cfgFile,
  `listen: { host: 127.0.0.1, port: ${SIDE} }
admin: { host: 127.0.0.1, port: 3904 }
log: { level: warn }
upstream: { url: http://127.0.0.1:${UP}, connections: 128 }
routes:
  - path: /pass/*
    auth: none
`,
);

const servers: Server[] = [];
try {
  const upstream = await startServer('upstream', `${DIST}bench/upstream.js`, [String(UP)], UP);
  servers.push(upstream);
  const minimal = await startServer('minimal', `${DIST}bench/minimal-proxy.js`, [String(MIN), `http://127.0.0.1:${UP}`], MIN);
  servers.push(minimal);
  const sidecar = await startServer('sidecar', `${DIST}src/cli.js`, ['proxy', '--config', cfgFile], SIDE);
  servers.push(sidecar);

  const results: LoadResult[] = [];
  const url = (port: number) => `http://127.0.0.1:${port}/pass/x`;
  const run = async (target: Server, mode: 'closed' | 'rate') => {
    // Warm up JIT and keep-alive pools before measuring.
    await runLoad({ scenario: 'warmup', target: target.name, mode: 'closed', url: url(target.port), connections, durationS: 2 }, target);
    const r = await runLoad({ scenario: 'passthrough', target: target.name, mode, url: url(target.port), connections: mode === 'rate' ? Math.min(connections, 32) : connections, durationS: duration, ...(mode === 'rate' ? { rate } : {}) }, target);
    results.push(r);
    process.stderr.write(`${r.target} ${r.mode}: ${r.rps} rps p99 ${r.p99_ms} ms\n`);
  };
  for (const target of [upstream, minimal, sidecar]) await run(target, 'closed');
  for (const target of [upstream, sidecar]) await run(target, 'rate');

  const byTarget = (t: string, m: string) => results.find((r) => r.target === t && r.mode.startsWith(m))!;
  const ratio = byTarget('sidecar', 'closed').rps / byTarget('minimal', 'closed').rps;
  const addedP99 = byTarget('sidecar', 'rate').p99_ms - byTarget('upstream', 'rate').p99_ms;
  writeResults('foundation', `npm run bench (BENCH_DURATION=${duration} BENCH_CONNECTIONS=${connections})`, results, [
    `sidecar / minimal uWS→undici passthrough (closed loop): ${(ratio * 100).toFixed(1)}% (target ≥ 90%)`,
    `p99 added at ${rate} rps vs direct: ${addedP99.toFixed(2)} ms (target ≤ 0.5 ms)`,
    'CPU µs/req and RSS are of the target process (upstream itself for "direct").',
  ]);
} finally {
  for (const s of servers.reverse()) await s.stop();
}
