/**
 * Stream benchmarks, sidecar versus direct in the same run:
 * - {@link benchSse}: GET /sse/N on the bench upstream — time to first body byte
 *   (p50/p99), stream duration, events/s and MB/s, sequential and concurrent.
 * - {@link benchWebSocket}: ping-pong round trip (p50/p99, added latency) on one
 *   connection, and messages/s with 20 connections × 100 messages in flight.
 *   The bench upstream has no WebSocket route, so it starts its own `ws` echo
 *   process and its own sidecar in front of it ({@link startWsStack}).
 *
 * The measuring client runs in the calling process (not pinned: pin the driver to
 * core 0 yourself if you want that). Servers are pinned to core 1 by startServer.
 *
 * Alone: `node dist/bench/streams.js` (Redis at 127.0.0.1:6379; env BENCH_SSE_STREAMS,
 * BENCH_WS_SECONDS) writes bench/results/<date>-<sha>/streams.json and .md.
 * Internal mode: `node dist/bench/streams.js ws-echo PORT` is the echo upstream.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { DIST, machine, startServer, type Server } from './harness.js';
import { writeResultFiles } from './results-dir.js';

/** What the caller (bench/run.ts) already runs: the bench upstream and a sidecar (sidecarConfig) in front of it. */
export interface BenchTargets {
  /** Sidecar port; its routes are those of `sidecarConfig` (`/sse/*` and `/ws` need auth). */
  readonly sidecarPort: number;
  /** Sidecar process id (CPU per stream is read from /proc). */
  readonly sidecarPid: number;
  /** The bench upstream (bench/upstream.ts) port: the direct target. */
  readonly directPort: number;
  readonly directPid: number;
  /** An API key projected into Redis under `prefix` (Credentials.apiKey), sent as `x-api-key`. */
  readonly apiKey: string;
  /** Redis the sidecar uses, e.g. `redis://127.0.0.1:6379`. */
  readonly redisUrl: string;
  /** The sidecar's `redis.key_prefix` (Credentials.prefix). */
  readonly prefix: string;
}

/** One result row: a label, a target and named numbers. */
export type Row = Record<string, string | number>;
export interface BenchOutput {
  readonly rows: Row[];
  readonly markdown: string;
  readonly notes: string[];
}

// ---- small shared helpers (killswitch.ts uses them too) ----

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;
const asc = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** CPU time (user + system) of a process in ms; 0 when the process is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // CLK_TCK = 100
  } catch {
    return 0;
  }
}

export function markdownTable(rows: readonly Row[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const head = `| ${cols.join(' | ')} |\n|${cols.map((c) => (typeof rows[0]![c] === 'number' ? '---:' : '---')).join('|')}|\n`;
  return head + rows.map((r) => `| ${cols.map((c) => String(r[c] ?? '')).join(' | ')} |`).join('\n') + '\n';
}

/** Write bench/results/<date>-<sha>/<suite>.json and .md (sections of rows + notes) and print the Markdown. */
export function writeSuiteResults(suite: string, command: string, sections: Record<string, BenchOutput>, notes: string[] = []): void {
  const allNotes = [...Object.values(sections).flatMap((s) => s.notes), ...notes];
  const body = Object.entries(sections)
    .map(([title, s]) => `## ${title}\n\n${s.markdown}`)
    .join('\n');
  const md = `# ${suite}\n\n${body}${allNotes.length ? '\n' + allNotes.map((n) => `- ${n}`).join('\n') + '\n' : ''}`;
  const results = Object.fromEntries(Object.entries(sections).map(([k, v]) => [k, v.rows]));
  writeResultFiles(suite, command, { ...machine(), loadavg_1m_at_end: round(loadavg()[0] ?? 0, 2) }, { results, notes: allNotes }, md);
  process.stdout.write(md + '\n');
}

// ---- SSE ----

export interface SseOptions {
  /** Sequential streams per target (interleaved direct/sidecar). Default 100. */
  readonly streams?: number;
  /** Events per stream (GET /sse/<events>). Default 2000. */
  readonly events?: number;
  /** Concurrent streams per round in the concurrent scenario. Default 8. */
  readonly concurrency?: number;
  /** Rounds of `concurrency` streams. Default 5. */
  readonly rounds?: number;
}

interface StreamSample {
  ttfb: number;
  total: number;
  bytes: number;
  events: number;
}

async function streamOnce(client: Client, path: string, headers: Record<string, string>): Promise<StreamSample> {
  const t0 = performance.now();
  const { statusCode, body } = await client.request({ path, method: 'GET', headers });
  if (statusCode !== 200) throw new Error(`GET ${path}: status ${statusCode}: ${await body.text()}`);
  let ttfb = -1;
  let bytes = 0;
  let events = 0;
  let lastNl = false;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (ttfb < 0) ttfb = performance.now() - t0;
    bytes += chunk.length;
    // An event ends with a blank line; "\n\n" may straddle two chunks.
    for (let i = 0; i < chunk.length; i++) {
      const nl = chunk[i] === 10;
      if (nl && lastNl) events++;
      lastNl = nl;
    }
  }
  return { ttfb, total: performance.now() - t0, bytes, events };
}

