/**
 * Outcome: a browser on another origin can call a route with `cors:`: the
 * preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered
 * 204 by the sidecar without credentials (it was 405 or 401), and actual
 * responses, refusals included, carry Access-Control-Allow-Origin, Vary: Origin,
 * credentials and exposed headers per the Fetch standard. Raw HTTP requests
 * against the real uWS server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../src/authenticate/api-keys.js';
import { parseConfig } from '../src/config.js';
import { UsageError } from '../src/errors.js';
import { errorCode, request, type HttpReply } from './support/http.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';

const APP = 'https://app.example.test';

describe('CORS on routes with cors:', () => {
  let upstream: Server;
  let proxy: TestProxy;
  const dir = mkdtempSync(join(tmpdir(), 'argus-cors-'));
  const key = generateApiKey('test');
  let upstreamCalls = 0;

  before(async () => {
    upstream = createServer((_req, res) => {
      upstreamCalls++;
      // An app with its own (wrong) CORS answer: the sidecar's replaces it on cors routes.
      res.writeHead(200, { 'content-type': 'text/plain', 'access-control-allow-origin': 'https://evil.test', 'x-trace': 't1' }).end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    writeFileSync(join(dir, 'keys.yaml'), `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: u1, tier: explorer }\n`);
    proxy = await startTestProxy({
      upstream: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` },
      auth: { api_keys: { file: join(dir, 'keys.yaml') } },
      tiers: { explorer: { requests_per_minute: 1, burst: 0 } },
      routes: [
        {
          path: '/api/*',
          methods: ['GET', 'POST'],
          auth: 'required',
          cors: {
            origins: [APP, 'http://localhost:5173'],
            headers: ['authorization', 'content-type', 'x-api-key'],
            expose_headers: ['x-trace'],
            max_age_s: 300,
          },
        },
        { path: '/cred/*', auth: 'required', cors: { origins: ['*'], credentials: true, headers: ['*'] } },
        { path: '/public/*', auth: 'none', cors: { origins: ['*'] } },
        { path: '/plain/*', methods: ['GET'], auth: 'none' },
      ],
    });
  });
  after(async () => {
    await proxy?.stop();
    await new Promise((r) => upstream.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const preflight = (path: string, origin: string, method: string, headers?: string): Promise<HttpReply> =>
    request(`${proxy.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) },
    });

  it('a preflight is answered 204 by the sidecar, unauthenticated, and never reaches the app', async () => {
    const calls = upstreamCalls;
    const r = await preflight('/api/items', APP, 'POST', 'Content-Type, X-API-Key');
    assert.equal(r.status, 204, r.body);
    assert.equal(r.body, '');
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.equal(r.headers['access-control-allow-methods'], 'GET, POST');
    assert.equal(r.headers['access-control-allow-headers'], 'content-type, x-api-key');
    assert.equal(r.headers['access-control-max-age'], '300');
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
    assert.match(String(r.headers['vary']), /Origin/);
    assert.equal(upstreamCalls, calls);
    assert.match(String(r.headers['x-request-id']), /^[0-9a-f]{12}-[0-9a-z]+$/);
  });

  it('a preflight from an origin not listed, for a method or header not allowed: 403 ARGUS_CORS_NOT_ALLOWED without Allow-Origin', async () => {
    for (const [origin, method, headers, what] of [
      ['https://evil.test', 'GET', undefined, /origin/],
      [APP, 'DELETE', undefined, /method "DELETE"/],
      [APP, 'GET', 'x-secret', /header "x-secret"/],
    ] as const) {
      const r = await preflight('/api/items', origin, method, headers);
      assert.equal(r.status, 403, r.body);
      assert.equal(errorCode(r), 'ARGUS_CORS_NOT_ALLOWED');
      assert.match(JSON.parse(r.body).error.message, what);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
  });

  it("an actual response gets Allow-Origin, Vary: Origin and exposed headers; the app's own CORS header is dropped", async () => {
    const r = await request(`${proxy.url}/api/items`, { headers: { origin: APP, 'x-api-key': key.key } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.match(String(r.headers['vary']), /Origin/);
    const exposed = String(r.headers['access-control-expose-headers']).split(', ');
    for (const h of ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy', 'www-authenticate', 'x-trace']) assert.ok(exposed.includes(h), h);
  });

  it('refusals carry the CORS headers too, so the page can read a 401 and a 429', async () => {
    const r401 = await request(`${proxy.url}/api/items`, { headers: { origin: APP } });
    assert.equal(r401.status, 401);
    assert.equal(r401.headers['access-control-allow-origin'], APP);
    assert.ok(r401.headers['www-authenticate']);
    let r429: HttpReply | undefined;
    for (let i = 0; i < 4 && r429?.status !== 429; i++) r429 = await request(`${proxy.url}/api/items`, { headers: { origin: APP, 'x-api-key': key.key } });
    assert.equal(r429!.status, 429);
    assert.equal(r429!.headers['access-control-allow-origin'], APP);
    assert.match(String(r429!.headers['access-control-expose-headers']), /retry-after/);
  });

  it('an origin not listed gets no Allow-Origin on the actual response, but Vary: Origin', async () => {
    const r = await request(`${proxy.url}/api/items`, { headers: { origin: 'https://evil.test', 'x-api-key': key.key } });
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.match(String(r.headers['vary']), /Origin/);
  });

  it('"*" with credentials echoes the origin (and the requested headers), never "*"', async () => {
    const pre = await preflight('/cred/x', 'https://any.test', 'GET', 'authorization');
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://any.test');
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
    assert.equal(pre.headers['access-control-allow-headers'], 'authorization');
    const r = await request(`${proxy.url}/cred/x`, { headers: { origin: 'https://any.test' } });
    assert.equal(r.status, 401);
    assert.equal(r.headers['access-control-allow-origin'], 'https://any.test');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.match(String(r.headers['vary']), /Origin/);
  });

  it('"*" without credentials answers "*" and needs no Vary', async () => {
    const r = await request(`${proxy.url}/public/x`, { headers: { origin: 'https://any.test' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['vary'], undefined);
  });

  it('routes without cors: are unchanged (OPTIONS is still 405 there)', async () => {
    const r = await preflight('/plain/x', APP, 'GET');
    assert.equal(r.status, 405);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  });

  it('config: "*" in expose_headers with credentials is refused, naming the key', () => {
    assert.throws(
      () =>
        parseConfig(
          { upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/x', cors: { origins: ['*'], credentials: true, expose_headers: ['*'] } }] },
          {},
        ),
      (e: unknown) => e instanceof UsageError && /routes\[0\]\.cors\.expose_headers/.test(e.message),
    );
    assert.throws(
      () => parseConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/x', cors: { origins: ['https://app.test/'] } }] }, {}),
      (e: unknown) => e instanceof UsageError && /routes\[0\]\.cors\.origins\[0\]/.test(e.message),
    );
  });
});
