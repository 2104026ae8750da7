/**
 * `argus-sidecar revoke` (the real CLI in a child process, lean RESP client)
 * writes exactly the deny state the ioredis path writes (publishRevocation, what
 * the command used before): same keys, values, TTLs and message on the same
 * channel, which a subscriber receives. With Postgres configured it still records
 * the revocation and re-projects a revoked key. Redis down: exit 1, one line,
 * and Postgres still records it; Postgres down: exit 1, and Redis already has it
 * (Redis is written first: it is what closes the sessions).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { redisKeys, type RevocationKind } from '../src/authenticate/store.js';
import { publishRevocation } from '../src/identity-admin/publish.js';
import { SHARED_REDIS, dropPrefix, runCli, testPrefix, until } from './support/auth-harness.js';

const PG = 'postgres://postgres@127.0.0.1:5432/postgres';

describe('revoke CLI deny state', () => {
  const cliPrefix = testPrefix('revoke-cli');
  const oldPrefix = testPrefix('revoke-old');
  const pgPrefix = testPrefix('revoke-pg');
  const schema = `revoke_cli_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'argus-revoke-cli-'));
  const file = (name: string, raw: object) => {
    const f = join(dir, name);
    writeFileSync(
      f,
      `# YAML, as operators write it\n${Object.entries(raw)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
        .join('\n')}\n`,
    );
    return f;
  };
  const base = { upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/*', auth: 'required' }] };
  const redisOnly = file('redis.yaml', { ...base, redis: { url: SHARED_REDIS, key_prefix: cliPrefix } });
  const withPg = file('pg.yaml', {
    ...base,
    redis: { url: SHARED_REDIS, key_prefix: pgPrefix },
    postgres: { url: `${PG}?options=-c%20search_path%3D${schema}` },
  });
  const admin = new pg.Client({ connectionString: PG });
  let redis: Redis;
  let sub: Redis;
  const heard: Array<{ channel: string; message: string }> = [];

  before(async () => {
    redis = new Redis(SHARED_REDIS);
    sub = new Redis(SHARED_REDIS);
    sub.on('message', (channel: string, message: string) => heard.push({ channel, message }));
    await sub.subscribe(redisKeys(cliPrefix).channel, redisKeys(pgPrefix).channel);
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
  });

  after(async () => {
    sub.disconnect();
    for (const p of [cliPrefix, oldPrefix, pgPrefix]) await dropPrefix(redis, p);
    redis.disconnect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Everything under a prefix: key (prefix stripped) → [value, ttl class]. */
  async function snapshot(prefix: string): Promise<Record<string, [string | null, string]>> {
    const out: Record<string, [string | null, string]> = {};
    for (const key of (await redis.keys(`${prefix}*`)).sort()) {
      const ttl = await redis.ttl(key);
      out[key.slice(prefix.length)] = [await redis.get(key), ttl === -1 ? 'none' : Math.abs(ttl - 30 * 24 * 3600) <= 2 ? '30d' : String(ttl)];
    }
    return out;
  }

  it('writes the same keys, values, TTLs and message as the ioredis path, and the subscriber hears it', async () => {
    const cases: Array<[RevocationKind, string]> = [
      ['user', 'u_1'],
      ['session', 'sess-1'],
      ['key', 'key_1'],
    ];
    for (const [kind, id] of cases) {
      const t0 = Date.now() / 1000;
      const r = await runCli(['revoke', `--${kind}`, id, '--config', redisOnly]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { revoked: { kind, id }, subscribers: 1 });
      await until(() => heard.some((h) => h.message.includes(`"${id}"`)), `the ${kind} revocation message`);
      const msg = heard.find((h) => h.message.includes(`"${id}"`))!;
      assert.equal(msg.channel, `${cliPrefix}auth:revocations`);
      const parsed = JSON.parse(msg.message) as { kind: string; id: string; at: number };
      assert.deepEqual(Object.keys(parsed), ['kind', 'id', 'at']);
      assert.ok(parsed.at >= t0 && parsed.at <= Date.now() / 1000, 'at: unix seconds of the revocation');
      assert.equal(await redis.get(redisKeys(cliPrefix).deny(kind, id)), String(parsed.at), 'the deny value is the published at, as text');
      await publishRevocation(redis, oldPrefix, { kind, id, at: parsed.at });
    }
    assert.deepEqual(await snapshot(cliPrefix), await snapshot(oldPrefix));
    assert.deepEqual(Object.keys(await snapshot(cliPrefix)), ['auth:deny:key:key_1', 'auth:deny:session:sess-1', 'auth:deny:user:u_1']);
  });

  it('with Postgres: records the revocation, marks the key revoked and re-projects its record', async () => {
    assert.equal((await runCli(['migrate', '--config', withPg])).code, 0);
    const created = await runCli(['keys', 'create', '--user', 'u_pg', '--tier', 'explorer', '--config', withPg]);
    assert.equal(created.code, 0, created.stderr);
    const { key_id } = JSON.parse(created.stdout) as { key_id: string };
    const r = await runCli(['revoke', '--key', key_id, '--config', withPg]);
    assert.equal(r.code, 0, r.stderr);
    const row = (await admin.query(`SELECT status, sha256 FROM "${schema}".api_keys WHERE key_id = $1`, [key_id])).rows[0];
    assert.equal(row.status, 'revoked');
    assert.equal(
      (await admin.query(`SELECT count(*)::int AS n FROM "${schema}".auth_revocations WHERE kind = 'key' AND subject_id = $1`, [key_id])).rows[0].n,
      1,
    );
    const rec = JSON.parse((await redis.get(redisKeys(pgPrefix).key(row.sha256)))!) as { status: string; key_id: string };
    assert.equal(rec.status, 'revoked');
    assert.equal(rec.key_id, key_id);
    assert.ok(await redis.get(redisKeys(pgPrefix).deny('key', key_id)));
    const u = await runCli(['revoke', '--user', 'u_pg', '--config', withPg]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal((await admin.query(`SELECT count(*)::int AS n FROM "${schema}".auth_revocations WHERE kind = 'user' AND subject_id = 'u_pg'`)).rows[0].n, 1);
  });

  it('Redis unreachable: exit 1 with a one-line message naming the address', async () => {
    const down = file('down.yaml', { ...base, redis: { url: 'redis://127.0.0.1:1', key_prefix: cliPrefix } });
    const r = await runCli(['revoke', '--user', 'u_2', '--config', down]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'argus-sidecar revoke: redis: 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1\n');
  });

  it('Redis unreachable with Postgres: exit 1, the revocation is still recorded in Postgres and the message says so', async () => {
    assert.equal((await runCli(['migrate', '--config', withPg])).code, 0);
    const down = file('down-pg.yaml', {
      ...base,
      redis: { url: 'redis://127.0.0.1:1', key_prefix: pgPrefix },
      postgres: { url: `${PG}?options=-c%20search_path%3D${schema}` },
    });
    const r = await runCli(['revoke', '--user', 'u_redis_down', '--config', down]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'argus-sidecar revoke: redis: 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1 (recorded in Postgres; run the command again to publish it)\n',
    );
    assert.equal(
      (await admin.query(`SELECT count(*)::int AS n FROM "${schema}".auth_revocations WHERE kind = 'user' AND subject_id = 'u_redis_down'`)).rows[0].n,
      1,
    );
  });

  it('Postgres unreachable: exit 1 naming postgres, and the kill switch is already in effect through Redis', async () => {
    const pgDown = file('pg-down.yaml', {
      ...base,
      redis: { url: SHARED_REDIS, key_prefix: pgPrefix },
      postgres: { url: 'postgres://postgres@127.0.0.1:1/postgres' },
    });
    const before = heard.length;
    const r = await runCli(['revoke', '--user', 'u_pg_down', '--config', pgDown]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^argus-sidecar revoke: postgres: .*ECONNREFUSED.* \(in effect: published through Redis; run the command again to record it\)\n$/);
    assert.ok(await redis.get(redisKeys(pgPrefix).deny('user', 'u_pg_down')));
    await until(
      () => heard.slice(before).some((h) => h.channel === redisKeys(pgPrefix).channel && JSON.parse(h.message).id === 'u_pg_down'),
      'the revocation on the channel',
    );
  });

  it('a bad config still exits 2 naming the key, before anything is written', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      `upstream: { url: http://127.0.0.1:1 }\nredis: { url: ${SHARED_REDIS}, key_prefix: "${cliPrefix}" }\nroutes: [{ path: /*, auth: required }]\nllm: { bogus: 1 }\n`,
    );
    const r = await runCli(['revoke', '--user', 'u_bad', '--config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /llm: unknown key\(s\) "bogus"/);
    assert.equal(await redis.exists(redisKeys(cliPrefix).deny('user', 'u_bad')), 0);
  });
});
