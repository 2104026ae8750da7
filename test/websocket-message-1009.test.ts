/**
 * `websocket.max_message_bytes` holds in both directions: a message over it, from
 * the upstream or from the client, is never relayed; both legs are closed with
 * 1009 (Message Too Big). A route may raise the limit above
 * `server.ws_max_payload_bytes`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';
import { connectWs, startWsUpstream, type WsUpstream } from './support/ws-upstream.js';

const LIMIT = 64 * 1024;

describe('WebSocket max_message_bytes: 1009 both ways', () => {
  let up: WsUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startWsUpstream();
    proxy = await startTestProxy({
      upstream: { url: up.url },
      routes: [
        { path: '/ws/*', auth: 'none', websocket: { max_message_bytes: LIMIT } },
        { path: '/large/*', auth: 'none', websocket: { max_message_bytes: 2 * 1024 * 1024 } },
      ],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
  });
  const url = (p: string) => `ws://127.0.0.1:${proxy.port}${p}`;

  it('an upstream message over the limit closes both legs with 1009 and never reaches the client', async () => {
    const c = await connectWs(url(`/ws/big?n=${100 * 1024}`));
    const closed = await c.closed;
    assert.equal(closed.code, 1009);
    assert.equal(c.messages.length, 0, 'the oversized message was not relayed');
    await waitFor(() => up.closes.some((x) => x.url.startsWith('/ws/big') && x.code === 1009), 5000, 'the upstream to be closed with 1009');
  });

  it('an upstream message of exactly the limit is relayed', async () => {
    const c = await connectWs(url(`/ws/big?n=${LIMIT}`));
    await waitFor(() => c.messages.length === 1, 5000, 'the message');
    assert.equal(c.messages[0]!.data.length, LIMIT);
    c.ws.close();
    await c.closed;
  });

  it('a client message over the route limit gets a 1009 close frame, the upstream 1009 and not the message', async () => {
    const c = await connectWs(url('/ws/client-big'));
    c.ws.send(Buffer.alloc(100 * 1024, 1));
    const closed = await c.closed;
    assert.equal(closed.code, 1009, 'the client got a close frame with 1009');
    await waitFor(() => up.closes.some((x) => x.url === '/ws/client-big' && x.code === 1009), 5000, 'the upstream to be closed with 1009');
    assert.equal(up.messages.filter((m) => m.url === '/ws/client-big').length, 0);
  });

  it('a client message of exactly the limit is relayed', async () => {
    const c = await connectWs(url('/ws/client-ok'));
    c.ws.send(Buffer.alloc(LIMIT, 2));
    await waitFor(() => c.messages.length === 1, 5000, 'the echo');
    assert.equal(c.messages[0]!.data.length, LIMIT);
    c.ws.close();
    await c.closed;
  });

  it('a route may allow messages larger than server.ws_max_payload_bytes', async () => {
    const c = await connectWs(url('/large/x'));
    c.ws.send(Buffer.alloc(1536 * 1024, 3));
    await waitFor(() => c.messages.length === 1, 10000, 'the echo');
    assert.equal(c.messages[0]!.data.length, 1536 * 1024);
    c.ws.close();
    await c.closed;
  });
});
