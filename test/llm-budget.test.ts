/**
 * Daily token budget against real Redis: reserve-then-reconcile, 429 when used
 * up, bounded overspend under many concurrent reservations from several
 * connections, day keys that expire, and 503 (fail closed) when Redis is down.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { statusOf, type Denial } from '../src/errors.js';
import { createMemoryBudget, createRedisBudget, reservationTokens, type BudgetReservation, type TokenBudget } from '../src/llm/budget.js';
import { createLlmMetrics } from '../src/llm/metrics.js';
import { closeRedis, createRedis, type Redis } from '../src/clients/redis.js';

const prefix = `test:llm:${randomUUID()}:`;
const DAY = 86_400_000;
let redis: Redis;
let others: Redis[] = [];

before(async () => {
  redis = createRedis('redis://127.0.0.1:6379');
  others = [createRedis('redis://127.0.0.1:6379'), createRedis('redis://127.0.0.1:6379')];
  await Promise.all([redis, ...others].map(ready));
});

after(async () => {
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    await Promise.all([redis, ...others].map(closeRedis));
  }
});

/** Connections fail fast (no offline queue): wait until connected before use. */
function ready(r: Redis): Promise<void> {
  if (r.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    r.once('ready', resolve);
    r.once('error', reject);
  });
}

const isDenial = (r: BudgetReservation | Denial): r is Denial => 'code' in r;
const user = () => `u-${randomUUID()}`;

test('reserve counts the estimate; settle reconciles to actual, once', async () => {
  const budget = createRedisBudget(redis, { prefix });
  const u = user();
  const r = await budget.reserve(u, 10_000, reservationTokens({ prompt_tokens: 100, max_tokens: undefined }, 400));
  assert.ok(!isDenial(r));
  assert.equal(r.tokens, 500);
  assert.equal(await budget.used(u), 500);
  assert.equal(await budget.settle(r, 180), true);
  assert.equal(await budget.used(u), 180);
  assert.equal(await budget.settle(r, 9999), true, 'second settle is a no-op');
  assert.equal(await budget.used(u), 180);
  const r2 = await budget.reserve(u, 10_000, 100);
  assert.ok(!isDenial(r2));
  await budget.settle(r2, 250); // actual above the estimate
  assert.equal(await budget.used(u), 430);
});

test('a used-up budget is a 429 ARGUS_QUOTA_EXCEEDED with Retry-After until midnight UTC', async () => {
  const t0 = Math.floor(Date.now() / DAY) * DAY + DAY - 90_500; // 90.5 s before the next midnight
  const budget = createRedisBudget(redis, { prefix, now: () => t0 });
  const u = user();
  const first = await budget.reserve(u, 1000, 600);
  assert.ok(!isDenial(first));
  const second = await budget.reserve(u, 1000, 600);
  assert.ok(!isDenial(second), 'admitted while below the limit: overspend bounded by this reservation');
  const third = await budget.reserve(u, 1000, 1);
  assert.ok(isDenial(third));
  assert.equal(third.code, 'ARGUS_QUOTA_EXCEEDED');
  assert.equal(statusOf(third.code), 429);
  assert.deepEqual(third.headers, [['retry-after', '91']]);
  assert.equal(await budget.used(u), 1200, 'a denied reservation adds nothing');
  await budget.settle(second, 0); // the second request produced nothing
  assert.ok(!isDenial(await budget.reserve(u, 1000, 1)), 'room again after reconciling');
});

test('many concurrent reservations from three connections overspend by less than one reservation', async () => {
  const budgets = [redis, ...others].map((r) => createRedisBudget(r, { prefix }));
  const u = user();
  const limit = 10_000;
  const each = 700;
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => budgets[i % 3]!.reserve(u, limit, each)));
  const admitted = results.filter((r): r is BudgetReservation => !isDenial(r));
  assert.equal(admitted.length, Math.ceil(limit / each), 'admissions stop exactly when the counter reaches the limit');
  assert.ok(results.filter(isDenial).every((d) => d.code === 'ARGUS_QUOTA_EXCEEDED'));
  await Promise.all(admitted.map((r, i) => budgets[i % 3]!.settle(r, each)));
  const used = await budgets[0]!.used(u);
  assert.equal(used, admitted.length * each);
  assert.ok(used - limit < each, `overspend ${used - limit} < one reservation`);
});

