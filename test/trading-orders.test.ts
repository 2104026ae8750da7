/**
 * Order recognition on client messages: orders are understood field by field,
 * anything the sidecar cannot judge is `invalid` (never forwarded), and the
 * parser never throws on attacker bytes (seeded fuzz: random bytes, mutated JSON).
 */
import { prng } from './support/prng.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/config.js';
import { UsageError } from '../src/errors.js';
import { tradingSchema, type TradingConfig } from '../src/trading/schema.js';
import { parseOrder, type ParsedMessage } from '../src/trading/orders.js';
import { parseReport } from '../src/trading/reports.js';
import { parseStrictJson, type Json } from '../src/trading/json.js';

const cfg: TradingConfig = tradingSchema.parse({});
const order = (fields: Record<string, unknown>) =>
  JSON.stringify({
    type: 'order',
    exchange: 'binance',
    order_type: 'limit',
    symbol: 'BTC-USD',
    side: 'buy',
    quantity: 2,
    price: 100,
    mode: 'paper',
    client_order_id: 'c-1',
    ...fields,
  });

function asOrder(r: ParsedMessage) {
  assert.equal(r.kind, 'order', JSON.stringify(r));
  return (r as Extract<ParsedMessage, { kind: 'order' }>).order;
}

test('a Jane order is understood: fields, value = quantity × price, paper mode, client order id', () => {
  const o = asOrder(parseOrder(order({}), cfg));
  assert.deepEqual(o, {
    exchange: 'binance',
    orderType: 'limit',
    symbol: 'BTC-USD',
    side: 'buy',
    quantity: 2,
    price: 100,
    valueUsd: 200,
    live: false,
    clientOrderId: 'c-1',
  });
  // Buffers (binary or copied frames) parse the same; decimal strings are amounts.
  const b = asOrder(parseOrder(Buffer.from(order({ quantity: '0.25', price: '60000.5', mode: 'live' })), cfg));
  assert.equal(b.valueUsd, 15000.125);
  assert.equal(b.live, true);
});

test('message type matching is trimmed and case-insensitive; other types pass as other', () => {
  assert.equal(parseOrder(order({ type: ' ORDER ' }), cfg).kind, 'order');
  assert.deepEqual(parseOrder('{"type":"subscribe","channel":"trades"}', cfg), { kind: 'other' });
  assert.deepEqual(parseOrder('{"op":"ping"}', cfg), { kind: 'other' });
});

test('missing or unknown mode is live (fail closed); a paper default can be configured', () => {
  assert.equal(asOrder(parseOrder(order({ mode: undefined }), cfg)).live, true);
  assert.equal(asOrder(parseOrder(order({ mode: 'papr' }), cfg)).live, true);
  assert.equal(asOrder(parseOrder(order({ mode: ' Paper' }), cfg)).live, false);
  const flag = tradingSchema.parse({ order: { mode: { path: 'paper', paper: [true], default: 'paper' } } });
  assert.equal(asOrder(parseOrder(order({ paper: true }), flag)).live, false);
  assert.equal(asOrder(parseOrder(order({ paper: false }), flag)).live, true);
  assert.equal(asOrder(parseOrder(order({}), flag)).live, false);
});

test('configured nested paths and a stated value: the larger of stated and computed value counts', () => {
  const nested = tradingSchema.parse({
    order: {
      match: { path: 'op', values: ['place', 'amend'] },
      exchange: 'order.venue',
      order_type: 'order.kind',
      symbol: 'order.legs.0.symbol',
      quantity: 'order.legs.0.qty',
      price: 'order.legs.0.px',
      value_usd: 'order.notional',
      client_order_id: 'id',
    },
  });
  const msg = (notional: number) =>
    JSON.stringify({ op: 'amend', id: 7, order: { venue: 'kraken', kind: 'stop', notional, legs: [{ symbol: 'ETH', qty: 3, px: 10 }] } });
  const low = asOrder(parseOrder(msg(1), nested));
  assert.equal(low.valueUsd, 30, 'a client cannot understate the value');
  assert.equal(low.clientOrderId, '7');
  assert.equal(low.symbol, 'ETH');
  assert.equal(asOrder(parseOrder(msg(500), nested)).valueUsd, 500);
  // A market order without price: the stated value alone, or unknown.
  const market = JSON.stringify({ op: 'place', order: { venue: 'kraken', kind: 'market', legs: [{ symbol: 'ETH', qty: 3 }] } });
  assert.equal(asOrder(parseOrder(market, nested)).valueUsd, undefined);
});

