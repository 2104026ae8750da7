/**
 * Where the hot path's latency tail comes from: the same fixed-rate window as
 * gc-latency.ts, run on sidecar configs that each leave one part of the hot path
 * out (the credential and limit, the metering, the spool's fdatasync, the
 * per-flush queue add), alternated round by round in one run, every one with the
 * image's Node flags (the Dockerfile ENTRYPOINT, as bench:peers).
 *
 * A part whose removal brings p99.9 down is where the tail comes from; a part
 * that changes nothing is not. Compare rows of one run only: this VM's tail moves
 * between runs by more than any of these parts.
 *
 * BENCH_BASE=<dir of another checkout, built> adds "hot path, base build": the same
 * config run from that build's dist/src/cli.js, for an A/B of two commits in one run.
 *
 * Usage: node dist/bench/tail.js  (Redis, nginx, cc; BENCH_RATE (4500), BENCH_DURATION s (20),
 * BENCH_ROUNDS (3), BENCH_ONLY (regex on the config name), BENCH_BASE).
 * Writes bench/results/<date>-<sha>/tail.{json,md}.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fixedRateBench, fixedRateRow, imageNodeFlags, loadAverage, median, type FixedRateRow } from './peers-kit.js';
import { writeResultFiles } from './results-dir.js';
import type { SidecarVariant } from './scenarios.js';

const rate = Number(process.env['BENCH_RATE'] ?? 4500);
const duration = Number(process.env['BENCH_DURATION'] ?? 20);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const only = process.env['BENCH_ONLY'] ? new RegExp(process.env['BENCH_ONLY']) : undefined;
const base = process.env['BENCH_BASE'];
const baseCommit = base ? spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: base, encoding: 'utf8' }).stdout.trim() : '';
/** The standalone meter keeps every batch: its spool is emptied before each of its rows. */
const STANDALONE_SPOOL = '/tmp/argus-bench-spool-standalone';
const configs: Array<[string, string, SidecarVariant, string?]> = (
  [
    ['passthrough', '/pass/x', { metering: false, ratelimit: false }],
    ['JWT + limit', '/jwt/x', { metering: false }],
    ['hot path', '/jwt/x', {}],
    ['passthrough, helper threads at nice 0', '/pass/x', { metering: false, ratelimit: false, helperNice: 0 }],
    ['hot path, helper threads at nice 0', '/jwt/x', { helperNice: 0 }],
    ...(base ? [[`hot path, base build (${baseCommit})`, '/jwt/x', {}, join(base, 'dist', 'src', 'cli.js')]] : []),
    ['hot path, spool_fsync none', '/jwt/x', { spoolFsync: 'none' }],
    ['hot path, flush every 1 s', '/jwt/x', { flushMs: 1000, batchMax: 10000 }],
    ['hot path, spool on tmpfs (/dev/shm)', '/jwt/x', { spoolDir: '/dev/shm/argus-bench-spool' }],
    ['hot path, spool only (no Redis: nothing sent)', '/jwt/x', { redis: false, spoolDir: STANDALONE_SPOOL }],
  ] as Array<[string, string, SidecarVariant, string?]>
).filter(([name]) => !only || only.test(name));

interface Row extends FixedRateRow {
  config: string;
  round: number;
}

const UP = 3960;
const flags = imageNodeFlags();
const bench = await fixedRateBench('tail', redisUrl, UP);
const rows: Row[] = [];
try {
  let port = 3962;
  for (let round = 0; round < rounds; round++)
    for (const [config, path, variant, cli] of round % 2 === 0 ? configs : [...configs].reverse()) {
      port += 2;
      if (variant.spoolDir === STANDALONE_SPOOL) rmSync(STANDALONE_SPOOL, { recursive: true, force: true });
      const r = await fixedRateRow(bench, {
        label: config,
        port,
        upstreamPort: UP,
        redisUrl,
        path,
        variant,
        flags,
        rate,
        durationS: duration,
        ...(cli ? { cli } : {}),
      });
      rows.push({ config, round, ...r });
      process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
    }
} finally {
  await bench.close();
}

const of = (config: string) => rows.filter((r) => r.config === config);
const md = [
  '# tail: which part of the hot path adds to the latency tail',
  '',
  `Per row: wrk -c64 for 10 s, then ${rate}/s for ${duration} s (bench/openloop.c, 32 connections, 2 s warm-up; latency from each request's due time) against the sidecar on core 1 (Node flags \`${flags.join(' ') || '(none)'}\`, from the Dockerfile), nginx upstream on core 1, Redis, the drainer and the generator on core 0; configs alternate, ${rounds} rounds, medians.`,
  '',
  '| config | p50 ms | p99 ms | p99.9 ms | p99.9 ms (rounds) | max ms (rounds) | scavenges | MB promoted | mark-compacts | slowest in a GC pause % (rounds) | by chance % | in a mark-compact % |',
  '|---|---:|---:|---:|---|---|---:|---:|---:|---|---:|---:|',
  ...configs.map(([config]) => {
    const rs = of(config);
    const med = (k: Exclude<keyof FixedRateRow, 'generator_realtime'>) => median(rs.map((r) => r[k]));
    return `| ${config} | ${med('p50_ms')} | ${med('p99_ms')} | ${med('p999_ms')} | ${rs.map((r) => r.p999_ms).join(' / ')} | ${rs.map((r) => r.max_ms).join(' / ')} | ${med('scavenges')} | ${med('promoted_mb')} | ${rs.map((r) => r.mark_compacts).join(' / ')} | ${rs.map((r) => r.slow_in_gc_pct).join(' / ')} | ${med('slow_in_gc_chance_pct')} | ${med('slow_in_mc_pct')} |`;
  }),
  '',
  '- "slowest in a GC pause": of the window\'s requests at or above its p99.9, the share whose time in flight overlapped a GC pause of the sidecar\'s thread (bench/gc-timeline.ts laid over bench/openloop.c\'s slow-request log); "by chance": the share the same latencies at random times would overlap.',
  `- generator at real-time priority (SCHED_FIFO, bench/openloop.c) in ${rows.filter((r) => r.generator_realtime).length} of ${rows.length} rows`,
  `- load average at start ${bench.load}, at end ${loadAverage()}`,
  '',
].join('\n');
writeResultFiles(
  'tail',
  `node dist/bench/tail.js (BENCH_RATE=${rate} BENCH_DURATION=${duration} BENCH_ROUNDS=${rounds}${only ? ` BENCH_ONLY=${only.source}` : ''}${base ? ` BENCH_BASE=${base}` : ''})`,
  { loadavg: bench.load },
  { flags, rows },
  md,
);
process.stdout.write(md);
