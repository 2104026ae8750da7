/**
 * Open WebSocket sessions follow their owner's record: at the next heartbeat the
 * session re-reads it. Trading entitlements that narrow (an exchange removed)
 * close the session with 4409 so the client reconnects under the new limits;
 * narrowed LLM models and features apply in place: the session stays open and
 * the next message that needs them gets an error frame. Real Redis (random
 * prefix), a real in-process proxy, a real `ws` upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { generateApiKey } from '../src/authenticate/index.js';
import type { UserRecord } from '../src/authenticate/records.js';
import { redisKeys } from '../src/authenticate/store.js';
import { projectKey } from '../src/identity-admin/publish.js';
import { SHARED_REDIS, dropPrefix, testPrefix } from './support/auth-harness.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { startWsUpstream, type WsUpstream } from './support/ws-upstream.js';

const HEARTBEAT_MS = 200;

interface Client {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  messages: string[];
}

function open(url: string, key: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { 'x-api-key': key } });
    const messages: string[] = [];
    ws.on('message', (m: Buffer) => messages.push(m.toString()));
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.once('open', () => resolve({ ws, closed, messages }));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Send `msg` every 50 ms until a reply satisfies `want`; returns that reply. */
async function sendUntil(c: Client, msg: string, want: (reply: string) => boolean, what: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const from = c.messages.length;
    c.ws.send(msg);
    const stop = Date.now() + 50;
    while (Date.now() < stop && c.messages.length === from) await new Promise((r) => setTimeout(r, 5));
    const hit = c.messages.slice(from).find(want);
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

const errorCode = (reply: string): string | undefined => {
  try {
    return (JSON.parse(reply) as { type?: string; error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
};

describe('WebSocket sessions follow changes to their owner record', () => {
  const prefix = testPrefix('ws-changes');
  const k = redisKeys(prefix);
  let redis: Redis;
  let up: WsUpstream;
  let proxy: TestProxy;
  const janeKey = generateApiKey();
  const prismKey = generateApiKey();
  const trading = { exchanges: ['binance', 'kraken'], order_types: ['limit'], paper_only: false };
  const llm = { models: ['gpt-4o', 'gpt-4o-mini'], model_tiers: [] };

  const setUser = (id: string, rec: UserRecord) => redis.set(k.user(id), JSON.stringify(rec));
  const changed = (id: string, version: number) => redis.publish(k.changes, JSON.stringify({ kind: 'user', id, version }));

  before(async () => {
    redis = new Redis(SHARED_REDIS);
    up = await startWsUpstream();
    // The keys themselves grant nothing: their entitlements come from their owners' records.
    for (const [key, user] of [
      [janeKey, 'u_jane'],
      [prismKey, 'u_prism'],
    ] as const) {
      await projectKey(redis, prefix, key.sha256, { key_id: key.key_id, user_id: user, tier: 'explorer', scopes: [], features: [], status: 'active' });
    }
    await setUser('u_jane', { tier: 'business', trading });
    await setUser('u_prism', { tier: 'business', features: ['realtime'], llm });
    proxy = await startTestProxy({
      upstream: { url: up.url },
      redis: { url: SHARED_REDIS, key_prefix: prefix },
      auth: { cold: { client_failures_per_minute: 0 } },
      routes: [
        { path: '/jane/*', auth: 'required', trading: true, websocket: { heartbeat_ms: HEARTBEAT_MS } },
        { path: '/realtime/*', auth: 'required', features: ['realtime'], llm: { provider: 'openai' }, websocket: { heartbeat_ms: HEARTBEAT_MS } },
      ],
    });
  });

  after(async () => {
    await proxy?.stop();
    await up?.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  const url = (path: string) => `ws://127.0.0.1:${proxy.port}${path}`;

  it('an owner who loses a trading exchange: the session is closed 4409 within heartbeat_ms + 1 s', async () => {
    const c = await open(url('/jane/stream'), janeKey.key);
    c.ws.send('{"type":"ping"}');
    await sendUntil(c, '{"type":"hello"}', (m) => m === '{"type":"hello"}', 'an echo', 2000);
    await setUser('u_jane', { tier: 'business', trading: { ...trading, exchanges: ['binance'] } });
    await changed('u_jane', 2);
    const closed = await Promise.race([c.closed, new Promise<null>((r) => setTimeout(() => r(null), HEARTBEAT_MS + 1000).unref())]);
    assert.ok(closed !== null, 'closed within heartbeat_ms + 1 s');
    assert.equal(closed.code, 4409);
    assert.match(closed.reason, /entitlements changed: exchange kraken removed/);
    // Reconnecting works, under the new limits.
    const again = await open(url('/jane/stream'), janeKey.key);
    again.ws.send(
      JSON.stringify({
        type: 'order',
        exchange: 'kraken',
        order_type: 'limit',
        symbol: 'BTC',
        side: 'buy',
        quantity: 1,
        price: 1,
        mode: 'live',
        client_order_id: 'k1',
      }),
    );
    await sendUntil(again, '{"type":"noop"}', (m) => errorCode(m) === 'ARGUS_TRADING_EXCHANGE_NOT_ALLOWED', 'the kraken order refused', 2000);
    again.ws.close();
  });

  it('narrowed LLM models and features apply in place: the session stays open and the next message is gated', async () => {
    const c = await open(url('/realtime/session'), prismKey.key);
    const big = JSON.stringify({ type: 'session.update', model: 'gpt-4o' });
    const mini = JSON.stringify({ type: 'session.update', model: 'gpt-4o-mini' });
    await sendUntil(c, big, (m) => m === big, 'gpt-4o relayed', 2000);
    await setUser('u_prism', { tier: 'business', features: ['realtime'], llm: { models: ['gpt-4o-mini'], model_tiers: [] } });
    await changed('u_prism', 2);
    await sendUntil(c, big, (m) => errorCode(m) === 'ARGUS_MODEL_NOT_ALLOWED', 'gpt-4o refused', HEARTBEAT_MS + 1000);
    await sendUntil(c, mini, (m) => m === mini, 'gpt-4o-mini still relayed', 2000);
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    await setUser('u_prism', { tier: 'business', features: [], llm: { models: ['gpt-4o-mini'], model_tiers: [] } });
    await changed('u_prism', 3);
    await sendUntil(c, mini, (m) => errorCode(m) === 'ARGUS_FEATURE_REQUIRED', 'the route feature gone', HEARTBEAT_MS + 1000);
    assert.equal(c.ws.readyState, WebSocket.OPEN, 'narrowed LLM and features never close the session');
    const upstreamSawBig = up.messages.filter((m) => m.url.startsWith('/realtime') && m.data.toString() === big).length;
    c.ws.send(big);
    await sendUntil(c, mini, (m) => errorCode(m) === 'ARGUS_FEATURE_REQUIRED', 'still refused', 2000);
    assert.equal(
      up.messages.filter((m) => m.url.startsWith('/realtime') && m.data.toString() === big).length,
      upstreamSawBig,
      'refused messages never reach the upstream',
    );
    c.ws.close();
    await c.closed;
  });
});
