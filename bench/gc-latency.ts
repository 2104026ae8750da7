/**
 * What the garbage collector does to the latency tail at a fixed rate, with two
 * sets of Node flags for the sidecar, alternated round by round in one run.
 *
 * Why it exists: bench:peers' fixed-rate rows put the hot path's p99.9 at 20-29 ms
 * when one mark-compact fell in the window. With the sidecar pinned to one core
 * (as in a pod whose CPU limit is its thread count), V8's concurrent-marking and
 * array-buffer-sweeping threads share that core with the JavaScript thread: the
 * scheduler gives them whole time slices (10-12 ms steps in `--trace-gc-nvp`),
 * and requests wait. `--single-threaded-gc` does the same marking in ~0.5 ms
 * incremental steps on the JavaScript thread instead.
 *
 * Each row: a 10 s wrk saturation (grows the heap as bench:peers' rounds do), then
 * the C open-loop generator at BENCH_RATE for BENCH_DURATION s, with
 * `--trace-gc-nvp` on: p50/p99/p99.9/max, scavenges, mark-compacts, their longest
 * pause, longest incremental step and background marking time.
 *
 * Usage: node dist/bench/gc-latency.js  (Redis, nginx, cc; BENCH_RATE (4500), BENCH_DURATION s (60),
 * BENCH_ROUNDS (2), BENCH_FLAGS_A ('' = Node's defaults), BENCH_FLAGS_B (--single-threaded-gc),
 * BENCH_ONLY (regex on the config name)).
 * Writes bench/results/<date>-<sha>/gc-latency.{json,md}.
 */
import { fixedRateBench, fixedRateRow, loadAverage, type FixedRateRow } from './peers-kit.js';
import { writeResultFiles } from './results-dir.js';
import type { SidecarVariant } from './scenarios.js';

const rate = Number(process.env['BENCH_RATE'] ?? 4500);
const duration = Number(process.env['BENCH_DURATION'] ?? 60);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 2);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const split = (s: string) => s.split(' ').filter(Boolean);
const flagSets: Array<[string, string[]]> = [
  ['A', split(process.env['BENCH_FLAGS_A'] ?? '')],
  ['B', split(process.env['BENCH_FLAGS_B'] ?? '--single-threaded-gc')],
];
const only = process.env['BENCH_ONLY'] ? new RegExp(process.env['BENCH_ONLY']) : undefined;
const configs: Array<[string, string, SidecarVariant]> = (
  [
    ['passthrough', '/pass/x', { metering: false, ratelimit: false }],
    ['hot path (JWT + limit + metering)', '/jwt/x', {}],
  ] as Array<[string, string, SidecarVariant]>
).filter(([name]) => !only || only.test(name));

interface Row extends FixedRateRow {
  config: string;
  flags: string;
  set: string;
}

const UP = 3940;
const bench = await fixedRateBench('gc-latency', redisUrl, UP);
const { load } = bench;
const rows: Row[] = [];
try {
  let port = 3942;
  for (let round = 0; round < rounds; round++)
    for (const [config, path, variant] of configs)
      for (const [set, flags] of round % 2 === 0 ? flagSets : [...flagSets].reverse()) {
        port += 2;
        const r = await fixedRateRow(bench, { label: `sidecar ${set}`, port, upstreamPort: UP, redisUrl, path, variant, flags, rate, durationS: duration });
        rows.push({ config, flags: flags.join(' ') || '(defaults)', set, ...r });
        process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
      }
} finally {
  await bench.close();
}

const md = [
  '# gc-latency: the latency tail at a fixed rate, by Node GC flags',
  '',
  `Per row: wrk -c64 for 10 s, then ${rate}/s for ${duration} s (C generator, 32 connections, 2 s warm-up) against the sidecar on core 1 with --trace-gc-nvp; A and B alternate, ${rounds} rounds. A = \`${flagSets[0]![1].join(' ') || '(defaults)'}\`, B = \`${flagSets[1]![1].join(' ') || '(defaults)'}\`. "Longest GC step" is the longest incremental-marking step or array-buffer sweep of a mark-compact (each stalls the JavaScript thread); "background marking" is CPU the marking threads took from the same core.`,
  '',
  '| config | set | requests | p50 ms | p99 ms | p99.9 ms | max ms | scavenges (max ms) | MB promoted | mark-compacts | pause ms max | longest GC step ms | background marking ms |',
  '|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.config} | ${r.set} | ${r.requests} | ${r.p50_ms} | ${r.p99_ms} | ${r.p999_ms} | ${r.max_ms} | ${r.scavenges} (${r.scavenge_ms_max}) | ${r.promoted_mb} | ${r.mark_compacts} | ${r.mark_compact_pause_ms_max} | ${r.incremental_step_ms_max} | ${r.background_mark_ms} |`,
  ),
  '',
  `- load average at start ${load}, at end ${loadAverage()}`,
  '',
].join('\n');
writeResultFiles(
  'gc-latency',
  `node dist/bench/gc-latency.js (BENCH_RATE=${rate} BENCH_DURATION=${duration} BENCH_ROUNDS=${rounds}${only ? ` BENCH_ONLY=${only.source}` : ''})`,
  { loadavg: load },
  { flag_sets: Object.fromEntries(flagSets), rows },
  md,
);
process.stdout.write(md);
