/**
 * WebSocket sessions through the proxy with real credentials: the kill switch
 * (pub/sub) closes 4403, the heartbeat catches a revocation whose message was lost
 * (4403) and an expired credential (4401), trading routes fail closed (503 on
 * upgrade, 1011 after the grace), 200 concurrent sessions relay, and backpressure
 * reaches the slow side (upstream paused; a client flooding a stuck upstream → 1013).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import WebSocket, { WebSocketServer } from 'ws';
import { generateApiKey } from '../src/authenticate/index.js';
import { redisKeys } from '../src/authenticate/store.js';
import { projectKey, publishRevocation } from '../src/identity-admin/publish.js';
import { AUDIENCE, ISSUER, SHARED_REDIS, claims, dropPrefix, startPrivateRedis, testPrefix } from './support/auth-harness.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';

interface Client {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  messages: string[];
}

function open(url: string, headers: Record<string, string>, protocols: string[] = []): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    const messages: string[] = [];
    ws.on('message', (m: Buffer) => messages.push(m.toString()));
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.once('open', () => resolve({ ws, closed, messages }));
    ws.once('unexpected-response', (_q, res) => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

describe('WebSocket sessions: kill switch, heartbeat, fail closed, backpressure', () => {
  const prefix = testPrefix('ws');
  let redis: Redis;
  let jwks: JwksServer;
  let wss: WebSocketServer;
  let proxy: TestProxy;
  const stuck = new Set<WebSocket>();
  const keys = Array.from({ length: 50 }, () => generateApiKey());

  before(async () => {
    redis = new Redis(SHARED_REDIS);
    jwks = await startJwksServer();
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (ws, req) => {
      if (req.url?.includes('stuck')) {
        // An upstream that stops reading: its socket is paused.
        stuck.add(ws);
        (ws as unknown as { _socket: { pause(): void } })._socket.pause();
        return;
      }
      if (req.url?.includes('flood')) {
        const chunk = Buffer.alloc(64 * 1024, 1);
        const pump = () => {
          while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 32 * 1024 * 1024) ws.send(chunk);
          if (ws.readyState === WebSocket.OPEN) setTimeout(pump, 5);
        };
        pump();
        return;
      }
      ws.on('message', (d, bin) => ws.send(d, { binary: bin }));
    });
    await new Promise((r) => wss.on('listening', r));
    await Promise.all(
      keys.map((k, i) =>
        projectKey(redis, prefix, k.sha256, {
          key_id: k.key_id,
          user_id: `ws_user_${i}`,
          tier: 'business',
          scopes: [],
          features: [],
          status: 'active',
          trading: { exchanges: ['binance'], order_types: ['limit'], paper_only: false },
        }),
      ),
    );
    proxy = await startTestProxy({
      upstream: { url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}` },
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      auth: { jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE }, cold: { client_failures_per_minute: 0 } },
      server: { ws_max_buffered_bytes: 256 * 1024 },
      routes: [{ path: '/ws/*', auth: 'required', websocket: { heartbeat_ms: 200 } }],
    });
  });
  after(async () => {
    await proxy.stop();
    for (const c of wss.clients) c.terminate();
    wss.close();
    await jwks.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  const url = (path: string) => `ws://127.0.0.1:${proxy.port}${path}`;

  it('kill switch: revoking each of 50 users closes their sessions with 4403', async () => {
    const clients = await Promise.all(keys.map((k) => open(url('/ws/feed'), { 'x-api-key': k.key })));
    const latencies: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const t0 = performance.now();
      await publishRevocation(redis, prefix, { kind: 'user', id: `ws_user_${i}`, at: Date.now() / 1000 + 1 });
      const closed = await clients[i]!.closed;
      latencies.push(performance.now() - t0);
      assert.equal(closed.code, 4403);
    }
    latencies.sort((a, b) => a - b);
    // Diagnostic only (timings belong to bench/): the p99 of command → close frame.
    console.log(`# kill switch latency ms: p50 ${latencies[24]!.toFixed(1)} p99 ${latencies[49]!.toFixed(1)}`);
  });

  it('heartbeat: a revocation whose pub/sub message was lost closes the session with 4403', async () => {
    const k = generateApiKey();
    await projectKey(redis, prefix, k.sha256, { key_id: k.key_id, user_id: 'ws_lost', tier: 'business', scopes: [], features: [], status: 'active' });
    const c = await open(url('/ws/lost'), { 'x-api-key': k.key });
    // Deny state written, no PUBLISH: only the heartbeat can notice.
    await redis.set(redisKeys(prefix).deny('key', k.key_id), String(Date.now() / 1000));
    const closed = await c.closed;
    assert.equal(closed.code, 4403);
  });

  it('heartbeat: an expired credential closes the session with 4401', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const token = jwks.sign(claims(nowS, { sub: 'ws_exp', exp: nowS + 2 }));
    // A browser's way: the token as a subprotocol entry, plus `argus` for the sidecar to answer with.
    const c = await open(url('/ws/exp'), {}, ['argus', `bearer.${token}`]);
    assert.equal(c.ws.protocol, 'argus', 'the credential subprotocol is never echoed');
    const seen = [...wss.clients].at(-1)!;
    assert.equal(seen.protocol, '', 'no credential subprotocol reaches the upstream');
    const closed = await c.closed;
    assert.equal(closed.code, 4401);
  });

  it('relays 200 concurrent sessions', async () => {
    const k = generateApiKey();
    await projectKey(redis, prefix, k.sha256, { key_id: k.key_id, user_id: 'ws_many', tier: 'business', scopes: [], features: [], status: 'active' });
    const clients = await Promise.all(Array.from({ length: 200 }, () => open(url('/ws/many'), { 'x-api-key': k.key })));
    clients.forEach((c, i) => {
      c.ws.send(`msg ${i}`);
    });
    try {
      await waitFor(() => clients.every((c) => c.messages.length === 1), 10000, 'all echoes');
    } catch (err) {
      // Say which sessions went without their echo, and how they ended, with the proxy's warnings.
      const missing = clients.flatMap((c, i) => (c.messages.length === 1 ? [] : [{ i, messages: c.messages.length, state: c.ws.readyState }]));
      const ended = await Promise.all(missing.map(({ i }) => Promise.race([clients[i]!.closed, new Promise((r) => setTimeout(() => r('open'), 50))])));
      const warnings = proxy.logs.filter((l) => /"level":"(warn|error)"/.test(l)).slice(-10);
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify({ missing: missing.slice(0, 10), count: missing.length, ended: ended.slice(0, 10), warnings })}`,
      );
    }
    clients.forEach((c, i) => {
      assert.equal(c.messages[0], `msg ${i}`);
    });
    await Promise.all(clients.map((c) => (c.ws.close(), c.closed)));
  });

  it('a client that stops reading pauses the upstream (backpressure reaches the source)', async () => {
    const k = generateApiKey();
    await projectKey(redis, prefix, k.sha256, { key_id: k.key_id, user_id: 'ws_slow', tier: 'business', scopes: [], features: [], status: 'active' });
    const c = await open(url('/ws/flood'), { 'x-api-key': k.key });
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const upstream = [...wss.clients].at(-1)!;
    // The upstream's own send buffer fills: the sidecar stopped reading from it.
    await waitFor(() => upstream.bufferedAmount > 8 * 1024 * 1024, 20000, 'upstream send buffer to fill');
    c.ws.terminate();
  });

  it('a client flooding an upstream that stopped reading is closed with 1013', async () => {
    const k = generateApiKey();
    await projectKey(redis, prefix, k.sha256, { key_id: k.key_id, user_id: 'ws_flood', tier: 'business', scopes: [], features: [], status: 'active' });
    const c = await open(url('/ws/stuck'), { 'x-api-key': k.key });
    const chunk = Buffer.alloc(32 * 1024, 2);
    for (let i = 0; i < 400 && c.ws.readyState === WebSocket.OPEN; i++) {
      c.ws.send(chunk);
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const closed = await c.closed;
    assert.equal(closed.code, 1013);
  });
});

describe('trading WebSocket routes fail closed', () => {
  it('refuse upgrades while Redis is down (503) and close live sessions after the grace (1011)', async () => {
    const priv = await startPrivateRedis();
    const prefix = testPrefix('ws-trading');
    const r = new Redis(priv.url);
    const k = generateApiKey();
    await projectKey(r, prefix, k.sha256, {
      key_id: k.key_id,
      user_id: 'trader',
      tier: 'business',
      scopes: [],
      features: [],
      status: 'active',
      trading: { exchanges: ['binance'], order_types: ['limit'], paper_only: false },
    });
    r.disconnect();
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((res) => wss.on('listening', res));
    const proxy = await startTestProxy({
      upstream: { url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}` },
      redis: { url: priv.url, key_prefix: prefix },
      routes: [{ path: '/trade', auth: 'required', trading: true, websocket: { heartbeat_ms: 100, unavailable_grace_ms: 300 } }],
    });
    try {
      const live = await open(`ws://127.0.0.1:${proxy.port}/trade`, { 'x-api-key': k.key });
      await priv.kill();
      const closed = await live.closed;
      assert.equal(closed.code, 1011);
      await assert.rejects(open(`ws://127.0.0.1:${proxy.port}/trade`, { 'x-api-key': k.key }), (err: Error & { status?: number }) => err.status === 503);
    } finally {
      await proxy.stop();
      wss.close();
    }
  });
});
