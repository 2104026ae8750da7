/** WebSocket passthrough: subprotocol end to end, text and binary, pings, close codes both ways, 502 on refusal. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';

interface Upstream {
  wss: WebSocketServer;
  requests: IncomingMessage[];
  closes: Array<{ code: number; reason: string }>;
  pings: number;
}

async function startWsUpstream(): Promise<Upstream> {
  const u: Upstream = {
    wss: new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      handleProtocols: (p) => (p.has('v2') ? 'v2' : false),
      verifyClient: (info: { req: IncomingMessage }) => !info.req.url?.includes('refuse'),
    }),
    requests: [],
    closes: [],
    pings: 0,
  };
  u.wss.on('connection', (ws, req) => {
    u.requests.push(req);
    ws.send(JSON.stringify({ hello: req.url }));
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      if (text === 'close-me') return ws.close(4001, 'upstream says bye');
      ws.send(data, { binary: isBinary });
    });
    ws.on('ping', () => u.pings++);
    ws.on('close', (code, reason) => u.closes.push({ code, reason: reason.toString() }));
  });
  await new Promise((r) => u.wss.on('listening', r));
  return u;
}

function connect(
  url: string,
  protocols: string[] = [],
): Promise<{ ws: WebSocket; messages: Array<{ data: Buffer; binary: boolean }>; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const messages: Array<{ data: Buffer; binary: boolean }> = [];
    ws.on('message', (data: Buffer, binary) => messages.push({ data, binary }));
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.once('open', () => resolve({ ws, messages, closed }));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

describe('WebSocket passthrough', () => {
  let up: Upstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startWsUpstream();
    const port = (up.wss.address() as AddressInfo).port;
    proxy = await startTestProxy({
      upstream: { url: `http://127.0.0.1:${port}` },
      routes: [
        { path: '/ws/*', auth: 'none', websocket: {} },
        { path: '/*', auth: 'none' },
      ],
    });
  });
  after(async () => {
    await proxy.stop();
    up.wss.close();
  });

  it('negotiates the subprotocol end to end and relays text and binary frames', async () => {
    const c = await connect(`ws://127.0.0.1:${proxy.port}/ws/feed?symbols=BTC`, ['v1', 'v2']);
    assert.equal(c.ws.protocol, 'v2');
    await waitFor(() => c.messages.length === 1, 5000, 'hello');
    assert.deepEqual(JSON.parse(c.messages[0]!.data.toString()), { hello: '/ws/feed?symbols=BTC' });
    c.ws.send('text frame');
    c.ws.send(Buffer.from([0, 1, 2, 255]));
    await waitFor(() => c.messages.length === 3, 5000, 'echoes');
    assert.equal(c.messages[1]!.binary, false);
    assert.equal(c.messages[1]!.data.toString(), 'text frame');
    assert.equal(c.messages[2]!.binary, true);
    assert.deepEqual([...c.messages[2]!.data], [0, 1, 2, 255]);
    const req = up.requests.at(-1)!;
    assert.equal(req.headers['x-argus-auth'], 'none');
    assert.ok(req.headers['x-request-id']);
    c.ws.close(4000, 'client bye');
    const closed = await c.closed;
    assert.equal(closed.code, 4000);
    await waitFor(() => up.closes.some((x) => x.code === 4000 && x.reason === 'client bye'), 5000, 'upstream to see the close code');
  });

  it('relays a fragmented message whole, and passes pings on', async () => {
    const c = await connect(`ws://127.0.0.1:${proxy.port}/ws/frag`);
    await waitFor(() => c.messages.length === 1, 5000, 'hello');
    c.ws.send('part one, ', { fin: false });
    c.ws.send('part two', { fin: true });
    const pingsBefore = up.pings;
    c.ws.ping('are you there');
    await waitFor(() => c.messages.length === 2, 5000, 'echo');
    assert.equal(c.messages[1]!.data.toString(), 'part one, part two');
    await waitFor(() => up.pings > pingsBefore, 5000, 'ping to reach the upstream');
    c.ws.close();
    await c.closed;
  });

  it('passes the upstream close code and reason to the client', async () => {
    const c = await connect(`ws://127.0.0.1:${proxy.port}/ws/close`);
    c.ws.send('close-me');
    const closed = await c.closed;
    assert.equal(closed.code, 4001);
    assert.equal(closed.reason, 'upstream says bye');
  });

  it('answers 502 when the upstream refuses the upgrade', async () => {
    await assert.rejects(connect(`ws://127.0.0.1:${proxy.port}/ws/refuse`), (err: Error & { status?: number }) => err.status === 502);
  });

  it('answers 404 to an upgrade on a route without websocket', async () => {
    await assert.rejects(connect(`ws://127.0.0.1:${proxy.port}/plain`), (err: Error & { status?: number }) => err.status === 404);
  });

  it('closes sessions with 1001 when the sidecar drains', async () => {
    const port = (up.wss.address() as AddressInfo).port;
    const p = await startTestProxy({ upstream: { url: `http://127.0.0.1:${port}` }, routes: [{ path: '/ws/*', auth: 'none', websocket: {} }] });
    const c = await connect(`ws://127.0.0.1:${p.port}/ws/drain`);
    await p.stop();
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
  });
});
