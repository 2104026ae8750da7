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
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, startServer } from './harness.js';
import { runOpenLoop } from './openloop-native.js';
import { fixedRateBench, loadAverage, wrk } from './peers-kit.js';
import { writeResultFiles } from './results-dir.js';
import { sidecarConfig, type SidecarVariant } from './scenarios.js';

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

interface Row {
  config: string;
  flags: string;
  set: string;
  requests: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  scavenges: number;
  scavenge_ms_max: number;
  promoted_mb: number;
  mark_compacts: number;
  mark_compact_pause_ms_max: number;
  incremental_step_ms_max: number;
  background_mark_ms: number;
}

/** The GC side of a `--trace-gc-nvp` log. */
function gcSummary(
  log: string,
): Pick<
  Row,
  'scavenges' | 'scavenge_ms_max' | 'promoted_mb' | 'mark_compacts' | 'mark_compact_pause_ms_max' | 'incremental_step_ms_max' | 'background_mark_ms'
> {
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

const UP = 3940;
const bench = await fixedRateBench('gc-latency', redisUrl, UP);
const { dir, creds, bearer, generator: gen, load } = bench;
const rows: Row[] = [];
try {
  let port = 3942;
  for (let round = 0; round < rounds; round++)
    for (const [config, path, variant] of configs)
      for (const [set, flags] of round % 2 === 0 ? flagSets : [...flagSets].reverse()) {
        port += 2;
        const file = join(dir, `side-${port}.yaml`);
        writeFileSync(file, sidecarConfig(port, port + 1, UP, redisUrl, creds, { ...variant, spoolDir: join(dir, `spool-${port}`) }));
        const logDir = mkdtempSync(join(dir, 'log-'));
        process.env['BENCH_SERVER_LOG_DIR'] = logDir;
        const s = await startServer(`sidecar ${set}`, `${DIST}src/cli.js`, ['proxy', '--config', file], port, 1, {}, [...flags, '--trace-gc-nvp']);
        try {
          wrk(port, path, bearer, 10, 64);
          const logFile = join(logDir, `${s.pid}.log`);
          const mark = readFileSync(logFile, 'utf8').length;
          const r = runOpenLoop(gen, { url: `http://127.0.0.1:${port}${path}`, headers: bearer, rate, connections: 32, durationS: duration, warmupS: 2 });
          const gc = gcSummary(readFileSync(logFile, 'utf8').slice(mark));
          rows.push({
            config,
            flags: flags.join(' ') || '(defaults)',
            set,
            requests: r.requests.total,
            p50_ms: r.latency.p50,
            p99_ms: r.latency.p99,
            p999_ms: r.latency.p99_9,
            max_ms: r.latency.max,
            ...gc,
          });
          process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
        } finally {
          await s.stop();
        }
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
