/**
 * Revocation across two sidecars sharing Redis: `argus-sidecar revoke` (the real
 * CLI in a child process) writes deny state and publishes; both Authenticators
 * evict their L1 entries at once, refuse the credential on the next request and
 * tell their listeners. A lost pub/sub message is covered by the cache TTL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createAuthenticator, generateApiKey, signSession, type AuthOutcome, type Authenticator } from '../src/authenticate/index.js';
import { redisKeys } from '../src/authenticate/store.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { Metrics } from '../src/observe/metrics.js';
import {
  AUDIENCE,
  ISSUER,
  SESSION_SECRET,
  SHARED_REDIS,
  bearer,
  claims,
  dropPrefix,
  head,
  makeConfig,
  metricValue,
  quietLog,
  runCli,
  testClock,
  testPrefix,
  until,
} from './support/auth-harness.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';

describe('auth revocation across sidecars', () => {
  const prefix = testPrefix('revoke');
  const clock = testClock();
  const dir = mkdtempSync(join(tmpdir(), 'argus-revoke-'));
  const configFile = join(dir, 'argus.yaml');
  let jwks: JwksServer;
  let redis: Redis;
  const sidecars: Array<{ authn: Authenticator; metrics: Metrics; events: Array<{ kind: string; id: string }> }> = [];
  let cfg: ReturnType<typeof makeConfig>;
  const key = generateApiKey();

  before(async () => {
    jwks = await startJwksServer();
    redis = new Redis(SHARED_REDIS);
    const raw = {
      upstream: { url: 'http://127.0.0.1:1' },
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      auth: { jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE }, session: { secret: SESSION_SECRET } },
      routes: [{ path: '/*', auth: 'required' }],
    };
    writeFileSync(configFile, JSON.stringify(raw));
    cfg = makeConfig(raw);
    await projectKey(redis, prefix, key.sha256, {
      key_id: key.key_id,
      user_id: 'u_c',
      tier: 'explorer',
      scopes: [],
      features: [],
      status: 'active',
      created_at: clock.nowS() - 10,
    });
    for (let i = 0; i < 2; i++) {
      const metrics = new Metrics({ defaultMetrics: false });
      const authn = await createAuthenticator(cfg, { metrics, log: quietLog, now: clock.now });
      const events: Array<{ kind: string; id: string }> = [];
      authn.onRevoke((r) => events.push(r));
      sidecars.push({ authn, metrics, events });
    }
  });

  after(async () => {
    for (const s of sidecars) await s.authn.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    await jwks?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const route = () => cfg.routes[0]!;
  const code = (o: AuthOutcome) => (o.ok ? 'ok' : o.denial.code);
  const token = () => jwks.sign(claims(clock.nowS(), { sub: 'u_a', sid: 'sess-x' }));
  const session = () => signSession({ sub: 'u_b', sid: 'sid-b', exp: clock.nowS() + 600 }, SESSION_SECRET);
  const creds: Record<string, () => Array<[string, string]>> = {
    jwt: () => bearer(token()),
    session: () => [['x-cognito-session', session()]],
    key: () => [['x-api-key', key.key]],
  };

  async function expectAll(name: string, want: string) {
    for (const [i, s] of sidecars.entries()) {
      assert.equal(code(await s.authn.authenticate(head(creds[name]!()), route())), want, `sidecar ${i}, ${name}`);
    }
  }

  test('both sidecars accept and cache all three credentials', async () => {
    for (const name of Object.keys(creds)) await expectAll(name, 'ok');
    for (const s of sidecars) assert.ok(!(s.authn.authenticate(head(creds['jwt']!()), route()) instanceof Promise), 'cached');
  });

  test('revoke --session: both evict at once and refuse the token; the others still pass', async () => {
    const out = await runCli(['revoke', '--session', 'sess-x', '--config', configFile]);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(JSON.parse(out.stdout).subscribers >= 2);
    await until(() => sidecars.every((s) => s.events.some((e) => e.kind === 'session' && e.id === 'sess-x')), 'both sidecars to hear the revocation');
    await expectAll('jwt', 'ARGUS_REVOKED');
    await expectAll('session', 'ok');
    await expectAll('key', 'ok');
    assert.equal(await metricValue(sidecars[0]!.metrics.registry, 'argus_revocations_total', { kind: 'session' }), 1);
  });

  test('revoke --user and revoke --key reach both sidecars', async () => {
    const u = await runCli(['revoke', '--user', 'u_b', '--config', configFile]);
    assert.equal(u.code, 0, u.stderr);
    const k = await runCli(['revoke', '--key', key.key_id, '--config', configFile]);
    assert.equal(k.code, 0, k.stderr);
    await until(() => sidecars.every((s) => s.events.some((e) => e.kind === 'key')), 'key revocation');
    await expectAll('session', 'ARGUS_REVOKED');
    await expectAll('key', 'ARGUS_REVOKED');
    const ctx = { method: 'api_key' as const, user_id: 'u_c', tier: 'explorer', features: [], scopes: [], key_id: key.key_id };
    assert.equal(await sidecars[1]!.authn.revalidate(ctx), 'revoked');
  });

  test('a lost pub/sub message is covered by the cache TTL', async () => {
    const t = jwks.sign(claims(clock.nowS(), { sub: 'u_d', sid: 'sess-lost' }));
    assert.equal(code(await sidecars[0]!.authn.authenticate(head(bearer(t)), route())), 'ok');
    await redis.set(redisKeys(prefix).deny('session', 'sess-lost'), String(clock.nowS())); // deny state, no PUBLISH
    assert.equal(code(sidecars[0]!.authn.authenticate(head(bearer(t)), route()) as AuthOutcome), 'ok', 'served from L1 until the TTL');
    clock.advance(cfg.auth.cache.ttl_ms);
    assert.equal(code(await sidecars[0]!.authn.authenticate(head(bearer(t)), route())), 'ARGUS_REVOKED');
  });

  test('usage errors exit 2', async () => {
    assert.equal((await runCli(['revoke', '--user', 'a', '--key', 'b', '--config', configFile])).code, 2);
    assert.equal((await runCli(['revoke', '--user', 'a'])).code, 2);
  });
});
