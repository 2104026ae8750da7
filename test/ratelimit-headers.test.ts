/**
 * RateLimit-Policy / RateLimit (draft-ietf-httpapi-ratelimit-headers) on every
 * answer, Retry-After only on a 429; tier changes apply on the next check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { statusOf } from '../src/errors.js';
import {
  admittedOutcome,
  createRateLimiter,
  limitedDenial,
  limitPolicy,
  policyFor,
  rateLimitHeaders,
  subjectOf,
  type Decision,
} from '../src/ratelimit/index.js';

const cfg = parseConfig({
  upstream: { url: 'http://127.0.0.1:1' },
  routes: [{ path: '/x', auth: 'none' }],
  tiers: { explorer: { requests_per_minute: 100 }, professional: { requests_per_minute: 1000, burst: 50 } },
  ratelimit: { max_subjects: 1000 },
});

function setup() {
  const clock = { t: 1_700_000_000_000 };
  const metrics = new Metrics({ defaultMetrics: false });
  const limiter = createRateLimiter(cfg, { metrics, log: createLogger('error'), now: () => clock.t });
  return { clock, metrics, limiter, check: (s: string, p: ReturnType<typeof policyFor>) => limiter.check(s, p) as Decision };
}

function asMap(flat: string[]): Map<string, string> {
  assert.equal(flat.length % 2, 0);
  const m = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

test('allowed: RateLimit-Policy and RateLimit, no Retry-After', () => {
  const { check } = setup();
  const policy = policyFor({ tier: 'explorer' }, cfg.tiers);
  const h = asMap(rateLimitHeaders(policy, check('u:h1', policy)));
  assert.equal(h.get('RateLimit-Policy'), '"explorer";q=100;w=60');
  assert.equal(h.get('RateLimit'), '"explorer";r=10;t=1', 'burst 10 (10% default) + 1 minus the one just taken; full again in 0.6 s');
  assert.equal(h.has('Retry-After'), false);
});

test('admitted outcomes: the headers of rateLimitHeaders as bytes, one frozen outcome per (r, t), fresh for a degraded limit', () => {
  const { check } = setup();
  const policy = policyFor({ tier: 'explorer' }, cfg.tiers);
  const text = (o: ReturnType<typeof admittedOutcome>) => (o.ok ? (o.headers ?? []).map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString())) : []);
  const d1 = check('u:h9', policy);
  const o1 = admittedOutcome(policy, d1);
  assert.deepEqual(text(o1), rateLimitHeaders(policy, d1));
  assert.equal(Object.isFrozen(o1), true);
  const d2 = check('u:h9', policy);
  const o2 = admittedOutcome(policy, d2);
  assert.deepEqual(text(o2), ['RateLimit-Policy', '"explorer";q=100;w=60', 'RateLimit', '"explorer";r=9;t=2']);
  assert.notEqual(o2, o1, 'another r: another outcome');
  assert.equal(admittedOutcome(policy, { ...d2 }), o2, 'the same r and t: the same outcome');
  const degraded = { ...d2, limit: 50, degraded: true };
  assert.deepEqual(text(admittedOutcome(policy, degraded)), rateLimitHeaders(policy, degraded));
  assert.notEqual(admittedOutcome(policy, degraded), admittedOutcome(policy, degraded), 'a degraded decision names its own limit: built each time');
});

test('limited: r=0, t = seconds to a full bucket, Retry-After = seconds to the next token', () => {
  const { check } = setup();
  const policy = policyFor({ tier: 'explorer' }, cfg.tiers);
  let d = check('u:h2', policy);
  for (let i = 0; i < 11; i++) d = check('u:h2', policy);
  assert.equal(d.allowed, false);
  const h = asMap(rateLimitHeaders(policy, d));
  assert.equal(h.get('RateLimit'), '"explorer";r=0;t=7', '11 tokens owed at 0.6 s each = 6.6 s');
  assert.equal(h.get('Retry-After'), '1');
  assert.match(h.get('RateLimit')!, /^"[^"]+";r=\d+;t=\d+$/);
  const denial = limitedDenial(policy, d);
  assert.equal(denial.code, 'ARGUS_RATE_LIMITED');
  assert.equal(statusOf(denial.code), 429);
  assert.deepEqual(denial.headers, [
    ['RateLimit-Policy', '"explorer";q=100;w=60'],
    ['RateLimit', '"explorer";r=0;t=7'],
    ['Retry-After', '1'],
  ]);
});

test('policy names are valid structured-field strings', () => {
  const p = limitPolicy({ name: 'we"ird\\tier\u00e9\n', limit: 10 });
  const d: Decision = { allowed: false, limit: 10, remaining: 0, resetS: 2.2, retryAfterS: 0.4, degraded: false };
  const h = asMap(rateLimitHeaders(p, d));
  assert.equal(h.get('RateLimit-Policy'), '"we\\"ird\\\\tier";q=10;w=60');
  assert.equal(h.get('RateLimit'), '"we\\"ird\\\\tier";r=0;t=3');
  assert.equal(h.get('Retry-After'), '1', 'never 0 on a 429');
});

test('tier change takes effect on the next check', () => {
  const { check } = setup();
  const ctx = { tier: 'explorer', user_id: 'alice', features: [], scopes: [], method: 'api_key' as const, key_id: 'k1' };
  const subject = subjectOf(ctx);
  assert.equal(subject, 'k:k1', 'key_id before user_id');
  let d: Decision | undefined;
  for (let i = 0; i < 11; i++) d = check(subject, policyFor(ctx, cfg.tiers));
  assert.equal(d!.allowed, true);
  assert.equal(check(subject, policyFor(ctx, cfg.tiers)).allowed, false, 'explorer bucket empty');
  // The auth cache refreshes with the upgraded record: the next check uses the new policy.
  const upgraded = { ...ctx, tier: 'professional' };
  const policy = policyFor(upgraded, cfg.tiers);
  assert.deepEqual([policy.limit, policy.burst, policy.name], [1000, 50, 'professional']);
  d = check(subject, policy);
  assert.equal(d.allowed, true);
  assert.equal(d.limit, 1000);
  // And back down: the explorer policy refuses again at once.
  assert.equal(check(subject, policyFor(ctx, cfg.tiers)).allowed, false);
});

test('per-record override, unknown tier, route class', () => {
  const custom = policyFor({ tier: 'enterprise', requests_per_minute: 250_000 }, cfg.tiers);
  assert.deepEqual([custom.limit, custom.burst, custom.tier], [250_000, 25_000, 'enterprise']);
  const unknown = policyFor({ tier: 'platinum-hacker' }, cfg.tiers);
  assert.deepEqual([unknown.limit, unknown.tier], [100, 'explorer'], 'unknown tier gets the smallest plan');
  const search = policyFor({ tier: 'professional' }, cfg.tiers, 'search');
  assert.deepEqual([search.name, search.routeClass, search.tier], ['professional.search', 'search', 'professional']);
  assert.equal(subjectOf({ user_id: 'bob' }), 'u:bob');
  assert.throws(() => limitPolicy({ name: 'x', limit: 0 }), TypeError);
});

test('decisions are counted by tier and outcome', async () => {
  const { check, metrics } = setup();
  const policy = policyFor({ tier: 'explorer' }, cfg.tiers);
  for (let i = 0; i < 15; i++) check('u:m', policy);
  const metric = metrics.registry.getSingleMetric('argus_ratelimit_decisions_total');
  const values = (await metric!.get()).values;
  const of = (outcome: string) => values.find((v) => v.labels.tier === 'explorer' && v.labels.outcome === outcome)?.value;
  assert.equal(of('allowed'), 11);
  assert.equal(of('limited'), 4);
});

test('ratelimit.enabled false admits everything', () => {
  const off = parseConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/x', auth: 'none' }], ratelimit: { enabled: false } });
  const limiter = createRateLimiter(off, { metrics: new Metrics({ defaultMetrics: false }), log: createLogger('error') });
  const policy = limitPolicy({ name: 'p', limit: 1, burst: 0 });
  for (let i = 0; i < 5; i++) assert.equal((limiter.check('u:x', policy) as Decision).allowed, true);
});
