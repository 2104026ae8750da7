/**
 * A Redis that restarts empty does not lock customers out. Before this, every
 * valid API key got 401 ARGUS_INVALID_API_KEY until someone ran `keys sync`, and
 * user records (tiers) were gone for good.
 *
 * Real parts: a private redis-server the test kills and restarts without
 * persistence, Postgres (schema per run), the spawned `argus-sidecar worker`
 * (its projection watch), the CLI (`keys`, `users`, `revoke`), and the proxy
 * (uWS, in process) in front of a recording upstream.
 *
 *   - during the gap (worker stopped): valid key and JWT → 503
 *     ARGUS_DEPENDENCY_UNAVAILABLE with Retry-After, never 401; a revoked key and
 *     a cached credential revoked while Redis was down are never served;
 *   - a worker re-projects deny state, keys and users: 200 again, the JWT user's
 *     tier and features from `users set` reach the upstream, revoked keys 401;
 *   - with the worker running, a second restart heals by itself with no 401.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { projectionKeys } from '../src/authenticate/projection.js';
import { AUDIENCE, ISSUER, claims, runCli } from './support/auth-harness.js';
import { get, errorCode, type HttpReply } from './support/http.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';
import {
  createTestDb,
  privateRedis,
  rand,
  spawnWorker,
  tempDir,
  waitFor,
  writeConfig,
  type PrivateRedis,
  type TestDb,
  type WorkerProcess,
} from './support/meter-env.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

const prefix = `argus-test-${rand()}:`;
const tmp = tempDir();
let redis: PrivateRedis;
let db: TestDb;
let jwks: JwksServer;
let upstream: RecordingUpstream;
let proxy: TestProxy | undefined;
let configFile: string;
const workers: WorkerProcess[] = [];

function raw(): Record<string, unknown> {
  return {
    upstream: { url: upstream.url },
    redis: { url: redis.url, key_prefix: prefix },
    postgres: { url: db.url },
    auth: { jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE }, cache: { ttl_ms: 200, negative_ttl_ms: 100, max_stale_ms: 60_000 } },
    routes: [
      { path: '/open/*', on_auth_unavailable: 'open' },
      { path: '/closed/*', on_auth_unavailable: 'closed' },
    ],
  };
}

before(async () => {
  redis = await privateRedis();
  await redis.start();
  db = await createTestDb();
  jwks = await startJwksServer();
  upstream = await startUpstream();
  configFile = writeConfig(tmp.dir, { ...raw(), metering: { enabled: false }, admin: { host: '127.0.0.1', port: 0 }, log: { level: 'info' } });
});

after(async () => {
  for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
  await proxy?.stop();
  await redis?.kill();
  await db?.drop();
  await jwks?.close();
  await upstream?.close();
  tmp.remove();
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli([...args, '--config', configFile]);
}

async function createKey(user: string, tier: string): Promise<{ key_id: string; key: string }> {
  const out = await cli(['keys', 'create', '--user', user, '--tier', tier]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as { key_id: string; key: string };
}

async function epoch(): Promise<string | null> {
  const c = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await c.get(projectionKeys(prefix).epoch);
  } catch {
    return null;
  } finally {
    c.disconnect();
  }
}

async function startWorker(): Promise<WorkerProcess> {
  const w = spawnWorker(configFile);
  workers.push(w);
  await w.started;
  return w;
}

async function stopWorker(w: WorkerProcess): Promise<void> {
  w.proc.kill('SIGKILL');
  await w.exited;
}

const withKey = (key: string) => ({ 'x-api-key': key });
const withToken = (token: string) => ({ authorization: `Bearer ${token}` });
const codeOf = (r: HttpReply): string => (r.status === 200 ? 'ok' : errorCode(r));

test('Redis restarted empty: 503 not 401 until re-projected, revoked stays refused, tiers survive', async () => {
  const valid = await createKey('u_key', 'professional');
  const revoked = await createKey('u_rev', 'professional');
  const cached = await createKey('u_cached', 'professional');
  let out = await cli(['keys', 'revoke', revoked.key_id]);
  assert.equal(out.code, 0, out.stderr);
  out = await cli(['users', 'set', '--user', 'u_jwt', '--tier', 'business', '--features', 'beta,charts']);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(JSON.parse(out.stdout).tier, 'business');
  out = await cli(['users', 'get', '--user', 'u_jwt']);
  assert.deepEqual(
    { ...JSON.parse(out.stdout), updated_at: 'x' },
    { user_id: 'u_jwt', tier: 'business', features: ['beta', 'charts'], status: 'active', version: 1, updated_at: 'x' },
  );

  let worker = await startWorker();
  await waitFor('the worker to write a complete epoch', async () => (await epoch())?.includes('"complete"'), 15_000);
  proxy = await startTestProxy(raw());
  const token = jwks.sign(claims(Math.floor(Date.now() / 1000), { sub: 'u_jwt' }));

  // Before: everything as configured.
  let r = await get(`${proxy.url}/open/echo`, withToken(token));
  assert.equal(r.status, 200, r.body);
  assert.equal(upstream.seen.at(-1)?.headers['x-argus-tier'], 'business');
  assert.equal((await get(`${proxy.url}/open/echo`, withKey(valid.key))).status, 200);
  assert.equal(codeOf(await get(`${proxy.url}/open/echo`, withKey(revoked.key))), 'ARGUS_REVOKED');
  assert.equal((await get(`${proxy.url}/open/echo`, withKey(cached.key))).status, 200);

  // The gap: no worker, Redis killed; a revocation reaches only Postgres; Redis back empty.
  await stopWorker(worker);
  await redis.kill();
  out = await cli(['revoke', '--key', cached.key_id]);
  assert.equal(out.code, 1, 'Redis is down: the revocation is recorded in Postgres only');
  assert.match(out.stderr, /redis/);
  await redis.start();
  assert.equal(await epoch(), null, 'the restarted Redis is empty');
  await waitFor(
    'the proxy to reach the empty Redis',
    async () => codeOf(await get(`${proxy!.url}/open/echo`, withKey(valid.key))) === 'ARGUS_DEPENDENCY_UNAVAILABLE',
    15_000,
  );

  for (const [what, headers] of [
    ['valid key', withKey(valid.key)],
    ['JWT', withToken(token)],
    ['fresh JWT', withToken(jwks.sign(claims(Math.floor(Date.now() / 1000), { sub: 'u_jwt', jti: rand() })))],
  ] as const) {
    for (const path of ['/open/echo', '/closed/echo']) {
      r = await get(`${proxy.url}${path}`, headers);
      assert.equal(r.status, 503, `${what} on ${path}: ${r.body}`);
      assert.equal(errorCode(r), 'ARGUS_DEPENDENCY_UNAVAILABLE', `${what} on ${path}`);
      assert.ok(Number(r.headers['retry-after']) >= 1, 'Retry-After');
    }
  }
  assert.equal(
    (await get(`${proxy.url}/open/echo`, withKey(revoked.key))).status,
    503,
    'a revoked key is not served (and not told 401 by an empty Redis either)',
  );
  assert.equal((await get(`${proxy.url}/open/echo`, withKey(cached.key))).status, 503, 'a cached decision whose revocation Redis lost is not served');

  // A worker notices the missing epoch and re-projects: deny state first, then keys, then users.
  const seenBefore = upstream.seen.length;
  worker = await startWorker();
  await waitFor('the valid key to be served again', async () => (await get(`${proxy!.url}/open/echo`, withKey(valid.key))).status === 200, 10_000);
  r = await get(`${proxy.url}/open/echo`, withToken(token));
  assert.equal(r.status, 200, r.body);
  const seen = upstream.seen.at(-1)!;
  assert.equal(seen.headers['x-argus-tier'], 'business', 'the tier came back from Postgres');
  assert.equal(seen.headers['x-argus-features'], 'beta,charts');
  assert.equal(codeOf(await get(`${proxy.url}/open/echo`, withKey(revoked.key))), 'ARGUS_REVOKED');
  assert.equal(codeOf(await get(`${proxy.url}/closed/echo`, withKey(cached.key))), 'ARGUS_REVOKED', 'the revocation recorded while Redis was down is in force');
  assert.equal(codeOf(await get(`${proxy.url}/open/echo`, withKey(cached.key))), 'ARGUS_REVOKED');
  assert.ok(
    upstream.seen.slice(seenBefore).every((s) => s.headers['x-argus-user-id'] !== 'u_cached' && s.headers['x-argus-user-id'] !== 'u_rev'),
    'revoked credentials never reached the upstream',
  );

  // With the worker running, a restart heals by itself: statuses seen meanwhile are 503 or 200, never 401.
  await redis.kill();
  await redis.start();
  const restartedAt = Date.now();
  const statuses = new Map<number, number>();
  await waitFor(
    'the valid key after the second restart',
    async () => {
      const [a, b] = await Promise.all([get(`${proxy!.url}/open/echo`, withKey(valid.key)), get(`${proxy!.url}/open/echo`, withKey(revoked.key))]);
      for (const s of [a.status, b.status === 200 ? 'revoked-200' : 0]) if (typeof s === 'number') statuses.set(s, (statuses.get(s) ?? 0) + 1);
      assert.notEqual(b.status, 200, 'the revoked key is never served');
      return a.status === 200 && codeOf(b) === 'ARGUS_REVOKED';
    },
    15_000,
  );
  const healedMs = Date.now() - restartedAt;
  assert.ok(!statuses.has(401), `no 401 for the valid key while Redis was being restored: ${JSON.stringify([...statuses])}`);
  // The valid key may have been served from the L1 cache before this proxy's Redis
  // connection came back (open route, fail-open); a fresh JWT needs the user record.
  await waitFor(
    'a fresh JWT served with the tier from Postgres',
    async () => {
      r = await get(`${proxy!.url}/open/echo`, withToken(jwks.sign(claims(Math.floor(Date.now() / 1000), { sub: 'u_jwt', jti: rand() }))));
      assert.notEqual(r.status, 401, r.body);
      return r.status === 200 && upstream.seen.at(-1)?.headers['x-argus-tier'] === 'business';
    },
    15_000,
  );
  process.stdout.write(`# healed ${healedMs} ms after the second Redis restart\n`);
  await stopWorker(worker);
});