test('orders the sidecar cannot judge are invalid, with the client order id when known', () => {
  const cases: Array<[string, RegExp]> = [
    [order({ exchange: undefined }), /exchange/],
    [order({ exchange: ['binance'] }), /exchange/],
    [order({ exchange: '  ' }), /exchange/],
    [order({ order_type: 5 }), /order_type/],
    [order({ quantity: 0 }), /quantity/],
    [order({ quantity: -1 }), /quantity/],
    [order({ quantity: '1e400' }), /quantity/],
    [order({ quantity: 'lots' }), /quantity/],
    [order({ quantity: undefined }), /quantity/],
    [order({ price: -5 }), /price/],
    [order({ quantity: 1e15, price: 1e15 }), /value above/],
    [order({ symbol: { s: 1 } }), /symbol/],
    [order({ exchange: 'x'.repeat(200) }), /exchange/],
  ];
  for (const [text, reason] of cases) {
    const r = parseOrder(text, cfg);
    assert.equal(r.kind, 'invalid', text);
    assert.match((r as { reason: string }).reason, reason, text);
    assert.equal((r as { clientOrderId?: string }).clientOrderId, 'c-1', text);
  }
});

test('messages that could be read differently upstream are refused, not passed on', () => {
  const invalid = [
    '{"type":"order","exchange":"paper-sim","exchange":"binance","order_type":"limit","quantity":1}', // duplicate key
    '{"type":"subscribe","TYPE":"order","exchange":"binance","order_type":"limit","quantity":1}', // keys equal ignoring case
    '{"type":"order","exchange":"binance","order_type":"limit","quantity":1,}', // trailing comma (lenient parsers)
    '{"type":"order" /* c */}',
    '\ufeff{"type":"order"}',
    '[{"type":"order","exchange":"binance","order_type":"limit","quantity":1}]', // not an object (a batch?)
    '"order"',
    `{"type":"order","pad":"${'x'.repeat(70_000)}"}`, // above max_message_bytes
    '['.repeat(40) + ']'.repeat(40), // nesting
  ];
  for (const text of invalid) assert.equal(parseOrder(text, cfg).kind, 'invalid', text.slice(0, 80));
  assert.equal(parseOrder(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), cfg).kind, 'invalid', 'not UTF-8');
  // With non_json: forward, non-JSON passes as other (documented trade-off) but JSON orders are still checked.
  const lenient = tradingSchema.parse({ non_json: 'forward' });
  assert.deepEqual(parseOrder('hello', lenient), { kind: 'other' });
  assert.equal(parseOrder(order({}), lenient).kind, 'order');
  assert.equal(parseOrder(`{"type":"order","pad":"${'x'.repeat(70_000)}"}`, lenient).kind, 'invalid', 'size still bounded');
});

test('position reports: P&L as number or string, id when configured, anything else ignored', () => {
  assert.deepEqual(parseReport('{"type":"position","symbol":"BTC","realized_pnl_usd":-12.5}', cfg), { realizedPnlUsd: -12.5 });
  assert.deepEqual(parseReport(Buffer.from('{"type":"Position","realized_pnl_usd":"30"}'), cfg), { realizedPnlUsd: 30 });
  assert.equal(parseReport('{"type":"trade","realized_pnl_usd":-1}', cfg), null);
  assert.equal(parseReport('{"type":"position","realized_pnl_usd":"lots"}', cfg), null);
  assert.equal(parseReport('{"type":"position"}', cfg), null);
  assert.equal(parseReport('not json realized_pnl_usd', cfg), null);
  const withId = tradingSchema.parse({ report: { id: 'report_id', realized_pnl_usd: 'pnl.realized', pnl: 'daily_total' } });
  assert.deepEqual(parseReport('{"type":"position","report_id":"r9","pnl":{"realized":-3}}', withId), { realizedPnlUsd: -3, id: 'r9' });
});

