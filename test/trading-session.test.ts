/**
 * The per-session trading gate with a real Redis ledger: refused orders get an
 * error frame and are not forwarded while the session goes on, messages keep
 * their order behind an order waiting for Redis, position reports from the
 * upstream stop orders at the daily loss limit, and accepted orders and bytes
 * become usage events with deterministic ids.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import type { AuthContext } from '../src/request/principal.js';
import { closeRedis, createRedis, type Redis } from '../src/clients/redis.js';
import { tradingSchema } from '../src/trading/schema.js';
import { createTradingLedger, type TradingLedger } from '../src/trading/daily.js';
import { createTradingSession, type TradingSession } from '../src/trading/session.js';
import { tradingEventId, type TradingUsageEvent } from '../src/trading/events.js';

const prefix = `argus-test-trading-session-${randomUUID()}:`;
const cfg = tradingSchema.parse({ max_pending_messages: 3 });
let redis: Redis;
let ledger: TradingLedger;
let clock = Date.UTC(2025, 5, 1, 9, 0, 0);

before(async () => {
  redis = createRedis('redis://127.0.0.1:6379');
  await once(redis, 'ready');
  ledger = createTradingLedger({ redis, prefix, now: () => clock, timeoutMs: 3000 });
});

after(async () => {
  await ledger.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await closeRedis(redis);
});

function ctxFor(trading: Partial<NonNullable<AuthContext['trading']>> = {}): AuthContext {
  return {
    method: 'api_key',
    user_id: `u-${randomUUID()}`,
    key_id: 'k-1',
    tier: 'business',
    features: [],
    scopes: [],
    trading: { exchanges: ['binance'], order_types: ['limit'], paper_only: false, max_position_size_usd: 1000, ...trading },
  };
}

interface Harness {
  session: TradingSession;
  forwarded: string[];
  replies: Array<Record<string, any>>;
  events: TradingUsageEvent[];
}

function open(ctx: AuthContext, requestId = `req-${randomUUID()}`): Harness {
  const h: Harness = { session: undefined as unknown as TradingSession, forwarded: [], replies: [], events: [] };
  h.session = createTradingSession({
    config: cfg,
    ledger,
    ctx,
    requestId,
    service: 'jane',
    route: '/v1/stream',
    now: () => clock,
    forward: (data) => h.forwarded.push(data.toString()),
    reply: (frame) => h.replies.push(JSON.parse(frame)),
    emit: (ev) => h.events.push(ev),
  });
  return h;
}

const order = (f: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({
      type: 'order',
      exchange: 'binance',
      order_type: 'limit',
      symbol: 'BTC',
      side: 'buy',
      quantity: 2,
      price: 100,
      mode: 'live',
      client_order_id: 'c-1',
      ...f,
    }),
  );

test('an accepted order is forwarded before the messages that followed it, and metered', async () => {
  const ctx = ctxFor();
  const requestId = 'req-fixed-1';
  const h = open(ctx, requestId);
  h.session.fromClient(order(), false);
  h.session.fromClient(Buffer.from('{"type":"cancel","client_order_id":"c-1"}'), false);
  assert.deepEqual(h.forwarded, [], 'the order waits for Redis and the cancel waits behind it');
  assert.equal(h.session.pending, 2);
  await h.session.idle();
  assert.deepEqual(
    h.forwarded.map((m) => JSON.parse(m).type),
    ['order', 'cancel'],
  );
  assert.equal(h.replies.length, 0);
  assert.equal(h.events.length, 1);
  const ev = h.events[0]!;
  assert.equal(ev.event_id, tradingEventId(requestId, 'trade', 1));
  assert.deepEqual(
    { kind: ev.kind, user: ev.user_id, key: ev.key_id, service: ev.service, route: ev.route, q: ev.quantity, at: ev.occurred_at },
    { kind: 'trading', user: ctx.user_id, key: 'k-1', service: 'jane', route: '/v1/stream', q: 2, at: new Date(clock).toISOString() },
  );
  assert.deepEqual(
    { type: ev.trading.event_type, ex: ev.trading.exchange, sym: ev.trading.symbol, v: ev.trading.value_usd },
    { type: 'trade', ex: 'binance', sym: 'BTC', v: 200 },
  );
  assert.equal((await ledger.totals(ctx.user_id)).valueUsd, 200);
  h.session.close();
});

test('refused orders get an error frame with their code; the session goes on', async () => {
  const h = open(ctxFor({ paper_only: true }));
  const cases: Array<[Buffer, string]> = [
    [order({ exchange: 'ftx', client_order_id: 'a' }), 'ARGUS_TRADING_EXCHANGE_NOT_ALLOWED'],
    [order({ order_type: 'iceberg', client_order_id: 'b' }), 'ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED'],
    [order({ client_order_id: 'c' }), 'ARGUS_TRADING_PAPER_ONLY'],
    [order({ mode: 'paper', quantity: 20, client_order_id: 'd' }), 'ARGUS_TRADING_POSITION_LIMIT'],
    [order({ mode: 'paper', quantity: 'many', client_order_id: 'e' }), 'ARGUS_TRADING_ORDER_INVALID'],
  ];
  for (const [msg] of cases) assert.equal(h.session.fromClient(msg, false), true);
  await h.session.idle();
  assert.deepEqual(
    h.replies.map((r) => [r.error.code, r.client_order_id]),
    cases.map(([, c], i) => [c, 'abcde'[i]]),
  );
  assert.ok(h.replies.every((r) => r.type === 'error' && typeof r.error.request_id === 'string'));
  assert.deepEqual(h.forwarded, []);
  h.session.fromClient(order({ mode: 'paper', client_order_id: 'f' }), false);
  await h.session.idle();
  assert.equal(h.forwarded.length, 1, 'an entitled order still goes through');
  h.session.close();
});

test('daily value limit and loss reported by the upstream stop further orders', async () => {
  const ctx = ctxFor({ daily_loss_limit_usd: 100, max_daily_value_usd: 500 });
  const h = open(ctx);
  for (let i = 0; i < 3; i++) h.session.fromClient(order({ client_order_id: `v${i}` }), false); // 200 each
  await h.session.idle();
  assert.equal(h.forwarded.length, 2);
  assert.deepEqual(
    h.replies.map((r) => r.error.code),
    ['ARGUS_TRADING_DAILY_VALUE_LIMIT'],
  );
  // The upstream reports a realized loss on its way to the client.
  h.session.fromUpstream(Buffer.from('{"type":"position","symbol":"BTC","realized_pnl_usd":-150}'), false);
  const deadline = Date.now() + 5000;
  while ((await ledger.totals(ctx.user_id)).lossUsd !== 150) {
    assert.ok(Date.now() < deadline, 'loss recorded');
    await new Promise((r) => setImmediate(r));
  }
  h.session.fromClient(order({ quantity: 0.1, client_order_id: 'after-loss' }), false);
  await h.session.idle();
  assert.deepEqual(h.replies.at(-1), { type: 'error', client_order_id: 'after-loss', error: h.replies.at(-1)!.error });
  assert.equal(h.replies.at(-1)!.error.code, 'ARGUS_TRADING_DAILY_LOSS_LIMIT');
  assert.equal(h.forwarded.length, 2);
  h.session.close();
});

test('too many messages behind a waiting order: fromClient says so (caller closes 1013)', async () => {
  const h = open(ctxFor());
  assert.equal(h.session.fromClient(order(), false), true);
  assert.equal(h.session.fromClient(Buffer.from('{"type":"ping"}'), false), true);
  assert.equal(h.session.fromClient(Buffer.from('{"type":"ping"}'), false), true);
  assert.equal(h.session.fromClient(Buffer.from('{"type":"ping"}'), false), false);
  await h.session.idle();
  assert.equal(h.forwarded.length, 3);
  h.session.close();
});

test('closing while an order waits: nothing is forwarded and its reserved value is given back', async () => {
  const ctx = ctxFor({ max_daily_value_usd: 10_000 });
  const h = open(ctx);
  h.session.fromClient(order(), false);
  h.session.close();
  await h.session.idle();
  assert.deepEqual(h.forwarded, []);
  assert.equal((await ledger.totals(ctx.user_id)).valueUsd, 0);
  assert.equal(h.session.fromClient(order(), false), true, 'ignored after close');
  assert.deepEqual(h.forwarded, []);
});

test('data_stream events: bytes each way per period, none for an idle period, one at close', async () => {
  const requestId = 'req-fixed-2';
  const h = open(ctxFor(), requestId);
  const start = clock;
  h.session.fromClient(Buffer.from('{"type":"subscribe","symbols":["BTC"]}'), false); // 38 bytes
  h.session.fromUpstream(Buffer.alloc(1000, 0x61), true);
  h.session.fromUpstream(Buffer.from('{"type":"tick"}'), false); // 15 bytes
  clock += 30_000;
  h.session.flushUsage();
  h.session.flushUsage(); // nothing moved since
  h.session.fromUpstream(Buffer.alloc(10), true);
  clock += 5_000;
  h.session.close();
  h.session.close();
  await h.session.idle();
  clock = start;
  const streams = h.events.filter((e) => e.trading.event_type === 'data_stream');
  assert.deepEqual(
    streams.map((e) => [e.event_id, e.trading.bytes_from_client, e.trading.bytes_to_client, e.trading.data_bytes, e.quantity, e.trading.compute_seconds]),
    [
      [tradingEventId(requestId, 'data_stream', 1), 38, 1015, 1053, 1053, 30],
      [tradingEventId(requestId, 'data_stream', 2), 0, 10, 10, 10, 5],
    ],
  );
});