function sseRow(scenario: string, target: string, concurrency: number, samples: StreamSample[], wallMs: number, cpu: number): Row {
  const ttfb = asc(samples.map((s) => s.ttfb));
  const total = asc(samples.map((s) => s.total));
  const events = samples.reduce((a, s) => a + s.events, 0);
  const bytes = samples.reduce((a, s) => a + s.bytes, 0);
  return {
    scenario,
    target,
    concurrency,
    streams: samples.length,
    events,
    ttfb_p50_ms: round(pct(ttfb, 50)),
    ttfb_p99_ms: round(pct(ttfb, 99)),
    duration_p50_ms: round(pct(total, 50), 2),
    duration_p99_ms: round(pct(total, 99), 2),
    events_per_s: Math.round(events / (wallMs / 1000)),
    mb_per_s: round(bytes / 1e6 / (wallMs / 1000), 2),
    cpu_ms_per_stream: round(cpu / samples.length, 2),
  };
}

/**
 * SSE through the sidecar versus direct: `streams` sequential GET /sse/<events>
 * per target, interleaved, then `rounds` × `concurrency` concurrent streams.
 * Sequential rows: events/s and MB/s are per stream (events / summed durations);
 * concurrent rows: aggregate over wall time. cpu_ms_per_stream is of the target
 * process (the upstream itself for direct). Throws if any stream is not a 200 or
 * loses events.
 */
