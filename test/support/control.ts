/**
 * A spawned `argus-sidecar control` against real Postgres (a schema per run,
 * migrated) and the shared Redis (a random key prefix), with a bootstrap
 * admin (role admin) and its API key created through the service layer the
 * CLI uses. `api()` calls the internal listener; `stop()` SIGTERMs the process
 * and drops the schema and the prefix.
 */
import { Redis } from 'ioredis';
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config.js';
import { cliActor } from '../../src/control/services/actor.js';
import type { ServiceDeps } from '../../src/control/services/deps.js';
import { createKey } from '../../src/control/services/keys.js';
import { createUser } from '../../src/control/services/users.js';
import { SHARED_REDIS, createTestDb, quietLog, rand, type TestDb } from './meter-env.js';
import { dropPrefix } from './auth-harness.js';
import { startCli, type StartedChild } from './spawn.js';

export const SESSION_SECRET = 'control-session-secret-0123456789';

export interface ControlEnv {
  readonly url: string;
  readonly adminUrl: string;
  readonly publicUrl: string;
  readonly adminKey: string;
  readonly db: TestDb;
  readonly redis: Redis;
  readonly prefix: string;
  readonly configFile: string;
  readonly raw: Record<string, unknown>;
  readonly proc: StartedChild;
  /** In-process service deps on the same database (for fixtures). */
  readonly deps: ServiceDeps;
  api(method: string, path: string, opts?: { key?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<ApiReply>;
  stop(): Promise<void>;
}

export interface ApiReply {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
}

/** The base config (YAML-shaped) of a control process and the proxies beside it. */
export function controlRaw(o: { pgUrl: string; prefix: string; upstream?: string; extra?: Record<string, unknown> }): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    threads: 1,
    upstream: { url: o.upstream ?? 'http://127.0.0.1:1' },
    redis: { url: SHARED_REDIS, key_prefix: o.prefix },
    postgres: { url: o.pgUrl },
    auth: { session: { secret: SESSION_SECRET } },
    metering: { enabled: false },
    routes: [{ path: '/healthz', auth: 'none' }, { path: '/ws/*', websocket: { heartbeat_ms: 200 } }, { path: '/*' }],
    control: {
      internal: { host: '127.0.0.1', port: 0 },
      public: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      reconcile_interval_ms: 200,
      sweep_interval_ms: 500,
      drain_timeout_ms: 2000,
    },
    log: { level: 'info' },
    ...o.extra,
  };
}

export function writeRaw(raw: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'argus-control-')), 'argus.json');
  writeFileSync(file, JSON.stringify(raw));
  return file;
}

export async function startControlEnv(opts: { upstream?: string; extra?: Record<string, unknown> } = {}): Promise<ControlEnv> {
  const db = await createTestDb();
  const prefix = `argus-test:control-${rand()}:`;
  const redis = new Redis(SHARED_REDIS);
  const raw = controlRaw({ pgUrl: db.url, prefix, ...opts });
  const configFile = writeRaw(raw);
  const cfg = parseConfig(raw, {});
  const deps: ServiceDeps = { cfg, pool: db.pool, redis, prefix, log: quietLog, authn: null, now: Date.now };
  const actor = cliActor();
  const admin = await createUser(deps, actor, { user_id: 'admin', role: 'admin', tier: 'enterprise' });
  if (!admin.ok) throw new Error(`bootstrap admin: ${admin.denial.message}`);
  const key = await createKey(deps, actor, 'admin', { scopes: [], role: 'admin' });
  if (!key.ok || key.value.key === undefined) throw new Error('bootstrap admin key');
  const proc = startCli(['control', '--config', configFile]);
  const started = await proc.waitForLog('control: started', 30000);
  const url = `http://127.0.0.1:${started['internal_port']}`;
  const adminKey = key.value.key;
  let stopping: Promise<void> | null = null;
  return {
    url,
    adminUrl: `http://127.0.0.1:${started['admin_port']}`,
    publicUrl: `http://127.0.0.1:${started['public_port']}`,
    adminKey,
    db,
    redis,
    prefix,
    configFile,
    raw,
    proc,
    deps,
    async api(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const k = o.key === undefined ? adminKey : o.key;
      if (k !== null) headers['x-api-key'] = k;
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method, headers, ...(o.body !== undefined && { body: JSON.stringify(o.body) }) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
    },
    stop() {
      stopping ??= (async () => {
        proc.child.kill('SIGTERM');
        await proc.exited;
        await dropPrefix(redis, prefix);
        redis.disconnect();
        await db.drop();
      })();
      return stopping;
    },
  };
}

/** Audit rows, oldest first. */
export async function auditRows(env: ControlEnv): Promise<Array<{ actor: string; action: string; subject_kind: string; subject_id: string }>> {
  return (await env.db.pool.query('SELECT actor, action, subject_kind, subject_id FROM audit_log ORDER BY id')).rows;
}
