/**
 * The upstream-client decision, measured: undici's Pool against the proxy's own
 * HTTP/1.1 client (src/forward/h1) in a minimal uWS passthrough, and the sidecar
 * (h1; passthrough route, JWT cache-hit route with rate limit and metering) against
 * both, alternating rounds in one run so machine noise hits all alike. The sidecar
 * itself no longer has an undici option: it lost on every row of
 * bench/results/2026-12-02-dc3cff4/upstream-client.md.
 *
 * Layout as in the issue: the load generator and the upstream share core 0, the
 * proxy under test has core 1 to itself, so its CPU per request (user and
 * system, from /proc) is its own. Load: wrk when installed (it outruns
 * autocannon on this machine), else autocannon. Upstream: nginx `return 200`
 * when installed, else bench/upstream.js (uWS).
 *
 * Usage: node dist/bench/upstream-client.js   (BENCH_DURATION, BENCH_ROUNDS)
 * Results: bench/results/<date>-<sha>/upstream-client.{json,md}. Needs Redis.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { cpuTimes, DIST, machine, runLoad, startServer, type Server } from './harness.js';
import { makeCredentials, sidecarConfig, removeCredentials } from './scenarios.js';
import { writeResultFiles } from './results-dir.js';

const duration = Number(process.env['BENCH_DURATION'] ?? 4);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const RATE = Number(process.env['BENCH_RATE'] ?? 5000);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const UP = 3921;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const WRK = has('wrk') && has('taskset');
const dir = mkdtempSync(join(tmpdir(), 'argus-upclient-'));
const creds = await makeCredentials(dir, redisUrl, 1);

interface Row {
  target: string;
  path: string;
  rps: number[];
  user_us: number[];
  sys_us: number[];
  p99_ms: number[];
}

function startNginx(): Promise<{ stop(): Promise<void> }> {
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/nginx.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; server { listen 127.0.0.1:${UP}; location / { return 200 "ok"; } } }\n`,
  );
  const child: ChildProcess = spawn('taskset', ['-c', '0', 'nginx', '-c', conf], { stdio: 'ignore' });
  return new Promise((resolve) =>
    setTimeout(
      () =>
        resolve({
          stop: () =>
            new Promise<void>((r) => {
              child.once('exit', () => r());
              child.kill('SIGQUIT');
            }),
        }),
      500,
    ),
  );
}

/** One closed-loop load of `duration` s against `server`; rps, p99 and the server's CPU per request. */
async function load(server: Server, path: string, headers: Record<string, string>): Promise<{ rps: number; user: number; sys: number; p99: number }> {
  const url = `http://127.0.0.1:${server.port}${path}`;
  const t0 = cpuTimes(server.pid);
  let requests: number;
  let rps: number;
  let p99: number;
  if (WRK) {
    const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const out = spawnSync('taskset', ['-c', '0', 'wrk', '-t1', '-c64', `-d${duration}s`, '--latency', ...h, url], { encoding: 'utf8' }).stdout;
    requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    rps = Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0));
    const m = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
    p99 = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN;
    if (/Non-2xx/.test(out)) throw new Error(`${server.name} ${path}: non-2xx answers\n${out}`);
  } else {
    const r = await runLoad({ scenario: path, target: server.name, mode: 'closed', url, connections: 64, durationS: duration, headers }, server);
    requests = r.requests;
    rps = r.rps;
    p99 = r.p99_ms;
  }
  const t1 = cpuTimes(server.pid);
  const per = (ticks: number) => Math.round(((ticks * 1e4) / Math.max(1, requests)) * 10) / 10; // 100 ticks/s → µs
  return { rps, user: per(t1.user - t0.user), sys: per(t1.sys - t0.sys), p99 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const servers: Server[] = [];
let nginx: { stop(): Promise<void> } | undefined;
try {
  if (has('nginx') && has('taskset')) nginx = await startNginx();
  else servers.push(await startServer('upstream', `${DIST}bench/upstream.js`, [String(UP)], UP, 0));
  const upstream = `http://127.0.0.1:${UP}`;
  const targets: Array<{ server: Server; paths: string[] }> = [];
  let port = 3930;
  const add = async (name: string, script: string, args: string[], paths: string[]) => {
    const p = port;
    port += 2;
    const server = await startServer(
      name,
      script,
      args.map((a) => a.replace('$PORT', String(p))),
      p,
      1,
    );
    servers.push(server);
    targets.push({ server, paths });
  };
  await add('minimal uWS→undici', `${DIST}bench/minimal-proxy.js`, ['$PORT', upstream, 'undici'], ['/pass/x']);
  await add('minimal uWS→h1', `${DIST}bench/minimal-proxy.js`, ['$PORT', upstream, 'h1'], ['/pass/x']);
  const file = join(dir, 'h1.yaml');
  writeFileSync(file, sidecarConfig(port, port + 1, UP, redisUrl, creds, {}));
  await add('sidecar (h1)', `${DIST}src/cli.js`, ['proxy', '--config', file], ['/pass/x', '/jwt/x']);
  const noMeterFile = join(dir, 'no-meter.yaml');
  writeFileSync(noMeterFile, sidecarConfig(port, port + 1, UP, redisUrl, creds, { metering: false }));
  const noMeter = await startServer('sidecar (h1, metering off)', `${DIST}src/cli.js`, ['proxy', '--config', noMeterFile], port, 1);
  servers.push(noMeter);
  const bearer = { authorization: `Bearer ${creds.jwt}` };
  const rows = new Map<string, Row>();
  for (const t of targets) for (const path of t.paths) await load(t.server, path, path === '/jwt/x' ? bearer : {}); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      for (const path of t.paths) {
        const r = await load(t.server, path, path === '/jwt/x' ? bearer : {});
        const key = `${t.server.name} ${path}`;
        const row = rows.get(key) ?? { target: t.server.name, path, rps: [], user_us: [], sys_us: [], p99_ms: [] };
        row.rps.push(r.rps);
        row.user_us.push(r.user);
        row.sys_us.push(r.sys);
        row.p99_ms.push(r.p99);
        rows.set(key, row);
        process.stderr.write(`${key.padEnd(32)} ${String(r.rps).padStart(6)} rps  user ${r.user} µs  sys ${r.sys} µs  p99 ${r.p99} ms\n`);
      }
    }
  }
  // Fixed rate (open loop, µs latencies): what the sidecar adds to p50/p99 over the upstream alone.
  const fixed: Array<{ target: string; path: string; p50_ms: number; p99_ms: number; p999_ms: number; max_ms: number }> = [];
  const openLoopRun = (url: string, headers: Record<string, string>, durationS: number) => {
    const opts = { url, overallRate: RATE, connections: 32, duration: durationS, headers };
    const out = spawnSync('taskset', ['-c', '0', process.execPath, `${DIST}bench/load.js`, JSON.stringify(opts)], { encoding: 'utf8' });
    return JSON.parse(out.stdout) as { latency: { p50: number; p99: number; p99_9: number; max: number } };
  };
  const sidecarH1 = targets.find((t) => t.server.name === 'sidecar (h1)')!.server;
  for (const [target, base, path] of [
    ['direct', `http://127.0.0.1:${UP}`, '/pass/x'],
    ['sidecar (h1)', `http://127.0.0.1:${sidecarH1.port}`, '/pass/x'],
    ['sidecar (h1)', `http://127.0.0.1:${sidecarH1.port}`, '/jwt/x'],
    ['sidecar (h1, metering off)', `http://127.0.0.1:${noMeter.port}`, '/jwt/x'],
  ] as const) {
    const headers = path === '/jwt/x' ? bearer : {};
    openLoopRun(base + path, headers, 2); // warm-up
    const r = openLoopRun(base + path, headers, duration + 1);
    fixed.push({ target, path, p50_ms: r.latency.p50, p99_ms: r.latency.p99, p999_ms: r.latency.p99_9, max_ms: r.latency.max });
    process.stderr.write(`fixed ${RATE}/s ${target} ${path}: p50 ${r.latency.p50} p99 ${r.latency.p99} p99.9 ${r.latency.p99_9} ms\n`);
  }
  const list = [...rows.values()];
  const at = (target: string, path: string) => list.find((r) => r.target === target && r.path === path);
  const ratio = (a?: Row, b?: Row) => (a && b ? `${((median(a.rps) / median(b.rps)) * 100).toFixed(1)}%` : 'n/a');
  const notes = [
    `h1 vs undici, minimal passthrough: ${ratio(at('minimal uWS→h1', '/pass/x'), at('minimal uWS→undici', '/pass/x'))}`,
    `sidecar (h1) passthrough / minimal uWS→undici: ${ratio(at('sidecar (h1)', '/pass/x'), at('minimal uWS→undici', '/pass/x'))} (issue 2 target ≥ 90%)`,
    ...fixed
      .slice(1)
      .map(
        (f) =>
          `fixed ${RATE} rps, ${f.target} ${f.path}: p99 added ${(f.p99_ms - fixed[0]!.p99_ms).toFixed(3)} ms, p50 added ${(f.p50_ms - fixed[0]!.p50_ms).toFixed(3)} ms over direct`,
      ),
    `load: ${WRK ? 'wrk -t1 -c64' : 'autocannon, 64 connections'} on core 0 with the upstream (${nginx ? 'nginx return 200' : 'bench/upstream.js'}); proxy alone on core 1; medians of ${rounds} alternating rounds of ${duration} s`,
  ];
  const command = `node dist/bench/upstream-client.js (BENCH_DURATION=${duration} BENCH_ROUNDS=${rounds} BENCH_RATE=${RATE})`;
  const md = [
    '# upstream client: undici vs h1',
    '',
    '| target | route | rps (median) | rps (rounds) | user µs/req | sys µs/req | p99 ms |',
    '|---|---|---:|---|---:|---:|---:|',
    ...list.map(
      (r) => `| ${r.target} | ${r.path} | ${median(r.rps)} | ${r.rps.join(' / ')} | ${median(r.user_us)} | ${median(r.sys_us)} | ${median(r.p99_ms)} |`,
    ),
    '',
    `Fixed rate ${RATE} rps (bench/open-loop.ts, 32 connections, ${duration + 1} s after a 2 s warm-up):`,
    '',
    '| target | route | p50 ms | p99 ms | p99.9 ms | max ms |',
    '|---|---|---:|---:|---:|---:|',
    ...fixed.map((f) => `| ${f.target} | ${f.path} | ${f.p50_ms} | ${f.p99_ms} | ${f.p999_ms} | ${f.max_ms} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  writeResultFiles('upstream-client', command, machine(), { rows: list, fixed_rate: fixed, notes }, md);
  process.stdout.write(md);
} finally {
  for (const s of servers.reverse()) await s.stop();
  await nginx?.stop();
  const r = new Redis(redisUrl);
  await removeCredentials(r, creds);
  r.disconnect();
}
