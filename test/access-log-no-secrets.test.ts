/**
 * The access log: one JSON line per request with the documented fields
 * (docs/observability.md), `refusals` mode logs only refusals, and no token, API
 * key, session header or query-string credential appears anywhere in what the
 * sidecar wrote (access lines and JSON logs, grepped for every secret sent).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateApiKey, signSession } from '../src/authenticate/index.js';
import { AUDIENCE, ISSUER, SESSION_SECRET, claims } from './support/auth-harness.js';
import { get } from './support/http.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

const FIELDS = ['t', 'type', 'request_id', 'trace_id', 'method', 'route', 'path', 'status', 'code', 'user_id', 'key_id', 'latency_ms', 'bytes_in', 'bytes_out'];

describe('access log', () => {
  let jwks: JwksServer;
  let up: RecordingUpstream;
  let otlp: OtlpReceiver;
  let sampled: TestProxy;
  let refusals: TestProxy;
  let dir: string;
  const key = generateApiKey();

  before(async () => {
    jwks = await startJwksServer();
    up = await startUpstream();
    otlp = await startOtlpReceiver();
    dir = mkdtempSync(join(tmpdir(), 'argus-access-'));
    writeFileSync(join(dir, 'keys.yaml'), `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: u_key, tier: business }\n`);
    const base = {
      upstream: { url: up.url },
      auth: {
        api_keys: { file: join(dir, 'keys.yaml') },
        jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE },
        session: { secret: SESSION_SECRET, max_age_s: 3600 },
      },
      ratelimit: { enabled: false },
      routes: [{ path: '/*', auth: 'required' }],
    };
    sampled = await startTestProxy({
      ...base,
      observability: { access_log: { mode: 'sampled', ratio: 1 }, tracing: { enabled: true, endpoint: otlp.url, export_interval_ms: 50 } },
    });
    refusals = await startTestProxy({ ...base, observability: { access_log: { mode: 'refusals' } } });
  });
  after(async () => {
    await sampled.stop();
    await refusals.stop();
    await up.close();
    await jwks.close();
    await otlp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs every request with its fields, and never a credential', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = jwks.sign(claims(now, { sub: 'u_jwt' }));
    const session = signSession({ sub: 'u_session', sid: 'sid-1', exp: now + 600, iat: now }, SESSION_SECRET);
    const badKey = `ak_live_${'q'.repeat(40)}`;
    const queryToken = 'querysecret0123456789';
    const sent = [
      await get(`${sampled.url}/a`, { 'x-api-key': key.key }),
      await get(`${sampled.url}/b`, { authorization: `Bearer ${token}` }),
      await get(`${sampled.url}/c`, { 'x-cognito-session': session }),
      await get(`${sampled.url}/d?access_token=${queryToken}`, { 'x-api-key': badKey }),
    ];
    assert.deepEqual(
      sent.map((r) => r.status),
      [200, 200, 200, 401],
    );
    const lines = sampled.access.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 4);
    for (const l of lines) assert.deepEqual(Object.keys(l).sort(), [...FIELDS].sort());
    const [a, b, c, d] = lines as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    assert.equal(a['user_id'], 'u_key');
    assert.equal(a['key_id'], key.key_id);
    assert.equal(a['status'], 200);
    assert.equal(a['code'], null);
    assert.equal(a['request_id'], sent[0]!.headers['x-request-id']);
    assert.match(String(a['trace_id']), /^[0-9a-f]{32}$/);
    assert.equal(a['trace_id'], String(up.seen[0]?.headers['traceparent']).slice(3, 35));
    assert.equal(b['user_id'], 'u_jwt');
    assert.equal(c['user_id'], 'u_session');
    assert.equal(d['path'], '/d', 'no query string');
    assert.equal(d['status'], 401);
    assert.match(String(d['code']), /^ARGUS_/);
    assert.equal(typeof a['latency_ms'], 'number');
    assert.ok((a['bytes_out'] as number) > 0);

    const everything = [...sampled.access, ...sampled.logs].join('\n');
    for (const secret of [key.key, token, session, badKey, queryToken, token.split('.')[2]!, session.split('.')[1]!])
      assert.ok(!everything.includes(secret), `a credential appears in the logs: ${secret.slice(0, 12)}…`);
  });

  it('refusals mode logs only what the sidecar refused', async () => {
    assert.equal((await get(`${refusals.url}/ok`, { 'x-api-key': key.key })).status, 200);
    assert.equal((await get(`${refusals.url}/no`, {})).status, 401);
    assert.equal(refusals.access.length, 1);
    const line = JSON.parse(refusals.access[0]!) as Record<string, unknown>;
    assert.equal(line['status'], 401);
    assert.equal(line['trace_id'], null, 'no tracing here');
  });
});
