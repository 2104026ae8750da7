/**
 * What the garbage collector does to a sidecar under load: young-generation
 * scavenges (how long each pauses, how many bytes each promotes to the old
 * generation) and mark-compacts, read from `--trace-gc-nvp` while wrk saturates
 * one route. A request's objects should die young: bytes promoted per scavenge
 * near zero, scavenges well under a millisecond, no mark-compact during the run.
 * Promoted bytes that grow with the number of client connections mean something
 * keeps finished requests reachable from the old generation (see
 * src/server/live-exchanges.ts for the case this found).
 *
 * With BENCH_CLI_B=OTHER/dist/src/cli.js the same load runs against a second
 * build, alternating A and B every round.
 *
 * Usage: node dist/bench/gc.js  (Redis on 127.0.0.1:6379, nginx, wrk; BENCH_ROUNDS (2),
 * BENCH_DURATION s (8), BENCH_CONNECTIONS (16,64)). Writes bench/results/<date>-<sha>/gc.{json,md}.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DIST, startServer } from './harness.js';
import { ensurePackages, loadAverage, pinSelf, startDrainer, startNginxUpstream, wrk } from './peers-kit.js';
import { writeResultFiles } from './results-dir.js';
import { makeCredentials, removeCredentials, sidecarConfig, type SidecarVariant } from './scenarios.js';

const rounds = Number(process.env['BENCH_ROUNDS'] ?? 2);
const duration = Number(process.env['BENCH_DURATION'] ?? 8);
const conns = (process.env['BENCH_CONNECTIONS'] ?? '16,64').split(',').map(Number);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const builds: Array<[string, string]> = [['A', process.env['BENCH_CLI_A'] ?? `${DIST}src/cli.js`]];
if (process.env['BENCH_CLI_B']) builds.push(['B', process.env['BENCH_CLI_B']]);
const configs: Array<[string, string, SidecarVariant]> = [
  ['passthrough', '/pass/x', { metering: false, ratelimit: false }],
  ['hot path (JWT + limit + metering)', '/jwt/x', {}],
];

interface Gc {
  build: string;
  config: string;
  connections: number;
  rps: number;
  scavenges: number;
  scavenge_ms_mean: number;
  scavenge_ms_max: number;
  promoted_mb_per_scavenge: number;
  mark_compacts: number;
  mark_compact_ms_max: number;
}

ensurePackages();
pinSelf(0);
const dir = mkdtempSync(join(tmpdir(), 'argus-gc-'));
const creds = await makeCredentials(dir, redisUrl, 1);
const bearer = { authorization: `Bearer ${creds.jwt}` };
const UP = 3960;
const upstream = await startNginxUpstream(dir, UP, join(dir, 'up.sock'));
const drainer = await startDrainer(redisUrl, creds, 0);
const rows: Gc[] = [];
const load = loadAverage();
try {
  let port = 3970;
  for (let round = 0; round < rounds; round++)
    for (const [config, path, variant] of configs)
      for (const c of conns)
        for (const [build, cli] of builds) {
          port += 2;
          const file = join(dir, `side-${port}.yaml`);
          writeFileSync(file, sidecarConfig(port, port + 1, UP, redisUrl, creds, { ...variant, spoolDir: join(dir, `spool-${port}`) }));
          const logDir = mkdtempSync(join(dir, 'log-'));
          process.env['BENCH_SERVER_LOG_DIR'] = logDir;
          const s = await startServer(`sidecar ${build}`, cli, ['proxy', '--config', file], port, 1, {}, ['--trace-gc-nvp']);
          wrk(port, path, bearer, 2, c); // warm-up: JIT, caches, pools
          const logFile = join(logDir, `${s.pid}.log`);
          const mark = readFileSync(logFile, 'utf8').length;
          const r = wrk(port, path, bearer, duration, c);
          const log = readFileSync(logFile, 'utf8').slice(mark);
          await s.stop();
          rows.push({ build, config, connections: c, rps: r.rps, ...summarise(log) });
          const last = rows.at(-1)!;
          process.stderr.write(`${JSON.stringify(last)}\n`);
        }
} finally {
  await drainer.stop();
  await upstream.stop();
  const r = new Redis(redisUrl);
  await removeCredentials(r, creds);
  r.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

/** Scavenges and mark-compacts of a `--trace-gc-nvp` log. */
function summarise(log: string): Omit<Gc, 'build' | 'config' | 'connections' | 'rps'> {
  const num = (line: string, key: string) => Number(new RegExp(` ${key}=([\\d.]+)`).exec(line)?.[1] ?? 0);
  const lines = log.split('\n');
  const sc = lines.filter((l) => / gc=s /.test(l));
  const mc = lines.filter((l) => / gc=(mc|mmc|mmr) /.test(l) || / gc=mc/.test(l));
  const pauses = sc.map((l) => num(l, 'pause'));
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    scavenges: sc.length,
    scavenge_ms_mean: round(pauses.reduce((a, b) => a + b, 0) / Math.max(1, pauses.length)),
    scavenge_ms_max: round(Math.max(0, ...pauses)),
    promoted_mb_per_scavenge: round(sc.reduce((a, l) => a + num(l, 'promoted'), 0) / Math.max(1, sc.length) / 1e6),
    mark_compacts: mc.length,
    mark_compact_ms_max: round(Math.max(0, ...mc.map((l) => num(l, 'pause')))),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const groups = new Map<string, Gc[]>();
for (const r of rows) {
  const k = `${r.config}|${r.connections}|${r.build}`;
  groups.set(k, [...(groups.get(k) ?? []), r]);
}
const md = [
  '# gc: what the collector does under load',
  '',
  `wrk -t1 for ${duration} s per row after a 2 s warm-up, sidecar on core 1 with --trace-gc-nvp, ${rounds} rounds (medians); A = ${builds[0]![1]}${builds[1] ? `, B = ${builds[1][1]}` : ''}.`,
  '',
  '| config | connections | build | rps | scavenges | scavenge ms mean / max | MB promoted per scavenge | mark-compacts | mark-compact ms max |',
  '|---|---:|---|---:|---:|---|---:|---:|---:|',
  ...[...groups].map(([, g]) => {
    const m = (k: keyof Gc) => median(g.map((x) => x[k] as number));
    const f = g[0]!;
    return `| ${f.config} | ${f.connections} | ${f.build} | ${m('rps')} | ${m('scavenges')} | ${m('scavenge_ms_mean')} / ${m('scavenge_ms_max')} | ${m('promoted_mb_per_scavenge')} | ${m('mark_compacts')} | ${m('mark_compact_ms_max')} |`;
  }),
  '',
  `- load average at start ${load}, at end ${loadAverage()}`,
  '',
].join('\n');
writeResultFiles('gc', `node dist/bench/gc.js (BENCH_ROUNDS=${rounds} BENCH_DURATION=${duration})`, { loadavg: load }, { rows }, md);
process.stdout.write(md);