export async function benchSse(t: BenchTargets, opts: SseOptions = {}): Promise<BenchOutput> {
  const n = opts.streams ?? 100;
  const events = opts.events ?? 2000;
  const conc = opts.concurrency ?? 8;
  const rounds = opts.rounds ?? 5;
  const targets: Array<{ name: string; port: number; pid: number; path: string; headers: Record<string, string> }> = [
    { name: 'direct', port: t.directPort, pid: t.directPid, path: `/sse/${events}`, headers: {} },
    { name: 'sidecar', port: t.sidecarPort, pid: t.sidecarPid, path: `/sse/${events}`, headers: { 'x-api-key': t.apiKey } },
  ];
  const rows: Row[] = [];
  const check = (s: StreamSample) => {
    if (s.events !== events) throw new Error(`SSE stream delivered ${s.events}/${events} events`);
    return s;
  };
  // Sequential, one keep-alive connection per target, interleaved so machine noise hits both.
  const clients = targets.map((x) => new Client(`http://127.0.0.1:${x.port}`));
  try {
    for (let i = 0; i < 5; i++) for (const [j, x] of targets.entries()) check(await streamOnce(clients[j]!, x.path, x.headers));
    const samples: StreamSample[][] = targets.map(() => []);
    const cpu = targets.map((x) => -cpuMs(x.pid));
    for (let i = 0; i < n; i++) for (const [j, x] of targets.entries()) samples[j]!.push(check(await streamOnce(clients[j]!, x.path, x.headers)));
    targets.forEach((x, j) => {
      cpu[j]! += cpuMs(x.pid);
    });
    // Interleaved, the upstream served both targets' streams: charge direct half of its CPU.
    cpu[0]! /= 2;
    targets.forEach((x, j) => {
      rows.push(
        sseRow(
          'sse sequential',
          x.name,
          1,
          samples[j]!,
          samples[j]!.reduce((a, s) => a + s.total, 0),
          cpu[j]!,
        ),
      );
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  // Concurrent: `conc` connections per target, `rounds` rounds each, targets one after the other.
  for (const x of targets) {
    const pool = Array.from({ length: conc }, () => new Client(`http://127.0.0.1:${x.port}`));
    try {
      await Promise.all(pool.map((c) => streamOnce(c, x.path, x.headers).then(check)));
      const cpu0 = cpuMs(x.pid);
      const t0 = performance.now();
      const samples = (
        await Promise.all(
          pool.map(async (c) => {
            const mine: StreamSample[] = [];
            for (let r = 0; r < rounds; r++) mine.push(check(await streamOnce(c, x.path, x.headers)));
            return mine;
          }),
        )
      ).flat();
      rows.push(sseRow('sse concurrent', x.name, conc, samples, performance.now() - t0, cpuMs(x.pid) - cpu0));
    } finally {
      await Promise.all(pool.map((c) => c.close()));
    }
  }
  const get = (s: string, tg: string) => rows.find((r) => r.scenario === s && r.target === tg)!;
  const seqD = get('sse sequential', 'direct');
  const seqS = get('sse sequential', 'sidecar');
  const notes = [
    `SSE: GET /sse/${events} (${events} events of ~18 bytes, one per setImmediate on the upstream); TTFB = request sent → first body byte.`,
    `SSE: TTFB added by the sidecar (sequential): p50 ${round(Number(seqS.ttfb_p50_ms) - Number(seqD.ttfb_p50_ms))} ms, p99 ${round(Number(seqS.ttfb_p99_ms) - Number(seqD.ttfb_p99_ms))} ms; stream duration p50 ${seqS.duration_p50_ms} vs ${seqD.duration_p50_ms} ms.`,
    "SSE: sequential events/s and MB/s are per stream; concurrent ones are aggregate over wall time. cpu_ms_per_stream is of the target process: the sidecar, or the upstream for direct (sequential: half of the upstream's CPU, since it served both targets' streams interleaved).",
  ];
  return { rows, markdown: markdownTable(rows), notes };
}

// ---- WebSocket ----

export interface WsStack {
  /** The `ws` echo upstream (a separate process pinned to core 1). */
  readonly echo: Server;
  /** A sidecar in front of the echo upstream: route `/ws` (and `/ws/*`), websocket, auth required. */
  readonly sidecar: Server;
  /** The sidecar's config file (also good for `argus-sidecar revoke --config`). */
  readonly configFile: string;
  stop(): Promise<void>;
}

/**
 * Start a `ws` echo process and a sidecar (`node dist/src/cli.js proxy`) in front
 * of it, both pinned to core 1. The sidecar authenticates API keys from Redis
 * under `prefix`; metering is off (no queue to drain). `heartbeatMs` is the
 * route's re-validation period (default 1000, the product default).
 */
export async function startWsStack(redisUrl: string, prefix: string, heartbeatMs = 1000): Promise<WsStack> {
  const dir = mkdtempSync(join(tmpdir(), 'argus-bench-ws-'));
  const [echoPort, port, adminPort] = [await freePort(), await freePort(), await freePort()];
  const echo = await startServer('ws-echo', fileURLToPath(import.meta.url), ['ws-echo', String(echoPort)], echoPort);
  const configFile = join(dir, 'ws.yaml');
  writeFileSync(
    configFile,
    `listen: { host: 127.0.0.1, port: ${port} }
admin: { host: 127.0.0.1, port: ${adminPort} }
log: { level: warn }
server: { drain_timeout_ms: 1000 }
upstream: { url: http://127.0.0.1:${echoPort}, connections: 128 }
redis: { url: ${redisUrl}, key_prefix: "${prefix}" }
tiers:
  business: { requests_per_minute: 100000000 }
metering: { enabled: false }
routes:
  - { path: /ws/*, auth: required, websocket: { heartbeat_ms: ${heartbeatMs} } }
`,
  );
  let sidecar: Server;
  try {
    sidecar = await startServer('ws-sidecar', `${DIST}src/cli.js`, ['proxy', '--config', configFile], port);
  } catch (err) {
    await echo.stop();
    throw err;
  }
  return {
    echo,
    sidecar,
    configFile,
    stop: async () => {
      await sidecar.stop();
      await echo.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Open a WebSocket; rejects with the status on a refused upgrade. */
export function openWs(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`${url}: upgrade refused, status ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

const closeWs = (ws: WebSocket) => new Promise<void>((r) => (ws.readyState === WebSocket.CLOSED ? r() : (ws.once('close', () => r()), ws.close())));

export interface WsOptions {
  /** Sequential ping-pongs per target on one connection. Default 2000. */
  readonly messages?: number;
  /** Throughput: connections per target (default 20), messages in flight each (default 100), seconds (default 3). */
  readonly connections?: number;
  readonly window?: number;
  readonly seconds?: number;
  /** Message size in bytes. Default 64. */
  readonly bytes?: number;
}

async function pingPong(ws: WebSocket, msg: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      ws.once('message', () => resolve());
      ws.send(msg);
    });
    out.push(performance.now() - t0);
  }
  return out;
}

interface Flood {
  inWindow: number;
  total: number;
  rtts: number[];
}

/** Keep `window` messages in flight on each connection for `seconds`; echoes come back in order, so a FIFO of send times gives each round trip. */
async function flood(urls: string[], headers: Record<string, string>, msg: string, window: number, seconds: number): Promise<Flood> {
  const socks = await Promise.all(urls.map((u) => openWs(u, headers)));
  const out: Flood = { inWindow: 0, total: 0, rtts: [] };
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    socks.map(
      (ws) =>
        new Promise<void>((resolve) => {
          const sent: number[] = [];
          let head = 0;
          const send = () => (sent.push(performance.now()), ws.send(msg));
          ws.on('message', () => {
            const now = performance.now();
            out.total++;
            if (now < deadline) {
              out.inWindow++;
              out.rtts.push(now - sent[head++]!);
              send();
            } else if (++head === sent.length) resolve();
          });
          ws.on('close', () => resolve());
          for (let i = 0; i < window; i++) send();
        }),
    ),
  );
  await Promise.all(socks.map(closeWs));
  return out;
}

/**
 * WebSocket relay cost: starts its own echo upstream and sidecar
 * ({@link startWsStack}; `t.apiKey` must be projected under `t.prefix`), then
 * (a) round trip p50/p99 of `messages` sequential ping-pongs on one connection,
 * direct vs sidecar, interleaved in blocks of 100; (b) messages/s with
 * `connections` × `window` in flight for `seconds`. Throws if an upgrade is refused.
 */
export async function benchWebSocket(t: Pick<BenchTargets, 'apiKey' | 'redisUrl' | 'prefix'>, opts: WsOptions = {}): Promise<BenchOutput> {
  const n = opts.messages ?? 2000;
  const conns = opts.connections ?? 20;
  const window = opts.window ?? 100;
  const seconds = opts.seconds ?? 3;
  const msg = 'x'.repeat(opts.bytes ?? 64);
  const stack = await startWsStack(t.redisUrl, t.prefix);
  const rows: Row[] = [];
  try {
    const targets: Array<{ name: string; url: string; headers: Record<string, string>; pid: number }> = [
      { name: 'direct', url: `ws://127.0.0.1:${stack.echo.port}/ws/bench`, headers: {}, pid: stack.echo.pid },
      { name: 'sidecar', url: `ws://127.0.0.1:${stack.sidecar.port}/ws/bench`, headers: { 'x-api-key': t.apiKey }, pid: stack.sidecar.pid },
    ];
    const socks = await Promise.all(targets.map((x) => openWs(x.url, x.headers)));
    const rtts: number[][] = [[], []];
    const cpu0 = [cpuMs(stack.echo.pid), cpuMs(stack.sidecar.pid)];
    for (const [j] of targets.entries()) await pingPong(socks[j]!, msg, 200); // warm-up
    for (let done = 0; done < n; done += 100) {
      for (const [j] of targets.entries()) rtts[j]!.push(...(await pingPong(socks[j]!, msg, Math.min(100, n - done))));
    }
    await Promise.all(socks.map(closeWs));
    // Interleaved, the echo process served both targets' messages: charge direct half of its CPU.
    const pingCpu = [(cpuMs(stack.echo.pid) - cpu0[0]!) / 2, cpuMs(stack.sidecar.pid) - cpu0[1]!];
    for (const [j, x] of targets.entries()) {
      const s = asc(rtts[j]!);
      rows.push({
        scenario: 'ws ping-pong',
        target: x.name,
        connections: 1,
        messages: s.length,
        rtt_p50_ms: round(pct(s, 50)),
        rtt_p99_ms: round(pct(s, 99)),
        rtt_max_ms: round(pct(s, 100)),
        msgs_per_s: Math.round(s.length / (s.reduce((a, b) => a + b, 0) / 1000)),
        cpu_us_per_msg: round((pingCpu[j]! * 1000) / s.length, 1),
      });
    }
    for (const x of targets) {
      await flood(
        Array.from({ length: conns }, () => x.url),
        x.headers,
        msg,
        window,
        1,
      ); // warm-up
      const c0 = cpuMs(x.pid);
      const f = await flood(
        Array.from({ length: conns }, () => x.url),
        x.headers,
        msg,
        window,
        seconds,
      );
      const s = asc(f.rtts);
      rows.push({
        scenario: `ws throughput (${window} in flight/conn)`,
        target: x.name,
        connections: conns,
        messages: f.inWindow,
        rtt_p50_ms: round(pct(s, 50)),
        rtt_p99_ms: round(pct(s, 99)),
        rtt_max_ms: round(pct(s, 100)),
        msgs_per_s: Math.round(f.inWindow / seconds),
        cpu_us_per_msg: round(((cpuMs(x.pid) - c0) * 1000) / Math.max(1, f.total), 1),
      });
    }
  } finally {
    await stack.stop();
  }
  const [pd, ps, td, ts] = rows;
  const notes = [
    `WS: ${msg.length}-byte text messages; echo upstream is a \`ws\` process on core 1 next to the sidecar. Added latency per message (sidecar − direct): p50 ${round(Number(ps!.rtt_p50_ms) - Number(pd!.rtt_p50_ms))} ms, p99 ${round(Number(ps!.rtt_p99_ms) - Number(pd!.rtt_p99_ms))} ms.`,
    `WS: throughput sidecar / direct: ${round((Number(ts!.msgs_per_s) / Number(td!.msgs_per_s)) * 100, 1)}% (a message counts once its echo is back; throughput rtt = send → echo with the window full; cpu_us_per_msg is of the sidecar, or of the echo process for direct — half of it in ping-pong, where it served both targets interleaved).`,
  ];
  return { rows, markdown: markdownTable(rows), notes };
}

// ---- entry points ----

function runEcho(port: number): void {
  const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d, { binary })));
  wss.on('listening', () => console.log(JSON.stringify({ msg: 'ws echo listening', port })));
  process.on('SIGTERM', () => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => process.exit(0));
  });
}

