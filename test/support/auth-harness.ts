/**
 * Shared helpers for the auth tests: config builder, request heads, an injected
 * clock, a per-test Redis prefix, and a private redis-server for outage tests
 * (never the shared one on 6379).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { parseConfig, type Config, type RouteConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/observe/log.js';
import type { RequestHead } from '../../src/request/head.js';

export const SHARED_REDIS = 'redis://127.0.0.1:6379';
export const ISSUER = 'https://cognito-idp.test.example/pool1';
export const AUDIENCE = 'argus-api';
export const SESSION_SECRET = 'session-secret-0123456789abcdef';

export const quietLog: Logger = createLogger('error', {}, () => undefined);

export function testPrefix(name: string): string {
  return `argus-test:${name}:${randomBytes(4).toString('hex')}:`;
}

/** A settable clock in ms (starts at a whole second near real time). */
export function testClock(start = Math.floor(Date.now() / 1000) * 1000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms), nowS: () => Math.floor(t / 1000) };
}

export function head(headers: ReadonlyArray<readonly [string, string]>, opts: { path?: string; query?: string; remoteAddress?: string } = {}): RequestHead {
  return {
    method: 'GET',
    path: opts.path ?? '/v1/things',
    query: opts.query ?? '',
    headers: headers.flat(),
    remoteAddress: opts.remoteAddress ?? '192.0.2.1',
    requestId: 'req-test',
  };
}

export const bearer = (token: string): Array<[string, string]> => [['authorization', `Bearer ${token}`]];

/** A validated config: routes and auth given, the rest defaulted. */
export function makeConfig(raw: { auth?: unknown; routes?: unknown[]; redis?: unknown; postgres?: unknown; tiers?: unknown }): Readonly<Config> {
  return parseConfig(
    {
      upstream: { url: 'http://127.0.0.1:1' },
      routes: raw.routes ?? [{ path: '/*', auth: 'required' }],
      ...(raw.auth !== undefined && { auth: raw.auth }),
      ...(raw.redis !== undefined && { redis: raw.redis }),
      ...(raw.postgres !== undefined && { postgres: raw.postgres }),
      ...(raw.tiers !== undefined && { tiers: raw.tiers }),
    },
    {},
  );
}

export function routeOf(cfg: Readonly<Config>, path: string): RouteConfig {
  const r = cfg.routes.find((x) => x.path === path);
  if (!r) throw new Error(`no route ${path}`);
  return r;
}

/** Standard JWT claims valid at `nowS`. */
export function claims(nowS: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: ISSUER, aud: AUDIENCE, sub: 'u_1', iat: nowS - 5, exp: nowS + 3600, ...extra };
}

/** Delete every key under a prefix (after()). */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(keys);
}

/** Poll `cond` until true or the deadline passes (no fixed sleeps). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A private, non-persistent redis-server on a free port; `kill()` takes it down (outage tests). */
export async function startPrivateRedis(): Promise<{ url: string; port: number; kill: () => Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
  probe.on('error', () => undefined);
  await until(async () => (await probe.ping().catch(() => null)) === 'PONG', 'private redis-server');
  probe.disconnect();
  let dead = false;
  return {
    url,
    port,
    kill: async () => {
      if (dead) return;
      dead = true;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      await exited;
    },
  };
}

/**
 * A private redis-server that speaks only TLS (`rediss://`), with a self-signed
 * certificate for 127.0.0.1 made by the openssl CLI. `caFile` is the PEM a client
 * must trust (e.g. NODE_EXTRA_CA_CERTS for a child process).
 */
export async function startTlsRedis(dir: string): Promise<{ url: string; caFile: string; ca: Buffer; kill: () => Promise<void> }> {
  const key = join(dir, 'redis-key.pem');
  const cert = join(dir, 'redis-cert.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a test certificate: ${made.error?.message ?? made.stderr}`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--tls-cert-file',
      cert,
      '--tls-key-file',
      key,
      '--tls-ca-cert-file',
      cert,
      '--tls-auth-clients',
      'no',
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'ignore' },
  );
  const url = `rediss://127.0.0.1:${port}`;
  const ca = readFileSync(cert);
  const probe = new Redis(url, { lazyConnect: true, tls: { ca }, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
  probe.on('error', () => undefined);
  await until(async () => (await probe.ping().catch(() => null)) === 'PONG', 'TLS redis-server');
  probe.disconnect();
  return {
    url,
    caFile: cert,
    ca,
    kill: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** One sample's value from the Prometheus text of a registry (0 when absent). */
export async function metricValue(registry: { metrics(): Promise<string> }, sample: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await registry.metrics();
  for (const line of text.split('\n')) {
    if (!line.startsWith(sample)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== sample) continue;
    const got = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[4]);
  }
  return 0;
}

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** Run `argus-sidecar ARGS` (the built CLI) in a child process. */
export function runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000, ...(env ? { env: { ...process.env, ...env } } : {}) }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
