/**
 * Cross-site WebSocket hijacking: a browser upgrade from an Origin the route
 * does not allow gets 403 and the upstream sees nothing. Without
 * `websocket.allowed_origins` only same-origin browsers (Origin host = Host) and
 * clients without Origin pass; with it, exact origins, `*.` host wildcards and
 * `*` are honoured, case-insensitively, scheme and port included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../src/config.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { rawJson, rawRequest, waitFor } from './support/raw.js';
import { rawWs, startWsUpstream, upgradeRequest, type WsUpstream } from './support/ws-upstream.js';

describe('WebSocket Origin: 403 for origins a route does not allow', () => {
  let up: WsUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startWsUpstream();
    proxy = await startTestProxy({
      upstream: { url: up.url },
      routes: [
        { path: '/ws/default/*', auth: 'none', websocket: {} },
        { path: '/ws/listed/*', auth: 'none', websocket: { allowed_origins: ['https://app.example.com', 'https://*.partner.test'] } },
        { path: '/ws/any/*', auth: 'none', websocket: { allowed_origins: ['*'] } },
      ],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
  });

  const cases: Array<[path: string, origin: string | null, status: 101 | 403]> = [
    ['/ws/default/a', null, 101],
    ['/ws/default/b', 'http://sidecar.test', 101],
    ['/ws/default/c', 'https://SIDECAR.test', 101],
    ['/ws/default/d', 'https://evil.test', 403],
    ['/ws/default/e', 'null', 403],
    ['/ws/default/f', 'https://sidecar.test.evil.test', 403],
    ['/ws/default/g', 'https://sidecar.test:8443', 403],
    ['/ws/listed/a', 'https://app.example.com', 101],
    ['/ws/listed/b', 'HTTPS://App.Example.COM', 101],
    ['/ws/listed/c', 'https://eu.partner.test', 101],
    ['/ws/listed/d', 'https://a.b.partner.test', 101],
    ['/ws/listed/e', null, 101],
    ['/ws/listed/f', 'https://partner.test', 403],
    ['/ws/listed/g', 'https://app.example.com.evil.test', 403],
    ['/ws/listed/h', 'http://app.example.com', 403],
    ['/ws/listed/i', 'https://app.example.com:8443', 403],
    ['/ws/listed/j', 'https://evilpartner.test', 403],
    ['/ws/listed/k', 'https://sidecar.test', 403],
    ['/ws/any/a', 'https://evil.test', 101],
  ];

  for (const [path, origin, status] of cases) {
    it(`${path} with Origin ${origin ?? '(none)'} → ${status}`, async () => {
      const before = up.upgrades.length;
      const headers: Record<string, string> = origin === null ? {} : { origin };
      if (status === 403) {
        const res = await rawRequest(proxy.port, upgradeRequest(path, headers), 1000);
        assert.equal(res.status, 403, res.response);
        assert.equal((rawJson(res) as { error: { code: string } }).error.code, 'ARGUS_WS_ORIGIN_FORBIDDEN');
        assert.equal(up.upgrades.length, before, 'the upstream saw nothing');
        return;
      }
      const c = await rawWs(proxy.port, upgradeRequest(path, headers));
      assert.equal(c.status(), 101, c.head());
      await waitFor(() => up.upgrades.some((u) => u.url === path), 5000, 'the upgrade upstream');
      c.destroy();
    });
  }

  it('two Origin headers are refused', async () => {
    const req = upgradeRequest('/ws/any/two', { origin: 'https://a.test' }).replace('\r\n\r\n', '\r\norigin: https://b.test\r\n\r\n');
    const res = await rawRequest(proxy.port, req, 1000);
    assert.equal(res.status, 400);
  });

  it('a malformed allowed_origins entry is a config error naming the key', () => {
    assert.throws(
      () => parseConfig({ upstream: { url: up.url }, routes: [{ path: '/ws', websocket: { allowed_origins: ['app.example.com'] } }] }, {}),
      /routes\[0\]\.websocket\.allowed_origins\[0\]/,
    );
  });
});
