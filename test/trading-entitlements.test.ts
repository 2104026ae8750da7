/**
 * Each per-order rejection has its own code (403 class), and the client gets a
 * JSON error frame carrying it (with its client order id) instead of the order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusOf } from '../src/errors.js';
import type { TradingEntitlements } from '../src/trading/entitlement-schema.js';
import { checkOrder, errorFrame } from '../src/trading/entitlements.js';
import type { Order } from '../src/trading/orders.js';

const ent: TradingEntitlements = { exchanges: ['binance', 'Kraken'], order_types: ['limit', 'market'], paper_only: false, max_position_size_usd: 10_000 };
const base: Order = {
  exchange: 'binance',
  orderType: 'limit',
  symbol: 'BTC-USD',
  side: 'buy',
  quantity: 1,
  price: 5000,
  valueUsd: 5000,
  live: true,
  clientOrderId: 'c-9',
};

test('an entitled order passes; exchange and order type compare case-insensitively', () => {
  assert.equal(checkOrder(base, ent), null);
  assert.equal(checkOrder({ ...base, exchange: 'KRAKEN', orderType: ' Market' }, ent), null);
  assert.equal(checkOrder({ ...base, valueUsd: 10_000 }, ent), null, 'exactly at the limit');
  assert.equal(checkOrder({ ...base, valueUsd: undefined }, { ...ent, max_position_size_usd: undefined }), null, 'no limit: value not needed');
});

test('no trading entitlement: ARGUS_TRADING_NOT_ALLOWED', () => {
  assert.equal(checkOrder(base, undefined)?.code, 'ARGUS_TRADING_NOT_ALLOWED');
});

test('exchange not allowed: ARGUS_TRADING_EXCHANGE_NOT_ALLOWED (empty list allows none)', () => {
  const d = checkOrder({ ...base, exchange: 'coinbase' }, ent);
  assert.equal(d?.code, 'ARGUS_TRADING_EXCHANGE_NOT_ALLOWED');
  assert.match(d!.message, /"coinbase"/);
  assert.equal(checkOrder(base, { ...ent, exchanges: [] })?.code, 'ARGUS_TRADING_EXCHANGE_NOT_ALLOWED');
});

test('order type not allowed: ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED (empty list allows none)', () => {
  assert.equal(checkOrder({ ...base, orderType: 'stop_limit' }, ent)?.code, 'ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED');
  assert.equal(checkOrder(base, { ...ent, order_types: [] })?.code, 'ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED');
});

test('live order for a paper-only account: ARGUS_TRADING_PAPER_ONLY; its paper orders pass', () => {
  const paper = { ...ent, paper_only: true };
  assert.equal(checkOrder(base, paper)?.code, 'ARGUS_TRADING_PAPER_ONLY');
  assert.equal(checkOrder({ ...base, live: false }, paper), null);
});

test('above max_position_size_usd, or value unknown under a limit: ARGUS_TRADING_POSITION_LIMIT', () => {
  const d = checkOrder({ ...base, valueUsd: 10_000.01 }, ent);
  assert.equal(d?.code, 'ARGUS_TRADING_POSITION_LIMIT');
  assert.match(d!.message, /10000\.01 USD is above the position limit of 10000\.00 USD/);
  assert.equal(checkOrder({ ...base, valueUsd: undefined }, ent)?.code, 'ARGUS_TRADING_POSITION_LIMIT');
  assert.equal(checkOrder({ ...base, valueUsd: 1 }, { ...ent, max_position_size_usd: 0 })?.code, 'ARGUS_TRADING_POSITION_LIMIT');
});

test('checks run in a fixed order: exchange before order type before paper before position', () => {
  const all = { ...base, exchange: 'x', orderType: 'y', valueUsd: 1e9 };
  assert.equal(checkOrder(all, { ...ent, paper_only: true })?.code, 'ARGUS_TRADING_EXCHANGE_NOT_ALLOWED');
  assert.equal(checkOrder({ ...all, exchange: 'binance' }, { ...ent, paper_only: true })?.code, 'ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED');
  assert.equal(checkOrder({ ...all, exchange: 'binance', orderType: 'limit' }, { ...ent, paper_only: true })?.code, 'ARGUS_TRADING_PAPER_ONLY');
});

test('every trading message code is 403 class; invalid orders 400', () => {
  for (const code of [
    'ARGUS_TRADING_EXCHANGE_NOT_ALLOWED',
    'ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED',
    'ARGUS_TRADING_PAPER_ONLY',
    'ARGUS_TRADING_POSITION_LIMIT',
    'ARGUS_TRADING_DAILY_VALUE_LIMIT',
    'ARGUS_TRADING_DAILY_LOSS_LIMIT',
  ] as const) {
    assert.equal(statusOf(code), 403, code);
  }
  assert.equal(statusOf('ARGUS_TRADING_ORDER_INVALID'), 400);
});

test('errorFrame: a JSON error message with code, message, status, request id and client order id', () => {
  const d = checkOrder({ ...base, exchange: 'evil"}\n' }, ent)!;
  const frame = JSON.parse(errorFrame(d, 'req-1', 'c-9'));
  assert.deepEqual(frame, {
    type: 'error',
    error: { code: 'ARGUS_TRADING_EXCHANGE_NOT_ALLOWED', message: d.message, status: 403, request_id: 'req-1' },
    client_order_id: 'c-9',
  });
  assert.equal('client_order_id' in JSON.parse(errorFrame(d, 'req-2')), false);
});
