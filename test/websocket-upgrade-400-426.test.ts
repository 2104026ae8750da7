/**
 * RFC 6455 §4.2.1 handshakes are checked before anything reaches the upstream:
 * a POST, a missing or wrong-sized key, a missing `Connection: upgrade` or
 * `Upgrade: websocket` get 400; another version gets 426 with
 * `Sec-WebSocket-Version: 13`; a plain request to a WebSocket route gets 426
 * Upgrade Required. The recording upstream sees none of them, and a valid
 * handshake (any header case) still opens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { rawJson, rawRequest, waitFor } from './support/raw.js';
import { frame, rawWs, startWsUpstream, upgradeRequest, type WsUpstream } from './support/ws-upstream.js';

describe('WebSocket handshakes: 400 / 426 before the upstream', () => {
  let up: WsUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startWsUpstream();
    proxy = await startTestProxy({
      upstream: { url: up.url },
      routes: [
        { path: '/ws/*', auth: 'none', websocket: {} },
        { path: '/*', auth: 'none' },
      ],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
  });

  const refusals: Array<{ name: string; request: () => string; status: number; code: string }> = [
    { name: 'POST with every upgrade header', request: () => upgradeRequest('/ws/post', {}, 'POST'), status: 400, code: 'ARGUS_WS_BAD_HANDSHAKE' },
    {
      name: 'POST with a body',
      request: () => upgradeRequest('/ws/post-body', { 'content-length': '5' }, 'POST').slice(0, -2) + '\r\nhello',
      status: 400,
      code: 'ARGUS_WS_BAD_HANDSHAKE',
    },
    { name: 'no Sec-WebSocket-Key', request: () => upgradeRequest('/ws/nokey', { 'sec-websocket-key': null }), status: 400, code: 'ARGUS_WS_INVALID_KEY' },
    {
      name: 'an 8-byte key',
      request: () => upgradeRequest('/ws/key8', { 'sec-websocket-key': Buffer.alloc(8, 1).toString('base64') }),
      status: 400,
      code: 'ARGUS_WS_INVALID_KEY',
    },
    {
      name: 'a 24-character key that is 18 bytes',
      request: () => upgradeRequest('/ws/key18', { 'sec-websocket-key': 'AAAAAAAAAAAAAAAAAAAAAAAB' }),
      status: 400,
      code: 'ARGUS_WS_INVALID_KEY',
    },
    {
      name: 'a 24-character key that is not base64',
      request: () => upgradeRequest('/ws/keybad', { 'sec-websocket-key': '!!!!!!!!!!!!!!!!!!!!!!==' }),
      status: 400,
      code: 'ARGUS_WS_INVALID_KEY',
    },
    { name: 'no Connection header', request: () => upgradeRequest('/ws/noconn', { connection: null }), status: 400, code: 'ARGUS_WS_BAD_HANDSHAKE' },
    { name: 'Connection: keep-alive', request: () => upgradeRequest('/ws/ka', { connection: 'keep-alive' }), status: 400, code: 'ARGUS_WS_BAD_HANDSHAKE' },
    { name: 'no Upgrade header', request: () => upgradeRequest('/ws/noupgrade', { upgrade: null }), status: 400, code: 'ARGUS_WS_BAD_HANDSHAKE' },
    { name: 'Upgrade: h2c', request: () => upgradeRequest('/ws/h2c', { upgrade: 'h2c' }), status: 400, code: 'ARGUS_WS_BAD_HANDSHAKE' },
    {
      name: 'a subprotocol that is not a token',
      request: () => upgradeRequest('/ws/proto', { 'sec-websocket-protocol': 'a b' }),
      status: 400,
      code: 'ARGUS_WS_BAD_HANDSHAKE',
    },
    {
      name: 'Sec-WebSocket-Version: 8',
      request: () => upgradeRequest('/ws/v8', { 'sec-websocket-version': '8' }),
      status: 426,
      code: 'ARGUS_WS_UNSUPPORTED_VERSION',
    },
    {
      name: 'no Sec-WebSocket-Version',
      request: () => upgradeRequest('/ws/nov', { 'sec-websocket-version': null }),
      status: 426,
      code: 'ARGUS_WS_UNSUPPORTED_VERSION',
    },
    {
      name: 'a plain GET to a WebSocket route',
      request: () => 'GET /ws/plain HTTP/1.1\r\nHost: sidecar.test\r\n\r\n',
      status: 426,
      code: 'ARGUS_WS_UPGRADE_REQUIRED',
    },
  ];

  for (const r of refusals) {
    it(`${r.name} → ${r.status} ${r.code}, the upstream sees nothing`, async () => {
      const before = up.seen();
      const res = await rawRequest(proxy.port, r.request(), 1000);
      assert.equal(res.status, r.status, res.response);
      assert.equal((rawJson(res) as { error: { code: string } }).error.code, r.code);
      if (r.status === 426 && r.code === 'ARGUS_WS_UNSUPPORTED_VERSION') assert.match(res.response, /\r\nsec-websocket-version: 13\r\n/i);
      if (r.code === 'ARGUS_WS_UPGRADE_REQUIRED') assert.match(res.response, /\r\nupgrade: websocket\r\n/i);
      assert.equal(up.seen(), before, 'nothing reached the upstream');
    });
  }

  it('a valid handshake in any header case opens, and only it reaches the upstream', async () => {
    const before = up.seen();
    const c = await rawWs(proxy.port, upgradeRequest('/ws/ok', { upgrade: 'WebSocket', connection: 'keep-alive, Upgrade' }));
    assert.equal(c.status(), 101, c.head());
    c.write(frame(1, 'hi'));
    await waitFor(() => c.frames().some((f) => f.opcode === 1 && f.payload.toString() === 'hi'), 5000, 'the echo');
    assert.equal(up.seen(), before + 1);
    assert.equal(up.upgrades.at(-1)!.url, '/ws/ok');
    assert.equal(up.plain.length, 0, 'no refused handshake was ever forwarded as plain HTTP');
    c.destroy();
  });

  it('a plain GET to a route without websocket is still forwarded', async () => {
    const res = await rawRequest(proxy.port, 'GET /plain HTTP/1.1\r\nHost: sidecar.test\r\n\r\n', 1000);
    assert.equal(res.status, 200);
    await waitFor(() => up.plain.some((p) => p.url === '/plain'), 5000, 'the plain request upstream');
  });
});
