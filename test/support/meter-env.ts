/**
 * Shared fixtures of the metering tests: a Postgres schema per run, a config
 * with a unique queue and key prefix, a private redis-server (never the shared
 * one on 6379), a spawned `argus-sidecar worker`, and polling with a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { stringifyYaml as stringify } from '../../src/yaml.js';
import { parseConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/observe/log.js';
import { createPool, migrate, quoteIdent, type Pool } from '../../src/clients/postgres.js';

export const PG_BASE = 'postgres://postgres@127.0.0.1:5432/postgres';
export const SHARED_REDIS = 'redis://127.0.0.1:6379';
export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
export const quietLog = createLogger('error');

export const rand = () => randomBytes(5).toString('hex');

export interface TestDb {
  readonly url: string;
  readonly pool: Pool;
  drop(): Promise<void>;
}

/** A fresh schema with the migrations applied; `url` selects it via search_path. */
export async function createTestDb(): Promise<TestDb> {
  const schema = `argus_meter_${rand()}`;
  const admin = createPool(PG_BASE, { max: 1 });
  await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  const url = `${PG_BASE}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const pool = createPool(url, { max: 4 });
  await migrate(pool);
  let dropping: Promise<void> | null = null;
  return {
    url,
    pool,
    drop() {
      dropping ??= (async () => {
        await pool.end().catch(() => undefined);
        await admin.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
        await admin.end();
      })();
      return dropping;
    },
  };
}

/** A raw config object (YAML-shaped) for metering tests. */
export function rawConfig(o: {
  redisUrl?: string;
  pgUrl?: string;
  queue: string;
  prefix: string;
  spoolDir: string;
  metering?: Record<string, unknown>;
  stripe?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    admin: { host: '127.0.0.1', port: 0 },
    upstream: { url: 'http://127.0.0.1:1' },
    routes: [{ path: '/*', auth: 'none' }],
    ...(o.redisUrl ? { redis: { url: o.redisUrl, key_prefix: o.prefix } } : {}),
    ...(o.pgUrl ? { postgres: { url: o.pgUrl } } : {}),
    metering: { queue: o.queue, spool_dir: o.spoolDir, service: 'sibyl', flush_interval_ms: 5, replay_interval_ms: 100, queue_timeout_ms: 500, ...o.metering },
    ...(o.stripe ? { stripe: o.stripe } : {}),
    log: { level: 'info' },
  };
}

export function toConfig(raw: Record<string, unknown>): Readonly<Config> {
  return parseConfig(raw, {});
}

export function writeConfig(dir: string, raw: Record<string, unknown>): string {
  const file = join(dir, `argus-${rand()}.yaml`);
  writeFileSync(file, stringify(withWorkerAdminPort0(raw)));
  return file;
}

/** Workers spawned from these configs take a free admin port (their default, 9091, is one per host). */
function withWorkerAdminPort0(raw: Record<string, unknown>): Record<string, unknown> {
  const metering = (raw['metering'] ?? {}) as Record<string, unknown>;
  const worker = (metering['worker'] ?? {}) as Record<string, unknown>;
  if (worker['admin'] !== undefined) return raw;
  return { ...raw, metering: { ...metering, worker: { ...worker, admin: { host: '127.0.0.1', port: 0 } } } };
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'argus-meter-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Remove every key of a test queue, then anything else under the test's unique prefix. */
export async function obliterateQueue(redisUrl: string, queue: string, prefix: string): Promise<void> {
  if (!/^argus-(test|bench)-[0-9a-f]+:$/.test(prefix)) throw new Error(`refusing to clean prefix ${prefix}`);
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const q = new Queue(queue, { connection, prefix: `${prefix}bull` });
  try {
    await q.obliterate({ force: true });
  } finally {
    await q.close();
  }
  try {
    let cursor = '0';
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await connection.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    connection.disconnect();
  }
}

/** Poll until `check` returns a truthy value or the deadline passes (then throw with the last value). */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function ledgerCount(pool: Pool): Promise<{ rows: number; distinct: number }> {
  const r = await pool.query<{ rows: string; distinct: string }>('SELECT count(*) AS rows, count(DISTINCT event_id) AS distinct FROM usage_events');
  return { rows: Number(r.rows[0]?.rows), distinct: Number(r.rows[0]?.distinct) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A private, non-persistent redis-server this test may kill and restart. */
export interface PrivateRedis {
  readonly url: string;
  start(): Promise<void>;
  /** SIGKILL, like a crashed or partitioned Redis. */
  kill(): Promise<void>;
}

export async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const url = `redis://127.0.0.1:${port}`;
  const self: PrivateRedis = {
    url,
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await waitFor(
        `redis-server on ${port}`,
        async () => {
          const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
          c.on('error', () => undefined);
          try {
            await c.connect();
            return (await c.ping()) === 'PONG';
          } catch {
            return false;
          } finally {
            c.disconnect();
          }
        },
        10000,
      );
    },
    async kill() {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
  };
  return self;
}

/** `node dist/src/cli.js worker --config FILE` as a child process. */
export interface WorkerProcess {
  readonly proc: ChildProcess;
  /** Resolves once the worker logged "worker: started". */
  readonly started: Promise<void>;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

export function spawnWorker(configFile: string): WorkerProcess {
  const proc = spawn(process.execPath, [CLI, 'worker', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let resolveStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    resolveStarted = resolve;
    proc.once('exit', (code) => reject(new Error(`worker exited (${code}) before starting: ${err}`)));
  });
  started.catch(() => undefined);
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
    if (err.includes('"worker: started"')) resolveStarted();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, started, exited, stderr: () => err };
}

/**
 * The common setup of a metering test file: a unique queue and Redis prefix, a temp
 * dir and a fresh Postgres schema, all removed after the file's tests.
 */
export function meterFixture(): { readonly queue: string; readonly prefix: string; readonly tmp: ReturnType<typeof tempDir>; readonly db: TestDb } {
  let db: TestDb | undefined;
  const fx = {
    queue: `usage-${rand()}`,
    prefix: `argus-test-${rand()}:`,
    tmp: tempDir(),
    get db(): TestDb {
      if (!db) throw new Error('meterFixture: db is ready only inside tests');
      return db;
    },
  };
  before(async () => {
    db = await createTestDb();
  });
  after(async () => {
    await obliterateQueue(SHARED_REDIS, fx.queue, fx.prefix);
    await db?.drop();
    fx.tmp.remove();
  });
  return fx;
}
