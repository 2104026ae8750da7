/**
 * Instructions per request, counted by valgrind's callgrind: the noise-free
 * measure of what a route costs the sidecar in user space. This VM's timings
 * move by tens of percent between runs (other tenants, steal time); an
 * instruction count of the same build and requests repeats within ~1–3% (JIT
 * and GC timing), so a change worth 1,000 instructions per request is visible
 * here long before it is in rps. Kernel time (socket syscalls, the same for
 * every route) is not counted: rps ratios come from route-cost.ts.
 *
 * For each variant one sidecar runs under callgrind (instrumentation off), the
 * routes are warmed up interleaved, then each round counts exactly N requests
 * per route (callgrind_control toggles instrumentation and dumps); the lowest
 * count of the rounds is kept (later rounds only add JIT or GC work). Metering
 * flushes every 3 s instead of 50 ms: under valgrind the sidecar serves ~50×
 * fewer requests per second, and batches as small as that would charge each
 * event the per-job cost that real batches of ~500 spread thin. The contributors
 * that differ most between a route and passthrough are listed by function (JIT
 * code named through --perf-basic-prof).
 *
 * Usage: node dist/bench/instructions.js  (valgrind, Redis on 127.0.0.1:6379;
 * BENCH_REQUESTS per round, default 2000; BENCH_ROUNDS, default 3).
 * Writes bench/results/<date>-<sha>/instructions.{json,md}. With BENCH_CLI=OTHER/dist/src/cli.js
 * it measures another build (e.g. main before a change) and only prints. BENCH_PORT
 * (default 3931) moves its ports.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DIST, machine, startServer } from './harness.js';
import { costRoutes, costVariants, makeCredentials, measuredRoutes, removeCredentials, sidecarConfig, type SidecarVariant } from './scenarios.js';
import { compilerShare, isCompiler, profile } from './callgrind-profile.js';
import { writeResultFiles } from './results-dir.js';

const N = Number(process.env['BENCH_REQUESTS'] ?? 2000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const MAX_BAD = Number(process.env['BENCH_MAX_BAD'] ?? 0);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
// BENCH_PORT moves the upstream (BENCH_PORT), sidecar (+2) and admin (+3) ports, for two runs on one machine.
const UP = Number(process.env['BENCH_PORT'] ?? 3931);
const SIDE = UP + 2;
const CONNECTIONS = 16;
const CLI = process.env['BENCH_CLI'] ?? `${DIST}src/cli.js`;
// BENCH_KEEP_DIR=DIR: keep each variant's best dump per route and its perf map there (to diff two builds' profiles).
const KEEP = process.env['BENCH_KEEP_DIR'];

if (spawnSync('valgrind', ['--version']).status !== 0) {
  process.stderr.write('instructions: valgrind is not installed (apt-get install valgrind)\n');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'argus-instructions-'));
const creds = await makeCredentials(dir, redisUrl, 1);
const routes = costRoutes(creds);
// BENCH_ONLY_METERED=1: only the defaults (metering on), without the API key route (a shorter run).
const only = process.env['BENCH_ONLY_METERED'] === '1';
// BENCH_TRACING=<ratio>: every variant with tracing on at that sampling ratio; BENCH_TRACEPARENT=1: every request carries a client traceparent (not sampled).
const tracing = process.env['BENCH_TRACING'] === undefined ? undefined : Number(process.env['BENCH_TRACING']);
const variants = costVariants({ flushMs: 3000 })
  .filter(([, v]) => !only || v.metering !== false)
  .map(([name, v]): [string, SidecarVariant] => (tracing === undefined ? [name, v] : [`${name}, tracing ${tracing}`, { ...v, tracing }]));
if (process.env['BENCH_TRACEPARENT'] === '1') for (const r of routes) r[2]['traceparent'] = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';

interface Row {
  variant: string;
  route: string;
  instructions: number;
  overPassthrough: number;
  ratio: number;
  /** Of `instructions`, TurboFan compiling while the requests were counted (callgrind counts every thread). */
  compiler: number;
  /** `overPassthrough` with both counts' compiler instructions left out: the requests' own cost. */
  overPassthroughNoCompiler: number;
}
const rows: Row[] = [];
const contributors: string[] = [];
const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

