/**
 * Outcome: a page in a real headless Chromium, served from one origin, calls a
 * sidecar route with `cors:` on another origin with `fetch()` and an `x-api-key`
 * header (so the browser sends a preflight first): it gets the app's 200 and
 * can read it, and without the key it can read the 401, its error code and the
 * `x-request-id`. (On the old build the preflight got 405 and fetch() threw.)
 * Chromium: /usr/bin/chromium (Debian package, installed by .ci/run) driven by
 * playwright-core. Where it is not installed and CI is not set, the test sends
 * the browser's two requests (preflight, then the request) itself.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { generateApiKey } from '../src/authenticate/api-keys.js';
import { request } from './support/http.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);

interface PageResult {
  ok: boolean;
  status?: number;
  body?: unknown;
  requestId?: string | null;
  error?: string;
}

describe('a browser page on another origin calls a cors: route', () => {
  const dir = mkdtempSync(join(tmpdir(), 'argus-browser-'));
  const key = generateApiKey('test');
  let app: Server;
  let page: Server;
  let pageOrigin = '';
  let proxy: TestProxy;
  let browser: Browser | undefined;

  before(async () => {
    app = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hello: req.headers['x-argus-user-id'] })));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    page = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'));
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    writeFileSync(join(dir, 'keys.yaml'), `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: browser-user, tier: explorer }\n`);
    proxy = await startTestProxy({
      upstream: { url: `http://127.0.0.1:${(app.address() as AddressInfo).port}` },
      auth: { api_keys: { file: join(dir, 'keys.yaml') } },
      routes: [{ path: '/api/*', methods: ['GET'], auth: 'required', cors: { origins: [pageOrigin], headers: ['x-api-key'] } }],
    });
    if (haveChromium) {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    } else {
      assert.notEqual(process.env['CI'], 'true', `${CHROMIUM} is missing: CI must install it (.ci/run)`);
    }
  });
  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await new Promise((r) => app.close(r));
    await new Promise((r) => page.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** fetch() from the page (Chromium), or the browser's requests by hand. */
  async function pageFetch(url: string, headers: Record<string, string>): Promise<PageResult> {
    if (browser) {
      const tab = await browser.newPage();
      try {
        await tab.goto(pageOrigin + '/');
        return await tab.evaluate(
          async ({ url, headers }) => {
            try {
              const r = await fetch(url, { headers });
              return { ok: true, status: r.status, body: await r.json(), requestId: r.headers.get('x-request-id') };
            } catch (e) {
              return { ok: false, error: String(e) };
            }
          },
          { url, headers },
        );
      } finally {
        await tab.close();
      }
    }
    // What the browser does: a preflight for the non-safelisted header, then the request if allowed.
    const pre = await request(url, {
      method: 'OPTIONS',
      headers: { origin: pageOrigin, 'access-control-request-method': 'GET', 'access-control-request-headers': Object.keys(headers).join(',') },
    });
    if (pre.status < 200 || pre.status > 299 || pre.headers['access-control-allow-origin'] !== pageOrigin)
      return { ok: false, error: `preflight ${pre.status}` };
    const r = await request(url, { headers: { origin: pageOrigin, ...headers } });
    if (r.headers['access-control-allow-origin'] !== pageOrigin) return { ok: false, error: 'no Access-Control-Allow-Origin' };
    const exposed = String(r.headers['access-control-expose-headers'] ?? '').split(/,\s*/);
    return { ok: true, status: r.status, body: JSON.parse(r.body), requestId: exposed.includes('x-request-id') ? String(r.headers['x-request-id']) : null };
  }

  it('with the key: the preflight passes and the page reads the 200', async () => {
    const r = await pageFetch(`${proxy.url}/api/hello`, { 'x-api-key': key.key });
    assert.equal(r.ok, true, r.error);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { hello: 'browser-user' });
  });

  it('without the key: the page reads the 401, its code and the x-request-id', async () => {
    const r = await pageFetch(`${proxy.url}/api/hello`, { 'x-api-key': 'ak_test_wrongwrongwrongwrongwrongwrongwrong1' });
    assert.equal(r.ok, true, r.error);
    assert.equal(r.status, 401);
    assert.equal((r.body as { error: { code: string } }).error.code, 'ARGUS_INVALID_API_KEY');
    assert.match(String(r.requestId), /^[0-9a-f]{12}-[0-9a-z]+$/);
  });
});