test('config: trading section is strict, has Jane defaults, and names the bad key', () => {
  const base = { upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/x', auth: 'none' }] };
  assert.equal(parseConfig(base).trading.order.match.values[0], 'order');
  assert.throws(
    () => parseConfig({ ...base, trading: { order: { exchnage: 'x' } } }),
    (e: unknown) => e instanceof UsageError && /trading\.order: unknown key\(s\) "exchnage"/.test(e.message),
  );
  assert.throws(
    () => parseConfig({ ...base, trading: { order: { symbol: 'a..b' } } }),
    (e: unknown) => e instanceof UsageError && /trading\.order\.symbol/.test(e.message),
  );
  assert.throws(
    () => parseConfig({ ...base, trading: { report: { pnl: 'sum' } } }),
    (e: unknown) => e instanceof UsageError && /trading\.report\.pnl/.test(e.message),
  );
});

/** Maps → plain objects, to compare with JSON.parse. */
function plain(v: Json): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

test('fuzz: random bytes never throw and never pass as an order', () => {
  const rand = prng(0x7ad1);
  for (let n = 0; n < 5000; n++) {
    const len = Math.floor(rand() * 300);
    const buf = Buffer.alloc(len);
    for (let i = 0; i < len; i++) buf[i] = Math.floor(rand() * 256);
    const r = parseOrder(buf, cfg);
    assert.ok(r.kind === 'invalid' || r.kind === 'other', `bytes ${buf.toString('hex')}`);
    parseReport(buf, cfg);
  }
});

test('fuzz: mutated orders never throw; whatever JSON.parse reads as an order is never passed unchecked', () => {
  const rand = prng(0xbeef);
  const seeds = [
    order({}),
    order({ quantity: '1.5', mode: 'live' }),
    '{"type":"subscribe","symbols":["BTC","ETH"],"depth":{"n":5}}',
    '{"type":"position","realized_pnl_usd":-4}',
  ];
  const alphabet = '{}[]":,\\ .-+eE0123456789tfnulrsaTOD\u0000\u00e9\ud83d\ude00orderexchange';
  let orders = 0;
  for (let n = 0; n < 8000; n++) {
    let s = seeds[n % seeds.length]!;
    for (let k = 1 + Math.floor(rand() * 4); k > 0; k--) {
      const at = Math.floor(rand() * (s.length + 1));
      const op = rand();
      const ch = alphabet[Math.floor(rand() * alphabet.length)]!;
      if (op < 0.4) s = s.slice(0, at) + ch + s.slice(at);
      else if (op < 0.7) s = s.slice(0, at) + s.slice(at + 1);
      else if (op < 0.9) s = s.slice(0, at) + ch + s.slice(at + 1);
      else s = s.slice(0, at) + s.slice(at, at + 12) + s.slice(at); // duplicate a chunk
    }
    const r = parseOrder(s, cfg);
    parseReport(s, cfg);
    let reference: unknown;
    try {
      reference = JSON.parse(s);
    } catch {
      assert.notEqual(r.kind, 'order', `JSON.parse refuses but parsed as an order: ${s}`);
      assert.notEqual(r.kind, 'other', `unparseable text passed on: ${s}`);
      continue;
    }
    const strict = parseStrictJson(s);
    if (strict.ok) assert.deepEqual(plain(strict.value), reference, `parsers disagree on ${s}`);
    const t = reference !== null && typeof reference === 'object' && !Array.isArray(reference) ? (reference as Record<string, unknown>)['type'] : undefined;
    if (typeof t === 'string' && t.trim().toLowerCase() === 'order') {
      assert.notEqual(r.kind, 'other', `an order passed unchecked: ${s}`);
      if (r.kind === 'order') {
        orders++;
        assert.equal(r.order.exchange, (reference as Record<string, unknown>)['exchange']);
      }
    }
  }
  assert.ok(orders > 100, `the fuzz exercised valid orders (${orders})`);
});