/** Pin this (standalone driver) process to core 0, like autocannon in harness.runLoad. */
export function pinSelfToCore0(): string {
  const r = spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)]);
  return r.status === 0 ? 'client (this process) pinned to core 0' : 'client not pinned (no taskset)';
}

async function main(): Promise<void> {
  const { makeCredentials, sidecarConfig } = await import('./scenarios.js');
  const { Redis } = await import('ioredis');
  const { dropPrefix } = await import('../test/support/auth-harness.js');
  const redisUrl = 'redis://127.0.0.1:6379';
  const dir = mkdtempSync(join(tmpdir(), 'argus-bench-streams-'));
  const pinned = pinSelfToCore0();
  const creds = await makeCredentials(dir, redisUrl, 0);
  const servers: Server[] = [];
  try {
    const [up, side, admin] = [await freePort(), await freePort(), await freePort()];
    const upstream = await startServer('upstream', `${DIST}bench/upstream.js`, [String(up)], up);
    servers.push(upstream);
    const cfg = join(dir, 'sidecar.yaml');
    writeFileSync(cfg, sidecarConfig(side, admin, up, redisUrl, creds, { metering: false }));
    const sidecar = await startServer('sidecar', `${DIST}src/cli.js`, ['proxy', '--config', cfg], side);
    servers.push(sidecar);
    const t: BenchTargets = {
      sidecarPort: side,
      sidecarPid: sidecar.pid,
      directPort: up,
      directPid: upstream.pid,
      apiKey: creds.apiKey,
      redisUrl,
      prefix: creds.prefix,
    };
    const sse = await benchSse(t, { streams: Number(process.env['BENCH_SSE_STREAMS'] ?? 100) });
    const ws = await benchWebSocket(t, { seconds: Number(process.env['BENCH_WS_SECONDS'] ?? 3) });
    writeSuiteResults('streams', 'node dist/bench/streams.js', { SSE: sse, WebSocket: ws }, [
      pinned + '; servers pinned to core 1; sidecar metering off (sidecarConfig metering: false).',
    ]);
  } finally {
    for (const s of servers.reverse()) await s.stop();
    const redis = new Redis(redisUrl);
    await dropPrefix(redis, creds.prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === 'ws-echo') runEcho(Number(process.argv[3]));
  else await main();
}