/** Send `n` requests over CONNECTIONS keep-alive connections; resolves with the count of non-200 answers. */
async function load(path: string, headers: Record<string, string>, n: number): Promise<number> {
  let sent = 0;
  let bad = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: SIDE, path, headers, agent }, (res) => {
        if (res.statusCode !== 200) bad++;
        res.resume();
        res.on('end', resolve);
      });
      // A reset on a starved machine counts as a bad answer (BENCH_MAX_BAD), not as the end of the run.
      req.on('error', () => {
        bad++;
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (sent < n) {
      sent++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  return bad;
}

const admin = new Redis(redisUrl);
const up = await startServer('upstream', `${DIST}bench/upstream.js`, [String(UP)], UP, 0);
try {
  for (const [variant, v] of variants) {
    const file = join(dir, 'sidecar.yaml');
    // A spool directory of its own: another run (or build) must not read or replay this one's files.
    writeFileSync(file, sidecarConfig(SIDE, SIDE + 1, UP, redisUrl, creds, v).replace('/tmp/argus-bench-spool', join(dir, 'spool')));
    const out = join(dir, `cg-${rows.length}`);
    const vg = spawn(
      'taskset',
      [
        '-c',
        '1',
        'valgrind',
        '--tool=callgrind',
        '--instr-atstart=no',
        `--callgrind-out-file=${out}`,
        process.execPath,
        '--perf-basic-prof',
        CLI,
        'proxy',
        '--config',
        file,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    vg.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      for (let i = 0; ; i++) {
        const ok = await fetch(`http://127.0.0.1:${SIDE + 1}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        // The admin port may answer before the proxy's own listener is up (slow under valgrind): wait for both.
        if (
          ok &&
          (await fetch(`http://127.0.0.1:${SIDE}/`).then(
            () => true,
            () => false,
          ))
        )
          break;
        if (i > 900 || vg.exitCode !== null) throw new Error(`sidecar under valgrind did not start:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const measured = measuredRoutes(routes, v).filter(([name]) => !only || name !== 'api key');
      for (let w = 0; w < 3; w++) for (const [, path, headers] of measured) await load(path, headers, N);
      const best = new Map<string, { instructions: number; dump: string }>();
      let dumps = 0;
      const ctl = (...args: string[]) => spawnSync('callgrind_control', [...args, String(vg.pid)], { encoding: 'utf8' });
      for (let r = 0; r < ROUNDS; r++) {
        for (const [route, path, headers] of measured) {
          ctl('-z');
          ctl('-i', 'on');
          const bad = await load(path, headers, N);
          ctl('-i', 'off');
          ctl('-d');
          const dump = `${out}.${++dumps}`;
          const totals = spawnSync('callgrind_annotate', [dump], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout;
          const total = Number(/([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(totals)?.[1]?.replace(/,/g, '') ?? NaN);
          // BENCH_MAX_BAD: tolerate that many non-200 answers per round (an overloaded machine times a few out), reported.
          if (bad > MAX_BAD) throw new Error(`${route}: ${bad} of ${N} requests were not 200`);
          if (bad > 0) process.stderr.write(`${route}: ${bad} of ${N} requests were not 200 (tolerated, BENCH_MAX_BAD=${MAX_BAD})\n`);
          const perRequest = total / N;
          process.stderr.write(`${variant.padEnd(28)} ${route.padEnd(22)} ${Math.round(perRequest)} instructions/request\n`);
          const prev = best.get(route);
          if (!prev || perRequest < prev.instructions) best.set(route, { instructions: perRequest, dump });
        }
      }
      const base = best.get(routes[0]![0])!;
      const perfMap = `/tmp/perf-${vg.pid}.map`;
      if (KEEP) {
        mkdirSync(KEEP, { recursive: true });
        const tag = `${variant}`.replace(/[^a-z0-9]+/gi, '_');
        copyFileSync(perfMap, join(KEEP, `${tag}.perf.map`));
        for (const [route, b] of best) copyFileSync(b.dump, join(KEEP, `${tag}.${route.replace(/[^a-z0-9]+/gi, '_')}.${Math.round(b.instructions)}.cg`));
      }
      const baseProfile = profile(base.dump, perfMap);
      const baseCompiler = compilerShare(baseProfile) / N;
      for (const [route] of measured) {
        const b = best.get(route)!;
        const p = profile(b.dump, perfMap);
        const compiler = compilerShare(p) / N;
        rows.push({
          variant,
          route,
          instructions: Math.round(b.instructions),
          overPassthrough: Math.round(b.instructions - base.instructions),
          ratio: Math.round((base.instructions / b.instructions) * 1000) / 10,
          compiler: Math.round(compiler),
          overPassthroughNoCompiler: Math.round(b.instructions - compiler - (base.instructions - baseCompiler)),
        });
        if (route !== 'jwt cache hit') continue;
        const diff = [...new Set([...p.keys(), ...baseProfile.keys()])]
          .filter((k) => !isCompiler(k))
          .map((k) => [k, ((p.get(k) ?? 0) - (baseProfile.get(k) ?? 0)) / N] as const)
          .sort((x, y) => y[1] - x[1])
          .slice(0, 12);
        contributors.push(
          `**${variant}**, jwt cache hit over passthrough, largest contributors outside TurboFan (instructions per request): ${diff.map(([k, v]) => `\`${k}\` ${Math.round(v)}`).join('; ')}`,
        );
      }
    } catch (err) {
      // The sidecar under valgrind died (or refused): say why, not only "ECONNREFUSED".
      process.stderr.write(`instructions: ${variant} failed; the sidecar's stderr:\n${stderr.slice(-4000)}\n`);
      throw err;
    } finally {
      vg.kill('SIGTERM');
      await new Promise((r) => (vg.exitCode !== null ? r(undefined) : vg.once('exit', r)));
      rmSync(`/tmp/perf-${vg.pid}.map`, { force: true });
    }
  }
} finally {
  await up.stop();
  rmSync(dir, { recursive: true, force: true });
  await removeCredentials(admin, creds);
  admin.disconnect();
}

const extra = ['BENCH_TRACING', 'BENCH_TRACEPARENT', 'BENCH_ONLY_METERED'].map((k) => (process.env[k] !== undefined ? ` ${k}=${process.env[k]}` : '')).join('');
const command = `node dist/bench/instructions.js (BENCH_REQUESTS=${N} BENCH_ROUNDS=${ROUNDS}${extra}${process.env['BENCH_CLI'] ? ' BENCH_CLI=OTHER' : ''})`;
const table = rows
  .map((r) => `| ${r.variant} | ${r.route} | ${r.instructions} | ${r.overPassthrough} | ${r.ratio}% | ${r.compiler} | ${r.overPassthroughNoCompiler} |`)
  .join('\n');
const md = `# instructions\n\nUser-space instructions per request (callgrind), lowest of ${ROUNDS} rounds of ${N} requests over ${CONNECTIONS} keep-alive connections; "ratio" is passthrough ÷ route (what the rps ratio would be if kernel time were zero: the real ratio is closer to 100%, since socket syscalls cost every route the same). "TurboFan" is the part of the count that was V8 still compiling (\`v8::internal::compiler\`, on its own threads; callgrind counts every thread), and the last column the route's cost over passthrough without it in either count; the contributors leave it out too.\n\n| variant | route | instructions/request | over passthrough | ratio | TurboFan | over passthrough, TurboFan left out |\n|---|---|---:|---:|---:|---:|---:|\n${table}\n\n${contributors.map((c) => `- ${c}`).join('\n')}\n`;
process.stdout.write(`${command}\n${JSON.stringify(machine())}\n\n${md}`);
// Another build's numbers are for comparing, not the record.
if (!process.env['BENCH_CLI']) {
  writeResultFiles('instructions', command, machine(), { rows, contributors }, md);
}
