/**
 * Kill test: does usage survive kill -9 of the proxy, the billing worker and a
 * Redis without persistence, over and over, under load? Not part of `npm test`
 * (it runs for minutes); README "Meter" says how to run it.
 *
 *   npm run build && node dist/bench/kill-test.js
 *
 * Starts a private redis-server (no persistence, noeviction), a fresh Postgres
 * schema, a Stripe stand-in (test/support/stripe-server.ts), an upstream app, a
 * spawned `proxy` (threads 1, fixed port, one spool dir) and a spawned `worker`
 * (Stripe reporting, 60 s windows). A bounded load of uniquely identified
 * requests (x-request-id per request, API keys of KILL_CUSTOMERS customers) runs
 * throughout; every cycle kills one of proxy / worker / redis with SIGKILL at a
 * random moment and restarts it after a random pause. Then it waits for the
 * pipeline to drain and reconciles, per request and per (customer, window):
 * client 2xx vs ledger (lost, doubled, billed without a 2xx) and ledger vs
 * Stripe. Writes bench/results/<date>-<sha>/kill-test.md; exit 1 if anything
 * was lost or doubled.
 *
 * Environment: KILL_CYCLES (default 100), KILL_CYCLE_MS (6000), KILL_RPS (60),
 * KILL_CONCURRENCY (6), KILL_CUSTOMERS (5), KILL_SEED, KILL_DRAIN_MS (240000),
 * KILL_FSYNC (spool_fsync, default batch), KILL_OUT (result file).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http, { createServer } from 'node:http';
import { createServer as netServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { generateApiKey } from '../src/authenticate/index.js';
import { createPool, migrate, quoteIdent } from '../src/clients/postgres.js';
import { stringifyYaml } from '../src/yaml.js';
import { startStripeStandIn } from '../test/support/stripe-server.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PG_BASE = process.env.KILL_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const CYCLES = env('KILL_CYCLES', 100);
const CYCLE_MS = env('KILL_CYCLE_MS', 6000);
const RPS = env('KILL_RPS', 60);
const CONCURRENCY = env('KILL_CONCURRENCY', 6);
const CUSTOMERS = env('KILL_CUSTOMERS', 5);
const DRAIN_MS = env('KILL_DRAIN_MS', 240000);
const FSYNC = process.env.KILL_FSYNC ?? 'batch';
const WINDOW_S = 60;
let seed = env('KILL_SEED', Date.now() % 1e9);
const SEED = seed;
/** mulberry32: reproducible kill moments for a given KILL_SEED. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`[kill-test ${new Date().toISOString()}] ${msg}\n`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return true;
    } catch {
      // not yet
    }
    await sleep(everyMs);
  }
  log(`gave up waiting for ${what}`);
  return false;
}

/** A child process we may kill -9 and restart; output to a file (never a pipe nobody reads). */
class Managed {
  proc: ChildProcess | null = null;
  starts = 0;
  kills = 0;
  constructor(
    readonly name: string,
    readonly cmd: string,
    readonly args: string[],
    readonly logFile: string,
    readonly ready: () => Promise<boolean>,
  ) {}
  async start(): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    this.proc = spawn(this.cmd, this.args, { stdio: ['ignore', fd, fd] });
    this.starts++;
    await until(`${this.name} ready`, this.ready, 30000, 50);
  }
  async kill9(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.kills++;
  }
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 15000);
    await exited;
    clearTimeout(t);
  }
}

