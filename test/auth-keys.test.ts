/**
 * `argus-sidecar migrate` + `keys create | list | revoke | sync` against real
 * Postgres (a schema per run, via the URL's search_path option) and real Redis;
 * the created key authenticates through an Authenticator, the revoked one is refused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createAuthenticator, hashApiKey, type AuthOutcome, type Authenticator } from '../src/authenticate/index.js';
import { redisKeys } from '../src/authenticate/store.js';
import { Metrics } from '../src/observe/metrics.js';
import { SHARED_REDIS, dropPrefix, head, makeConfig, quietLog, runCli, testPrefix, until } from './support/auth-harness.js';

const PG = 'postgres://postgres@127.0.0.1:5432/postgres';

describe('auth keys CLI', () => {
  const schema = `auth_keys_${randomBytes(4).toString('hex')}`;
  const prefix = testPrefix('keys');
  const dir = mkdtempSync(join(tmpdir(), 'argus-keys-'));
  const configFile = join(dir, 'argus.yaml');
  const admin = new pg.Client({ connectionString: PG });
  let redis: Redis;
  let authn: Authenticator;
  let cfg: ReturnType<typeof makeConfig>;
  const revoked: string[] = [];

  before(async () => {
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    redis = new Redis(SHARED_REDIS);
    const raw = {
      upstream: { url: 'http://127.0.0.1:1' },
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      postgres: { url: `${PG}?options=-c%20search_path%3D${schema}` },
      routes: [{ path: '/*' }],
    };
    writeFileSync(configFile, JSON.stringify(raw));
    cfg = makeConfig(raw);
    const m = await runCli(['migrate', '--config', configFile]);
    assert.equal(m.code, 0, m.stderr);
    assert.ok(JSON.parse(m.stdout).applied.includes('002_keys'));
    authn = await createAuthenticator(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog });
    authn.onRevoke((r) => revoked.push(r.id));
  });

  after(async () => {
    await authn?.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const code = (o: AuthOutcome) => (o.ok ? 'ok' : o.denial.code);
  let created: { key_id: string; key: string };

  test('keys create prints key_id and key once; the key authenticates with its record', async () => {
    const out = await runCli([
      'keys',
      'create',
      '--user',
      'u_cli',
      '--tier',
      'professional',
      '--role',
      'analyst',
      '--scopes',
      'sibyl:read,sibyl:write',
      '--features',
      'predictions',
      '--llm',
      '{"models":["gpt-4o-mini"]}',
      '--config',
      configFile,
    ]);
    assert.equal(out.code, 0, out.stderr);
    created = JSON.parse(out.stdout);
    assert.deepEqual(Object.keys(created).sort(), ['key', 'key_id']);
    assert.match(created.key, /^ak_live_[0-9A-Za-z]{43}$/);
    const row = (await admin.query(`SELECT * FROM "${schema}".api_keys WHERE key_id = $1`, [created.key_id])).rows[0];
    assert.equal(row.sha256, hashApiKey(created.key));
    assert.ok(!JSON.stringify(row).includes(created.key), 'the key itself is never stored');
    const o = await authn.authenticate(head([['x-api-key', created.key]]), cfg.routes[0]!);
    assert.ok(o.ok && o.ctx);
    assert.equal(o.ctx.user_id, 'u_cli');
    assert.equal(o.ctx.tier, 'professional');
    assert.equal(o.ctx.role, 'analyst');
    assert.deepEqual(o.ctx.scopes, ['sibyl:read', 'sibyl:write']);
    assert.deepEqual(o.ctx.llm?.models, ['gpt-4o-mini']);
  });

  test("keys list shows the user's keys without digests", async () => {
    const out = await runCli(['keys', 'list', '--user', 'u_cli', '--config', configFile]);
    assert.equal(out.code, 0, out.stderr);
    const list = JSON.parse(out.stdout) as Array<Record<string, unknown>>;
    assert.equal(list.length, 1);
    assert.equal(list[0]!['key_id'], created.key_id);
    assert.equal(list[0]!['status'], 'active');
    assert.ok(!out.stdout.includes(hashApiKey(created.key)) && !out.stdout.includes(created.key));
  });

  test('keys sync restores the Redis projection from Postgres', async () => {
    await redis.del(redisKeys(prefix).key(hashApiKey(created.key)));
    const out = await runCli(['keys', 'sync', '--config', configFile]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(JSON.parse(out.stdout).keys, 1);
    assert.ok(await redis.exists(redisKeys(prefix).key(hashApiKey(created.key))));
  });

  test('keys revoke: Postgres marked, the running sidecar hears it and refuses the key', async () => {
    const out = await runCli(['keys', 'revoke', created.key_id, '--config', configFile]);
    assert.equal(out.code, 0, out.stderr);
    await until(() => revoked.includes(created.key_id), 'revocation message');
    assert.equal(code(await authn.authenticate(head([['x-api-key', created.key]]), cfg.routes[0]!)), 'ARGUS_REVOKED');
    const row = (await admin.query(`SELECT status, revoked_at FROM "${schema}".api_keys WHERE key_id = $1`, [created.key_id])).rows[0];
    assert.equal(row.status, 'revoked');
    assert.ok(row.revoked_at instanceof Date);
    const rev = (await admin.query(`SELECT kind FROM "${schema}".auth_revocations WHERE subject_id = $1`, [created.key_id])).rows;
    assert.deepEqual(rev, [{ kind: 'key' }]);
  });

  test('bad usage exits 2 and names the problem', async () => {
    const badTier = await runCli(['keys', 'create', '--user', 'u_cli', '--tier', 'platinum', '--config', configFile]);
    assert.equal(badTier.code, 2);
    assert.match(badTier.stderr, /--tier/);
    const badScope = await runCli(['keys', 'create', '--user', 'u_cli', '--tier', 'explorer', '--scopes', 'has space', '--config', configFile]);
    assert.equal(badScope.code, 2);
    assert.equal((await runCli(['keys', 'revoke', 'key_nope', '--config', configFile])).code, 2);
    assert.equal((await runCli(['keys', 'frobnicate', '--config', configFile])).code, 2);
  });
});