test('reserving and settling interleaved: final spend stays within the limit plus the reservations in flight', async () => {
  const budgets = [redis, ...others].map((r) => createRedisBudget(r, { prefix }));
  const u = user();
  const limit = 5_000;
  const each = 300;
  const workers = 12;
  let actualSpent = 0;
  const stoppedByDenial = await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const b = budgets[w % 3]!;
      for (let i = 0; i < 50; i++) {
        const r = await b.reserve(u, limit, each);
        if (isDenial(r)) return r.code === 'ARGUS_QUOTA_EXCEEDED';
        const actual = (w * 37 + i * 11) % (each + 1); // 0..each, deterministic
        actualSpent += actual;
        await b.settle(r, actual);
      }
      return false;
    }),
  );
  assert.ok(stoppedByDenial.every(Boolean), 'every worker ran until the budget was used up');
  const used = await budgets[0]!.used(u);
  assert.equal(used, actualSpent, 'after every settle the counter is exactly the actual spend');
  assert.ok(used < limit + workers * each, `spend ${used} within limit + in-flight reservations`);
});

test('day keys: a new UTC day starts fresh, a late settle adjusts its own day, keys expire after the day', async () => {
  const t0 = Date.now();
  let now = t0;
  const grace = 60_000;
  const budget = createRedisBudget(redis, { prefix, now: () => now, graceMs: grace });
  const u = user();
  const r = await budget.reserve(u, 1000, 1000);
  assert.ok(!isDenial(r));
  assert.ok(isDenial(await budget.reserve(u, 1000, 1)));
  const expireAt = Math.floor(t0 / DAY) * DAY + DAY + grace;
  const pttl = await redis.pttl(r.key);
  assert.ok(pttl > 0 && pttl <= expireAt - t0 && pttl > expireAt - Date.now() - 5000, `unsettled reservation expires with the day key (pttl ${pttl})`);

  now = Math.floor(t0 / DAY) * DAY + DAY + 1000; // next day
  const next = await budget.reserve(u, 1000, 10);
  assert.ok(!isDenial(next), 'fresh budget on the next day');
  assert.notEqual(next.key, r.key);
  await budget.settle(r, 400);
  assert.equal(await redis.get(r.key), '400', 'the settle landed on the day it was reserved');
  assert.equal(await budget.used(u), 10);

  const gone = await budget.reserve(u, 1000, 10);
  assert.ok(!isDenial(gone));
  await redis.del(gone.key);
  assert.equal(await budget.settle(gone, 5), true);
  assert.equal(await redis.exists(gone.key), 0, 'a vanished day key is not recreated without a TTL');
});

test('Redis unreachable: reserve is a 503 ARGUS_DEPENDENCY_UNAVAILABLE (fail closed); settle resolves false', async () => {
  const port = await closedPort();
  const down = createRedis(`redis://127.0.0.1:${port}`);
  down.on('error', () => {}); // connection refused is expected here
  const registry = new Registry();
  const metrics = createLlmMetrics(registry);
  try {
    const budget = createRedisBudget(down, { prefix, onDecision: metrics.quotaDecision });
    const d = await budget.reserve(user(), 1000, 10);
    assert.ok(isDenial(d));
    assert.equal(d.code, 'ARGUS_DEPENDENCY_UNAVAILABLE');
    assert.equal(statusOf(d.code), 503);
    const fake: BudgetReservation = { user_id: 'x', key: `${prefix}x`, tokens: 10, used: 10 };
    assert.equal(await budget.settle(fake, 3), false);
    assert.match(await registry.metrics(), /argus_llm_quota_decisions_total\{outcome="unavailable"\} 1/);
    await budget.close();
    assert.equal(budget.close(), budget.close(), 'close is idempotent');
  } finally {
    await closeRedis(down);
  }
});

test('quota decisions are counted by outcome', async () => {
  const registry = new Registry();
  const metrics = createLlmMetrics(registry);
  const budget = createRedisBudget(redis, { prefix, onDecision: metrics.quotaDecision });
  const u = user();
  await budget.reserve(u, 10, 10);
  await budget.reserve(u, 10, 10);
  const text = await registry.metrics();
  assert.match(text, /argus_llm_quota_decisions_total\{outcome="reserved"\} 1/);
  assert.match(text, /argus_llm_quota_decisions_total\{outcome="exceeded"\} 1/);
});

test('the in-memory budget (standalone) has the same semantics', async () => {
  let now = Date.UTC(2025, 0, 1, 23, 59, 0);
  const budget: TokenBudget = createMemoryBudget({ now: () => now });
  const a = await budget.reserve('u', 1000, 800);
  assert.ok(!isDenial(a));
  const b = await budget.reserve('u', 1000, 800);
  assert.ok(!isDenial(b));
  const c = await budget.reserve('u', 1000, 1);
  assert.ok(isDenial(c));
  assert.deepEqual(c.headers, [['retry-after', '60']]);
  await budget.settle(b, 100);
  assert.equal(await budget.used('u'), 900);
  now += 120_000; // next day
  assert.equal(await budget.used('u'), 0);
  await budget.settle(a, 0); // yesterday's reservation: no effect today
  assert.equal(await budget.used('u'), 0);
});

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
