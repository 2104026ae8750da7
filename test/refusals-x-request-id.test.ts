/**
 * Outcome: every response of the sidecar's listener carries `x-request-id`,
 * successful or refused: 200 (forwarded), 400 (hygiene),
 * 401, 403, 404, 405, 429, 502 and 503. It is the client's when well-formed,
 * else generated, and always the id the upstream was sent; an upstream's own
 * `x-request-id` never reaches the client as a second, different id. (The 204
 * of a CORS preflight: test/cors-preflight-204.test.ts.)
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../src/authenticate/api-keys.js';
import { errorCode, request } from './support/http.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { rawRequest } from './support/raw.js';
import { makeSigningKey, signCompact } from './support/jwks-server.js';

const ID = /^[0-9a-f]{12}-[0-9a-z]+$/;

describe('x-request-id on every response', () => {
  let upstream: Server;
  let upstreamPort = 0;
  const seenIds: string[] = [];
  let proxy: TestProxy;
  let closedPort = 0;
  const dir = mkdtempSync(join(tmpdir(), 'argus-reqid-'));
  const key = generateApiKey('test');

  before(async () => {
    upstream = createServer((req, res) => {
      seenIds.push(String(req.headers['x-request-id']));
      // An app that answers with an id of its own making.
      res.writeHead(200, { 'content-type': 'text/plain', 'x-request-id': 'made-by-the-app' }).end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as AddressInfo).port;
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const keys = join(dir, 'keys.yaml');
    writeFileSync(keys, `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: u1, tier: explorer }\n`);
    proxy = await startTestProxy({
      upstream: { url: `http://127.0.0.1:${upstreamPort}` },
      auth: {
        api_keys: { file: keys },
        // Never reachable: a JWT on /jwt is 503 (the key set cannot be fetched).
        jwt: { jwks_url: `http://127.0.0.1:${closedPort}/jwks.json`, issuer: 'https://issuer.test', audience: 'a', fetch_timeout_ms: 200 },
      },
      tiers: { explorer: { requests_per_minute: 1, burst: 0 } },
      routes: [
        { path: '/open', auth: 'none' },
        { path: '/gone', auth: 'none', meter: false },
        { path: '/limited', auth: 'required' },
        { path: '/enterprise', auth: 'required', tier: 'enterprise' },
        { path: '/only-get', auth: 'none', methods: ['GET'] },
        { path: '/jwt', auth: 'required' },
      ],
    });
  });
  after(async () => {
    await proxy?.stop();
    await new Promise((r) => upstream.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const hasId = (headers: Record<string, unknown>, expected?: string) => {
    const v = headers['x-request-id'];
    assert.equal(typeof v, 'string', `x-request-id missing: ${JSON.stringify(headers)}`);
    if (expected) assert.equal(v, expected);
    else assert.match(v as string, ID);
    return v as string;
  };

  it("200: the client id, the same one the upstream saw; the app's own id is not passed on", async () => {
    const r = await request(`${proxy.url}/open`, { headers: { 'x-request-id': 'client-id-1' } });
    assert.equal(r.status, 200);
    hasId(r.headers, 'client-id-1');
    assert.equal(seenIds.at(-1), 'client-id-1');
  });

  it('200 with a malformed client id: generated, and the upstream saw the same', async () => {
    const r = await request(`${proxy.url}/open`, { headers: { 'x-request-id': 'bad id' } });
    assert.equal(r.status, 200);
    assert.equal(hasId(r.headers), seenIds.at(-1));
  });

  const refusal = async (status: number, code: string, path: string, init: { method?: string; headers?: Record<string, string> } = {}) => {
    const r = await request(`${proxy.url}${path}`, { ...init, headers: { ...init.headers, 'x-request-id': `id-${status}` } });
    assert.equal(r.status, status, r.body);
    assert.equal(errorCode(r), code);
    hasId(r.headers, `id-${status}`);
    assert.equal((JSON.parse(r.body) as { error: { request_id: string } }).error.request_id, `id-${status}`);
  };

  it('401', () => refusal(401, 'ARGUS_UNAUTHENTICATED', '/limited'));
  it('403', () => refusal(403, 'ARGUS_TIER_REQUIRED', '/enterprise', { headers: { 'x-api-key': key.key } }));
  it('404', () => refusal(404, 'ARGUS_NOT_FOUND', '/nowhere'));
  it('405', () => refusal(405, 'ARGUS_METHOD_NOT_ALLOWED', '/only-get', { method: 'DELETE' }));
  it('429', async () => {
    let status = 0;
    for (let i = 0; i < 5 && status !== 429; i++) {
      const r = await request(`${proxy.url}/limited`, { headers: { 'x-api-key': key.key, 'x-request-id': `id-429` } });
      status = r.status;
      hasId(r.headers, 'id-429');
      if (status === 429) assert.equal(errorCode(r), 'ARGUS_RATE_LIMITED');
    }
    assert.equal(status, 429);
  });
  it('502', async () => {
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    await refusal(502, 'ARGUS_UPSTREAM_UNAVAILABLE', '/gone');
    upstream.listen(upstreamPort, '127.0.0.1');
  });
  it('503', async () => {
    const token = signCompact(
      { alg: 'RS256', kid: 'k1', typ: 'JWT' },
      { sub: 'u', iss: 'https://issuer.test', aud: 'a', exp: Math.floor(Date.now() / 1000) + 600 },
      makeSigningKey('RS256', 'k1'),
    );
    await refusal(503, 'ARGUS_AUTH_UNAVAILABLE', '/jwt', { headers: { authorization: `Bearer ${token}` } });
  });
  it('400: a hygiene refusal (raw bytes), generated id', async () => {
    const r = await rawRequest(proxy.port, 'POST /open HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc');
    assert.equal(r.status, 400);
    assert.match(r.response, /\r\nx-request-id: [0-9a-f]{12}-[0-9a-z]+\r\n/i);
  });
});
