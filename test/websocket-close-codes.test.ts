/**
 * WebSocket close codes tell the truth, measured with raw sockets (a library
 * client would refuse to send these frames) against the real uWS sidecar and an
 * upstream that records the close it was given:
 * - subprotocols offered, none picked by the upstream → the session opens without one;
 * - invalid UTF-8 → upstream 1007; a message over uWS's ceiling → upstream 1009;
 * - reserved bits, unknown opcodes, fragmented pings, a stray continuation, or a
 *   dropped TCP connection (uWS v20.30 reports them alike, see
 *   src/forward/ws-close.ts) → upstream 1001 "…without a valid close frame", never 1000;
 * - a close frame without a code reaches the upstream as one (1005), not as 1000;
 * - a silent client, and one stuck in an unmasked frame, gets a 1001 "idle timeout"
 *   close frame and the upstream the same; a client answering pings stays.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';
import { connectWs, frame, rawWs, startWsUpstream, upgradeRequest, type RawWs, type WsUpstream } from './support/ws-upstream.js';

describe('WebSocket close codes', () => {
  let up: WsUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startWsUpstream();
    proxy = await startTestProxy({
      upstream: { url: up.url },
      server: { ws_max_payload_bytes: 1024, ws_idle_timeout_s: 4 },
      routes: [{ path: '/ws/*', auth: 'none', websocket: {} }],
    });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
  });

  /** Open a raw session on `path` and wait until the upstream has it. */
  async function open(path: string, headers: Record<string, string> = {}): Promise<RawWs> {
    const c = await rawWs(proxy.port, upgradeRequest(path, headers));
    assert.equal(c.status(), 101, c.head());
    await waitFor(() => up.upgrades.some((u) => u.url === path), 5000, 'the upstream session');
    return c;
  }
  const upstreamClose = async (path: string) => {
    await waitFor(() => up.closes.some((x) => x.url === path), 15000, `the upstream close of ${path}`);
    return up.closes.find((x) => x.url === path)!;
  };

  it('subprotocols offered and none picked upstream: the session opens without one', async () => {
    const c = await open('/ws/none-picked', { 'sec-websocket-protocol': 'a, b' });
    assert.doesNotMatch(c.head(), /sec-websocket-protocol/i);
    assert.equal(up.upgrades.find((u) => u.url === '/ws/none-picked')!.headers['sec-websocket-protocol'], 'a, b');
    c.write(frame(1, 'still works'));
    await waitFor(() => c.frames().some((f) => f.opcode === 1 && f.payload.toString() === 'still works'), 5000, 'the echo');
    c.destroy();
  });

  it('subprotocols offered and one picked upstream: the client gets that one', async () => {
    const c = await open('/ws/picked', { 'sec-websocket-protocol': 'a, b' });
    assert.match(c.head(), /\r\nsec-websocket-protocol: a\r\n/i);
    c.destroy();
  });

  const violations: Array<[name: string, bytes: () => Buffer, code: number, reason: RegExp]> = [
    ['invalid UTF-8 in a text message', () => frame(1, Buffer.from([0x68, 0xff, 0xfe])), 1007, /invalid UTF-8/],
    ["a message over uWS's ceiling", () => frame(2, Buffer.alloc(2000, 1)), 1009, /too big/],
    ['reserved bit RSV1 (no extension negotiated)', () => frame(1, 'hi', { rsv: 4 }), 1001, /without a valid close frame/],
    ['reserved bits RSV2+RSV3', () => frame(1, 'hi', { rsv: 3 }), 1001, /without a valid close frame/],
    ['unknown data opcode 3', () => frame(3, 'hi'), 1001, /without a valid close frame/],
    ['unknown control opcode 11', () => frame(11, 'hi'), 1001, /without a valid close frame/],
    ['a fragmented ping', () => frame(9, 'hi', { fin: false }), 1001, /without a valid close frame/],
    ['an oversized ping (126 bytes)', () => frame(9, Buffer.alloc(126, 1)), 1001, /without a valid close frame/],
    ['a close frame with the reserved code 1004', () => frame(8, Buffer.from([0x03, 0xec])), 1001, /without a valid close frame/],
    ['a close frame whose reason is not UTF-8', () => frame(8, Buffer.from([0x03, 0xe8, 0xff])), 1001, /without a valid close frame/],
    ['a continuation without a start', () => frame(0, 'hi'), 1001, /without a valid close frame/],
    ['a new message inside a fragmented one', () => Buffer.concat([frame(1, 'a', { fin: false }), frame(1, 'b')]), 1001, /without a valid close frame/],
  ];
  for (const [name, bytes, code, reason] of violations) {
    it(`${name} → upstream ${code}, connection closed`, async () => {
      const path = `/ws/v-${name.replace(/\W+/g, '-')}`;
      const c = await open(path);
      c.write(bytes());
      await waitFor(() => c.closed(), 5000, 'the connection to close');
      const closed = await upstreamClose(path);
      assert.equal(closed.code, code);
      assert.match(closed.reason, reason);
      assert.equal(up.messages.filter((m) => m.url === path).length, 0, 'nothing of it was relayed');
    });
  }

  it('a client that drops the connection: upstream 1001, not 1000', async () => {
    const c = await open('/ws/dropped');
    c.destroy();
    const closed = await upstreamClose('/ws/dropped');
    assert.equal(closed.code, 1001);
  });

  it('a close frame without a code reaches the upstream without one (1005)', async () => {
    const c = await open('/ws/close-no-code');
    c.write(frame(8, Buffer.alloc(0)));
    const closed = await upstreamClose('/ws/close-no-code');
    assert.equal(closed.code, 1005);
  });

  it('a close code from the client is passed on as it is', async () => {
    const c = await open('/ws/close-1008');
    const payload = Buffer.concat([Buffer.from([0x03, 0xf0]), Buffer.from('policy')]);
    c.write(frame(8, payload));
    const closed = await upstreamClose('/ws/close-1008');
    assert.deepEqual([closed.code, closed.reason], [1008, 'policy']);
  });

  it('a silent client gets a 1001 "idle timeout" close frame, the upstream the same', async () => {
    const c = await open('/ws/silent');
    await waitFor(() => c.frames().some((f) => f.opcode === 9), 15000, 'a ping');
    await waitFor(() => c.frames().some((f) => f.opcode === 8), 15000, 'a close frame');
    const close = c.frames().find((f) => f.opcode === 8)!;
    assert.deepEqual([close.code, close.payload.toString()], [1001, 'idle timeout']);
    const closed = await upstreamClose('/ws/silent');
    assert.deepEqual([closed.code, closed.reason], [1001, 'idle timeout']);
  });

  it('an unmasked client frame does not leave the connection hanging: 1001 close frame, upstream 1001', async () => {
    const c = await open('/ws/unmasked');
    c.write(frame(1, 'hello', { mask: false }));
    await waitFor(() => c.closed(), 15000, 'the connection to close');
    assert.equal(c.frames().find((f) => f.opcode === 8)?.code, 1001);
    assert.equal((await upstreamClose('/ws/unmasked')).code, 1001);
    assert.equal(up.messages.filter((m) => m.url === '/ws/unmasked').length, 0);
  });

  it('a client that answers pings outlives the idle timeout', async () => {
    const c = await connectWs(`ws://127.0.0.1:${proxy.port}/ws/alive`);
    let pings = 0;
    c.ws.on('ping', () => pings++);
    // Every ping follows half a timeout of silence: three of them span 1.5 timeouts.
    await waitFor(() => pings >= 3, 30000, 'three pings');
    assert.equal(c.ws.readyState, c.ws.OPEN);
    c.ws.close(1000, 'bye');
    const closed = await upstreamClose('/ws/alive');
    assert.deepEqual([closed.code, closed.reason], [1000, 'bye']);
  });
});
