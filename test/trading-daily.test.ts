/**
 * Daily trading limits in real Redis (random key prefix, cleaned up after):
 * traded value is reserved atomically (50 concurrent orders never exceed the
 * limit), realized losses from position reports stop further orders, days roll
 * over at UTC midnight (injected clock), and Redis down refuses orders (503 class).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { statusOf } from '../src/errors.js';
import { closeRedis, createRedis, type Redis } from '../src/clients/redis.js';
import { createTradingLedger, utcDay, type Reservation, type TradingLedger } from '../src/trading/daily.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `argus-test-trading-${randomUUID()}:`;
let redis: Redis;
let clock = Date.UTC(2025, 2, 14, 12, 0, 0);
let ledger: TradingLedger;

before(async () => {
  redis = createRedis(REDIS_URL);
  await once(redis, 'ready');
  ledger = createTradingLedger({ redis, prefix, now: () => clock, timeoutMs: 3000 });
});

after(async () => {
  await ledger.close();
  let cursor = '0';
  const keys: string[] = [];
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length) await redis.del(...keys);
  await closeRedis(redis);
});

const code = (r: Reservation) => (r.ok ? 'ok' : r.denial.code);

test('value limit: orders are admitted until the next one would exceed it; keys expire after two days', async () => {
  const user = `u-${randomUUID()}`;
  const limits = { maxDailyValueUsd: 100 };
  const first = await ledger.reserveOrder(user, 60, limits);
  assert.equal(code(first), 'ok');
  assert.equal(first.ok && first.dayValueUsd, 60);
  assert.equal(code(await ledger.reserveOrder(user, 40, limits)), 'ok', 'exactly reaching the limit is allowed');
  const over = await ledger.reserveOrder(user, 0.01, limits);
  assert.equal(code(over), 'ARGUS_TRADING_DAILY_VALUE_LIMIT');
  assert.match(!over.ok ? over.denial.message : '', /100\.00 USD traded today/);
  assert.deepEqual(await ledger.totals(user), { valueUsd: 100, lossUsd: 0 });
  const ttl = await redis.ttl(`${prefix}trading:${user}:20250314:value`);
  assert.ok(ttl > 2 * 86400 - 60 && ttl <= 2 * 86400, `ttl ${ttl}`);
});

test('value unknown under a value limit is refused; without limits it is only tracked', async () => {
  const user = `u-${randomUUID()}`;
  assert.equal(code(await ledger.reserveOrder(user, undefined, { maxDailyValueUsd: 1000 })), 'ARGUS_TRADING_DAILY_VALUE_LIMIT');
  assert.equal(code(await ledger.reserveOrder(user, undefined, {})), 'ok');
  assert.equal(code(await ledger.reserveOrder(user, 5000, {})), 'ok');
  assert.equal((await ledger.totals(user)).valueUsd, 5000);
});

test('50 concurrent reserves cannot exceed the daily value limit', async () => {
  const user = `u-${randomUUID()}`;
  const results = await Promise.all(Array.from({ length: 50 }, () => ledger.reserveOrder(user, 30, { maxDailyValueUsd: 1000 })));
  const admitted = results.filter((r) => r.ok).length;
  assert.equal(admitted, 33, 'floor(1000 / 30) orders fit');
  assert.ok(results.filter((r) => !r.ok).every((r) => code(r) === 'ARGUS_TRADING_DAILY_VALUE_LIMIT'));
  assert.equal((await ledger.totals(user)).valueUsd, 990);
});

test('a second ledger (another sidecar) shares the same day totals', async () => {
  const user = `u-${randomUUID()}`;
  const other = createTradingLedger({ redis, prefix, now: () => clock, timeoutMs: 3000 });
  const both = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? ledger : other).reserveOrder(user, 10, { maxDailyValueUsd: 95 })));
  assert.equal(both.filter((r) => r.ok).length, 9);
  await other.close();
  await other.close(); // idempotent; the shared connection stays open
  assert.equal(redis.status, 'ready');
});

test('release gives the value of an order that was not sent back', async () => {
  const user = `u-${randomUUID()}`;
  const r = await ledger.reserveOrder(user, 80, { maxDailyValueUsd: 100 });
  assert.equal(code(await ledger.reserveOrder(user, 50, { maxDailyValueUsd: 100 })), 'ARGUS_TRADING_DAILY_VALUE_LIMIT');
  assert.ok(r.ok);
  await r.release();
  await r.release(); // once only
  assert.equal((await ledger.totals(user)).valueUsd, 0);
  assert.equal(code(await ledger.reserveOrder(user, 50, { maxDailyValueUsd: 100 })), 'ok');
});

test('daily loss limit: reported losses stop orders, gains offset them', async () => {
  const user = `u-${randomUUID()}`;
  const limits = { dailyLossLimitUsd: 100 };
  assert.equal(await ledger.recordPnl(user, -60), true);
  assert.equal(code(await ledger.reserveOrder(user, 10, limits)), 'ok');
  await ledger.recordPnl(user, -40);
  const denied = await ledger.reserveOrder(user, 10, limits);
  assert.equal(code(denied), 'ARGUS_TRADING_DAILY_LOSS_LIMIT');
  assert.match(!denied.ok ? denied.denial.message : '', /lost 100\.00 USD today/);
  await ledger.recordPnl(user, 25);
  assert.equal(code(await ledger.reserveOrder(user, 10, limits)), 'ok');
  assert.equal((await ledger.totals(user)).lossUsd, 75);
  // A limit of 0: no loss at all allowed, but trading starts allowed.
  const fresh = `u-${randomUUID()}`;
  assert.equal(code(await ledger.reserveOrder(fresh, 1, { dailyLossLimitUsd: 0 })), 'ok');
  await ledger.recordPnl(fresh, -0.01);
  assert.equal(code(await ledger.reserveOrder(fresh, 1, { dailyLossLimitUsd: 0 })), 'ARGUS_TRADING_DAILY_LOSS_LIMIT');
});

test('report ids count once across sessions; daily_total mode replaces instead of summing', async () => {
  const user = `u-${randomUUID()}`;
  assert.equal(await ledger.recordPnl(user, -30, 'r1'), true);
  assert.equal(await ledger.recordPnl(user, -30, 'r1'), false, 'the same report seen on another session');
  assert.equal((await ledger.totals(user)).lossUsd, 30);
  const totalMode = createTradingLedger({ redis, prefix, now: () => clock, pnlMode: 'daily_total' });
  const u2 = `u-${randomUUID()}`;
  await totalMode.recordPnl(u2, -30);
  await totalMode.recordPnl(u2, -50);
  assert.equal((await totalMode.totals(u2)).lossUsd, 50);
  await totalMode.recordPnl(u2, 10);
  assert.equal((await totalMode.totals(u2)).lossUsd, -10);
  await totalMode.close();
});

test('a new UTC day starts from zero', async () => {
  const user = `u-${randomUUID()}`;
  const saved = clock;
  try {
    clock = Date.UTC(2025, 2, 14, 23, 59, 59, 999);
    assert.equal(utcDay(clock), '20250314');
    assert.equal(code(await ledger.reserveOrder(user, 100, { maxDailyValueUsd: 100 })), 'ok');
    await ledger.recordPnl(user, -500);
    assert.equal(code(await ledger.reserveOrder(user, 1, { maxDailyValueUsd: 100 })), 'ARGUS_TRADING_DAILY_VALUE_LIMIT');
    clock += 1;
    assert.equal(utcDay(clock), '20250315');
    assert.equal(code(await ledger.reserveOrder(user, 100, { maxDailyValueUsd: 100, dailyLossLimitUsd: 100 })), 'ok');
  } finally {
    clock = saved;
  }
});

test('Redis unreachable: orders refused with a 503-class denial, reports not recorded', async () => {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const down = createTradingLedger({ redis: `redis://127.0.0.1:${port}`, prefix, now: () => clock });
  try {
    for (const limits of [{ maxDailyValueUsd: 100 }, { dailyLossLimitUsd: 5 }, {}]) {
      const r = await down.reserveOrder('u-down', 1, limits);
      assert.equal(code(r), 'ARGUS_DEPENDENCY_UNAVAILABLE');
      assert.equal(statusOf(r.ok ? 'ARGUS_INTERNAL' : r.denial.code), 503);
    }
    assert.equal(await down.recordPnl('u-down', -10), false);
  } finally {
    await down.close();
    await down.close();
  }
});