async function httpOk(port: number, path: string): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}${path}`)).ok;
  } catch {
    return false;
  }
}

interface Sent {
  readonly customer: string;
  status: number;
}

async function main(): Promise<void> {
  const started = Date.now();
  // The commit measured: read at the start (the tree may move while this runs).
  const sha = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim() || 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO, encoding: 'utf8' }).stdout.trim() !== '';
  const dir = mkdtempSync(join(tmpdir(), 'argus-kill-'));
  const spool = join(dir, 'spool');
  mkdirSync(spool);
  log(`dir ${dir}, ${CYCLES} cycles of ${CYCLE_MS} ms, ${RPS} rps, seed ${SEED}`);

  // Postgres: a fresh schema.
  const schema = `argus_kill_${Math.random().toString(16).slice(2, 10)}`;
  const admin = createPool(PG_BASE, { max: 1 });
  await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  const pgUrl = `${PG_BASE}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const pool = createPool(pgUrl, { max: 4 });
  await migrate(pool);

  // Stripe stand-in, upstream app, keys.
  const stripe = await startStripeStandIn();
  const app = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('ok');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  const keys = Array.from({ length: CUSTOMERS }, (_, i) => ({ ...generateApiKey(), customer: `cus_kill_${i}`, user: `kill_user_${i}` }));
  writeFileSync(
    join(dir, 'keys.yaml'),
    keys.map((k) => `- { key_id: ${k.key_id}, sha256: ${k.sha256}, user_id: ${k.user}, tier: business, stripe_customer: ${k.customer} }\n`).join(''),
  );

  const redisPort = await freePort();
  const proxyPort = await freePort();
  const proxyAdmin = await freePort();
  const workerAdmin = await freePort();
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const prefix = 'argus-kill:';
  const common = {
    upstream: { url: appUrl },
    redis: { url: redisUrl, key_prefix: prefix },
    postgres: { url: pgUrl },
    ratelimit: { enabled: false },
    auth: { api_keys: { file: join(dir, 'keys.yaml') } },
    routes: [{ path: '/*', auth: 'required', meter: true }],
    log: { level: 'info' },
  };
  const proxyCfg = join(dir, 'proxy.yaml');
  writeFileSync(
    proxyCfg,
    stringifyYaml({
      ...common,
      listen: { host: '127.0.0.1', port: proxyPort },
      admin: { host: '127.0.0.1', port: proxyAdmin },
      threads: 1,
      metering: { queue: 'kill-usage', spool_dir: spool, service: 'sibyl', queue_timeout_ms: 500, ack_interval_ms: 500, spool_fsync: FSYNC },
    }),
  );
  const workerCfg = join(dir, 'worker.yaml');
  writeFileSync(
    workerCfg,
    stringifyYaml({
      ...common,
      metering: {
        queue: 'kill-usage',
        spool_dir: join(dir, 'unused'),
        worker: { admin: { host: '127.0.0.1', port: workerAdmin }, lock_ms: 2000, stalled_interval_ms: 1000, max_stalled_count: 1000 },
      },
      stripe: {
        api_key: 'sk_test_kill',
        base_url: stripe.url,
        window_s: WINDOW_S,
        settle_s: 2,
        interval_ms: 1000,
        max_backoff_ms: 5000,
        meters: { request: 'argus_requests' },
      },
    }),
  );

  const redisPing = async () => {
    const c = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } finally {
      c.disconnect();
    }
  };
  const redis = new Managed(
    'redis',
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
    join(dir, 'redis.log'),
    redisPing,
  );
  const proxy = new Managed('proxy', process.execPath, [CLI, 'proxy', '--config', proxyCfg], join(dir, 'proxy.log'), () => httpOk(proxyAdmin, '/healthz'));
  const worker = new Managed('worker', process.execPath, [CLI, 'worker', '--config', workerCfg], join(dir, 'worker.log'), () =>
    httpOk(workerAdmin, '/healthz'),
  );
  await redis.start();
  await worker.start();
  await proxy.start();

  // Load: RPS requests a second at most, CONCURRENCY in flight, each with its own request id.
  const sent = new Map<string, Sent>();
  let loading = true;
  let n = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const one = (id: string, k: (typeof keys)[number]) =>
    new Promise<number>((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port: proxyPort, path: `/kill/${id}`, agent, headers: { 'x-request-id': id, 'x-api-key': k.key }, timeout: 5000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(-1));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(-1));
      req.end();
    });
  const loaders = Array.from({ length: CONCURRENCY }, async () => {
    const gap = (1000 * CONCURRENCY) / RPS;
    while (loading) {
      const t0 = Date.now();
      const id = `kt-${SEED}-${n++}`;
      const k = keys[n % keys.length]!;
      const s: Sent = { customer: k.customer, status: 0 };
      sent.set(id, s);
      s.status = await one(id, k);
      const wait = gap - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
    }
  });

  // Chaos: one kill per cycle, at a random moment, the target in turn.
  const targets = [proxy, worker, redis];
  for (let c = 0; c < CYCLES; c++) {
    const target = targets[c % targets.length]!;
    const at = Math.floor(random() * CYCLE_MS * 0.6);
    const down = 100 + Math.floor(random() * 1200);
    const t0 = Date.now();
    await sleep(at);
    await target.kill9();
    await sleep(down);
    await target.start();
    const rest = CYCLE_MS - (Date.now() - t0);
    if (rest > 0) await sleep(rest);
    if (c % 10 === 9) log(`cycle ${c + 1}/${CYCLES}: ${sent.size} requests`);
  }
  loading = false;
  await Promise.all(loaders);
  agent.destroy();
  const loadEnded = Date.now();
  log(`load ended: ${sent.size} requests; draining`);

  // Drain: every spool file acknowledged, every closed window reported to Stripe.
  const ok2xx = [...sent].filter(([, s]) => s.status >= 200 && s.status < 300);
  const spoolFiles = () => readdirSync(spool, { recursive: true }).filter((f) => String(f).endsWith('.spool')).length;
  const drained = await until(
    'spool empty and ledger complete',
    async () => {
      if (spoolFiles() > 0) return false;
      const r = await pool.query<{ n: number }>(
        "SELECT count(DISTINCT request_id)::int AS n FROM usage_events WHERE kind = 'request' AND request_id = ANY($1)",
        [ok2xx.map(([id]) => id)],
      );
      return r.rows[0]!.n >= ok2xx.length;
    },
    DRAIN_MS,
    500,
  );
  // The last window closes WINDOW_S after the load ended, plus settle_s and a reporter interval.
  const lastWindowEnd = (Math.floor(loadEnded / 1000 / WINDOW_S) + 1) * WINDOW_S * 1000;
  const reported = await until(
    'every row reported to Stripe',
    async () => {
      if (Date.now() < lastWindowEnd + 3000) return false;
      const r = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_events WHERE reported_at IS NULL');
      return r.rows[0]!.n === 0;
    },
    Math.max(0, lastWindowEnd - Date.now()) + 120000,
    1000,
  );

  // Reconcile.
  const ledger = new Map<string, number>();
  for (const r of (
    await pool.query<{ request_id: string; n: number }>("SELECT request_id, count(*)::int AS n FROM usage_events WHERE kind = 'request' GROUP BY request_id")
  ).rows)
    ledger.set(r.request_id, r.n);
  let lost = 0;
  let doubled = 0;
  let billedNo2xx = 0;
  let non2xx = 0;
  const lostIds: string[] = [];
  for (const [id, s] of sent) {
    const inLedger = ledger.get(id) ?? 0;
    const ok = s.status >= 200 && s.status < 300;
    if (!ok) non2xx++;
    if (ok && inLedger === 0) {
      lost++;
      if (lostIds.length < 20) lostIds.push(id);
    }
    if (inLedger > 1) doubled++;
    if (!ok && inLedger > 0) billedNo2xx++;
  }
  const foreign = [...ledger.keys()].filter((id) => !sent.has(id)).length;
  // Per (customer, window): ledger vs Stripe.
  const win = await pool.query<{ customer: string; w: string; q: string }>(
    `SELECT stripe_customer AS customer, (floor(extract(epoch FROM occurred_at) / ${WINDOW_S}) * ${WINDOW_S})::bigint::text AS w, sum(quantity)::text AS q FROM usage_events GROUP BY 1, 2`,
  );
  const stripeBy = new Map<string, number>();
  for (const e of stripe.events.values()) {
    const k = `${e.customer}/${e.timestamp}`;
    stripeBy.set(k, (stripeBy.get(k) ?? 0) + Number(e.value));
  }
  let windows = 0;
  let windowMismatch = 0;
  const mismatches: string[] = [];
  const ledgerBy = new Map(win.rows.map((r) => [`${r.customer}/${r.w}`, Number(r.q)]));
  for (const k of new Set([...ledgerBy.keys(), ...stripeBy.keys()])) {
    windows++;
    const a = ledgerBy.get(k) ?? 0;
    const b = stripeBy.get(k) ?? 0;
    if (a !== b) {
      windowMismatch++;
      if (mismatches.length < 20) mismatches.push(`${k}: ledger ${a}, stripe ${b}`);
    }
  }
  const ledgerTotal = [...ledgerBy.values()].reduce((x, y) => x + y, 0);
  const stripeTotal = [...stripeBy.values()].reduce((x, y) => x + y, 0);

  const date = new Date().toISOString().slice(0, 10);
  const out = process.env.KILL_OUT ?? join(REPO, 'bench', 'results', `${date}-${sha}${dirty ? '-dirty' : ''}`, 'kill-test.md');
  mkdirSync(dirname(out), { recursive: true });
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  const md = `# Kill test ${date} (commit ${sha}${dirty ? ', with uncommitted changes' : ''})

\`node dist/bench/kill-test.js\` (bench/kill-test.ts): proxy + worker + a private redis-server
(no persistence) + Postgres + the Stripe stand-in; one kill -9 per cycle, proxy / worker / redis
in turn, at a random moment of the cycle, restarted after 0.1-1.3 s. Seed ${SEED}, ${CYCLES} cycles
of ${CYCLE_MS} ms, load ${RPS} rps at most with ${CONCURRENCY} in flight over ${CUSTOMERS} customers
(API keys), \`metering.spool_fsync: ${FSYNC}\`, Stripe windows of ${WINDOW_S} s. Took ${minutes} min.

| | count |
|---|---|
| kills: proxy / worker / redis | ${proxy.kills} / ${worker.kills} / ${redis.kills} |
| requests sent | ${sent.size} |
| answered 2xx | ${ok2xx.length} |
| not 2xx (refused or cut by a kill) | ${non2xx} |
| **lost** (2xx, not in the ledger) | **${lost}** |
| **doubled** (more than one ledger row for a request) | **${doubled}** |
| billed without a 2xx (the proxy died after spooling, before the client had the whole response) | ${billedNo2xx} |
| ledger rows for requests this run did not send | ${foreign} |
| (customer, window) pairs | ${windows} |
| **pairs where Σ ledger ≠ Σ Stripe** | **${windowMismatch}** |
| Σ ledger / Σ Stripe | ${ledgerTotal} / ${stripeTotal} |
| drained (spool empty, every 2xx in the ledger) / every row reported | ${drained} / ${reported} |
${lostIds.length ? `\nLost ids (first 20): ${lostIds.join(', ')}\n` : ''}${mismatches.length ? `\nMismatched windows (first 20):\n${mismatches.map((m) => `- ${m}`).join('\n')}\n` : ''}`;
  writeFileSync(out, md);
  process.stdout.write(md);
  log(`wrote ${out}`);

  await proxy.stop();
  await worker.stop();
  await redis.stop();
  await stripe.close();
  await new Promise<void>((r) => app.close(() => r()));
  await pool.end();
  await admin.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
  process.exit(lost === 0 && doubled === 0 && windowMismatch === 0 && drained ? 0 : 1);
}

main().catch((err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(2);
});
