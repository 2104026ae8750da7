/**
 * What tracing adds to one request that is not sampled, in isolation: the
 * pipeline's calls into observability (begin, the stage marks, the upstream's
 * traceparent in the request head the h1 client builds, finish) with tracing
 * configured at sampling ratio 0, against the
 * same calls with tracing off (the observer is undefined: optional calls that do
 * nothing). Request heads with and without a client traceparent. The loops
 * alternate (off, on, off, on, …) and the fastest round of each is kept: the
 * difference is the added cost per request. The end-to-end count is
 * instructions.js with BENCH_TRACING=0.
 *
 * Timings on a shared VM move with other tenants; the instruction counts do not:
 * each case also runs in its own process under callgrind (instrumentation off
 * during start-up and a warm-up of 3 × N requests, on for N requests, toggled
 * with callgrind_control as instructions.js does), and the added instructions
 * per request are the difference to the "off" process.
 *
 * Usage: node dist/bench/tracing-micro.js (BENCH_ROUNDS, default 7; BENCH_N, default 300000;
 * BENCH_CG_N, default 100000 requests counted under callgrind; needs valgrind).
 * Writes bench/results/<date>-<sha>/tracing-micro.{json,md}.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Framing, requestHead, type HeadOut } from '../src/forward/h1/request.js';
import { createRequestObserver, type ObservedRequest, type RequestObserver } from '../src/observe/request-observer.js';
import { createTracing } from '../src/observe/tracing.js';
import { resolveTracing } from '../src/observe/schema.js';
import { machine } from './harness.js';
import { writeResultFiles } from './results-dir.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const N = Number(process.env['BENCH_N'] ?? 300000);

const tracing = createTracing(
  resolveTracing(
    {
      enabled: true,
      endpoint: 'http://127.0.0.1:9/v1/traces',
      sample_ratio: 0,
      parent_based: false,
      refused_ratio: 1,
      export_interval_ms: 2000,
      max_queue: 2048,
      export_timeout_ms: 1000,
    },
    {},
  ),
  { instanceId: 'bench' },
);
const on = createRequestObserver({ tracer: tracing.requests });

const BASE = [
  'host',
  'api.example.com',
  'user-agent',
  'bench/1.0',
  'accept',
  '*/*',
  'authorization',
  'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig',
  'accept-encoding',
  'gzip',
  'x-forwarded-for',
  '10.0.0.1',
];
const WITH_PARENT = [...BASE, 'traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00'];
const AUTH = { 'argus.auth.cache': 'hit' };

/**
 * One request's worth of the pipeline's observability calls (src/pipeline.ts).
 * The upstream's header list is a new array per request, as the forwarder's is
 * (src/forward/stage.ts): resetting one reused array instead cost ~300
 * instructions a request through V8's length setter, a cost of the harness only.
 */
function request(obs: RequestObserver | undefined, headers: string[]): number {
  const ex: ObservedRequest = {
    head: { method: 'GET', path: '/v1/x', headers, remoteAddress: '127.0.0.1', requestId: 'r1' },
    startedAt: 1,
    routeLabel: '/v1/*',
    ctx: null,
    status: 200,
    bytesOut: 10,
    code: undefined,
    trace: undefined,
  };
  obs?.begin(ex);
  ex.trace?.mark('route');
  ex.trace?.mark('authenticate', AUTH);
  ex.trace?.mark('authorize');
  ex.trace?.mark('rate_limit');
  const out = ['x-forwarded-for', '127.0.0.1', 'x-request-id', 'r1'];
  // With tracing off the forwarder passes a client's trace headers on like any other (checked
  // character by character in the head); with tracing on it strips them and sends its own.
  if (obs === undefined) for (let i = 0; i < headers.length; i += 2) if (headers[i]!.startsWith('trace')) out.push(headers[i]!, headers[i + 1]!);
  const tracer = obs?.tracer;
  // As src/forward/stage.ts: the trace headers ride as the h1 client's `checked` headers, and the head is built.
  const checked = tracer && ex.trace ? tracer.headers(ex.trace) : undefined;
  requestHead('GET', '/v1/x', out, 'upstream:80', -2, HEAD_OUT, '', checked);
  ex.trace?.mark('upstream.request');
  ex.trace?.mark('upstream.first_byte');
  ex.trace?.mark('meter');
  obs?.finish(ex, 200, 2);
  return HEAD_OUT.head.length;
}

const HEAD_OUT: HeadOut = { head: '', framing: Framing.None, length: 0 };

