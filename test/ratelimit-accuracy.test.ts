/**
 * Accuracy of the in-process buckets (issue 4 §5): at offered rates of 0.5×, 1×
 * and 3× the limit, admitted requests stay within limit + burst in every window
 * and at most 1% under what the policy allows. Injected clock throughout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { createRateLimiter, limitPolicy, type Decision, type LimitPolicy, type RateLimiter } from '../src/ratelimit/index.js';

function localLimiter(clock: { t: number }): RateLimiter {
  const cfg = parseConfig({
    upstream: { url: 'http://127.0.0.1:1' },
    routes: [{ path: '/x', auth: 'none' }],
    ratelimit: { scope: 'local', max_subjects: 1000 },
  });
  return createRateLimiter(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: createLogger('error'), now: () => clock.t });
}

/** Offer one request at each time; return the times admitted. */
function offer(limiter: RateLimiter, clock: { t: number }, subject: string, policy: LimitPolicy, times: number[]): number[] {
  const admitted: number[] = [];
  for (const t of times) {
    clock.t = t;
    const d = limiter.check(subject, policy) as Decision;
    assert.equal(typeof d.allowed, 'boolean', 'scope local answers synchronously');
    if (d.allowed) admitted.push(t);
  }
  return admitted;
}

/** Most admissions inside any window [t, t + windowMs). */
function maxInAnyWindow(sorted: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

function evenly(count: number, fromMs: number, spanMs: number): number[] {
  return Array.from({ length: count }, (_, i) => fromMs + (i * spanMs) / count);
}

for (const [limit, burst] of [
  [100, 10],
  [1000, 100],
  [7, 0],
  [10000, 1000],
] as const) {
  for (const factor of [0.5, 1, 3]) {
    test(`limit ${limit}/min burst ${burst}: offered ${factor}× over one window admits min(offered, limit + burst) within 1%`, () => {
      const clock = { t: 1_700_000_000_000 };
      const limiter = localLimiter(clock);
      const policy = limitPolicy({ name: 'p', limit, windowS: 60, burst });
      const offered = Math.round(limit * factor);
      const admitted = offer(limiter, clock, 'u:acc', policy, evenly(offered, clock.t, 60_000));
      const allowed = Math.min(offered, limit + burst);
      assert.ok(admitted.length <= limit + burst, `admitted ${admitted.length} > limit + burst ${limit + burst}`);
      assert.ok(admitted.length >= Math.floor(0.99 * allowed), `admitted ${admitted.length} < 99% of ${allowed}`);
    });
  }
}

test('sustained 3× random arrivals over 5 windows: every window within limit + burst, total at most 1% under', () => {
  const clock = { t: 1_000_000 };
  const limiter = localLimiter(clock);
  const policy = limitPolicy({ name: 'p', limit: 100, windowS: 60, burst: 10 });
  let seed = 42;
  const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const times: number[] = [];
  const start = clock.t;
  // Poisson arrivals at 3 × 100 per minute.
  for (let t = start; ; ) {
    t += -Math.log(1 - rand()) * (60_000 / 300);
    if (t >= start + 5 * 60_000) break;
    times.push(t);
  }
  const admitted = offer(limiter, clock, 'u:poisson', policy, times);
  assert.ok(maxInAnyWindow(admitted, 60_000) <= 110, `a window admitted ${maxInAnyWindow(admitted, 60_000)}`);
  const allowed = 5 * 100 + 10;
  assert.ok(admitted.length <= allowed, `admitted ${admitted.length}`);
  assert.ok(admitted.length >= 0.99 * allowed, `admitted ${admitted.length} < 99% of ${allowed}`);
});

test('a burst of burst + 1 passes at once, then one request per emission interval', () => {
  const clock = { t: 5_000_000 };
  const limiter = localLimiter(clock);
  const policy = limitPolicy({ name: 'p', limit: 60, windowS: 60, burst: 4 });
  const first = offer(limiter, clock, 'u:b', policy, Array(10).fill(clock.t));
  assert.equal(first.length, 5);
  clock.t += 999;
  assert.equal((limiter.check('u:b', policy) as Decision).allowed, false, 'no token before a full second');
  clock.t += 1;
  assert.equal((limiter.check('u:b', policy) as Decision).allowed, true);
  assert.equal((limiter.check('u:b', policy) as Decision).allowed, false);
});

test('subjects and route classes have independent buckets', () => {
  const clock = { t: 9_000_000 };
  const limiter = localLimiter(clock);
  const a = limitPolicy({ name: 'p', limit: 60, windowS: 60, burst: 0 });
  const b = limitPolicy({ name: 'p', routeClass: 'search', limit: 60, windowS: 60, burst: 0 });
  assert.equal((limiter.check('u:1', a) as Decision).allowed, true);
  assert.equal((limiter.check('u:1', a) as Decision).allowed, false);
  assert.equal((limiter.check('u:2', a) as Decision).allowed, true, 'another subject');
  assert.equal((limiter.check('u:1', b) as Decision).allowed, true, 'another route class');
});

test('cost takes several tokens at once', () => {
  const clock = { t: 9_000_000 };
  const limiter = localLimiter(clock);
  const p = limitPolicy({ name: 'p', limit: 60, windowS: 60, burst: 9 });
  assert.equal((limiter.check('u:c', p, 6) as Decision).allowed, true);
  const d = limiter.check('u:c', p, 6) as Decision;
  assert.equal(d.allowed, false);
  assert.equal(d.remaining, 4);
  assert.equal(d.retryAfterS, 2, 'two more tokens needed, one per second');
  assert.equal((limiter.check('u:c', p, 4) as Decision).allowed, true);
});