function loop(obs: RequestObserver | undefined, headers: string[]): number {
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) sink += request(obs, headers);
  const ns = ((performance.now() - t0) * 1e6) / N;
  if (sink < 0) throw new Error('unreachable');
  return ns;
}

const cases = [
  ['no client traceparent', BASE],
  ['client traceparent (not sampled)', WITH_PARENT],
] as const;

// Child mode (under callgrind): warm up, then run N requests of one case between the parent's toggles.
const childArg = process.argv.indexOf('--child');
if (childArg > 0) {
  const which = process.argv[childArg + 1]!;
  const n = Number(process.argv[childArg + 2]);
  const obs = which === 'off' ? undefined : on;
  const headers = which === 'parent' ? WITH_PARENT : BASE;
  const run = (k: number) => {
    for (let i = 0; i < k; i++) request(obs, headers);
  };
  run(3 * n);
  const lines = createInterface({ input: process.stdin });
  process.stdout.write('ready\n');
  for await (const line of lines) {
    if (line !== 'go') continue;
    run(n);
    process.stdout.write('done\n');
    break;
  }
  await tracing.close();
  process.exit(0);
}

/** Instructions of `n` requests of one case, counted by callgrind. */
async function counted(which: 'off' | 'noparent' | 'parent', n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'argus-tracing-cg-'));
  const out = join(dir, 'cg');
  const vg = spawn(
    'valgrind',
    ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, process.execPath, fileURLToPath(import.meta.url), '--child', which, String(n)],
    {
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  );
  const lines = createInterface({ input: vg.stdout! });
  const ctl = (...args: string[]) => new Promise<void>((resolve) => execFile('callgrind_control', [...args, String(vg.pid)], () => resolve()));
  try {
    for await (const line of lines) {
      if (line === 'ready') {
        await ctl('-z');
        await ctl('-i', 'on');
        vg.stdin!.write('go\n');
      } else if (line === 'done') {
        await ctl('-i', 'off');
        await ctl('-d');
        break;
      }
    }
    await new Promise((r) => (vg.exitCode !== null ? r(undefined) : vg.once('exit', r)));
    let best = Infinity;
    for (const f of [out, `${out}.1`]) {
      const text = spawnSync('callgrind_annotate', [f], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout ?? '';
      const total = Number(/([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(text)?.[1]?.replace(/,/g, '') ?? NaN);
      if (Number.isFinite(total) && total > 0) best = Math.min(best, total);
    }
    return best / n;
  } finally {
    vg.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Array<{ case: string; off_ns: number; on_ns: number; added_ns: number; added_instructions?: number }> = [];
for (const [name, headers] of cases) {
  let off = Infinity;
  let traced = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    off = Math.min(off, loop(undefined, headers));
    traced = Math.min(traced, loop(on, headers));
  }
  rows.push({ case: name, off_ns: Math.round(off), on_ns: Math.round(traced), added_ns: Math.round(traced - off) });
  process.stderr.write(`${name}: off ${off.toFixed(1)} ns, tracing (not sampled) ${traced.toFixed(1)} ns per request\n`);
}
await tracing.close();

const CG_N = Number(process.env['BENCH_CG_N'] ?? 100000);
if (spawnSync('valgrind', ['--version']).status === 0) {
  const off = await counted('off', CG_N);
  rows[0]!.added_instructions = Math.round((await counted('noparent', CG_N)) - off);
  rows[1]!.added_instructions = Math.round((await counted('parent', CG_N)) - off);
  process.stderr.write(`callgrind: off ${off.toFixed(0)} instructions per request; added ${rows.map((r) => r.added_instructions).join(', ')}\n`);
}

const command = `node dist/bench/tracing-micro.js (BENCH_ROUNDS=${ROUNDS} BENCH_N=${N} BENCH_CG_N=${CG_N})`;
const md = `# tracing-micro\n\nThe pipeline's observability calls for one request, tracing off vs configured with sampling 0 (fastest of ${ROUNDS} alternating rounds of ${N} requests).\n\n| case | off ns/request | tracing, not sampled ns/request | added ns/request | added instructions/request (callgrind) |\n|---|---:|---:|---:|---:|\n${rows
  .map((r) => `| ${r.case} | ${r.off_ns} | ${r.on_ns} | ${r.added_ns} | ${r.added_instructions ?? '—'} |`)
  .join('\n')}\n`;
process.stdout.write(md);
writeResultFiles('tracing-micro', command, machine(), { rows }, md);
