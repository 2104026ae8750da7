/**
 * Outcome: `x-argus-usage` values are accepted only when well-formed, rejected
 * whole (with a reason, never a throw) otherwise; event ids are deterministic.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { buildUsageEvents } from '../src/meter/build.js';
import { batchJobId, eventId } from '../src/meter/events.js';
import { MAX_USAGE_ITEMS, parseUsageHeader } from '../src/meter/usage-header.js';

test('well-formed reports parse with defaults filled in', () => {
  const r = parseUsageHeader('{"kind":"trading","exchange":"binance","symbol":"BTC-USD","type":"backtest","compute_s":2.5}');
  assert.deepEqual(r, {
    ok: true,
    usage: [{ kind: 'trading', exchange: 'binance', symbol: 'BTC-USD', type: 'backtest', quantity: 1, value_usd: 0, data_bytes: 0, compute_s: 2.5 }],
  });
  const l = parseUsageHeader('[{"kind":"llm","provider":"anthropic","model":"claude-3.5","input_tokens":7,"output_tokens":9},{"kind":"request","quantity":4}]');
  assert.equal(l.ok, true);
  assert.deepEqual(l.ok && l.usage.map((u) => u.kind), ['llm', 'request']);
});

test('malformed reports are rejected with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /JSON/],
    ['{"kind":"request","quantity":-1}', /quantity/],
    ['{"kind":"request","quantity":1,"extra":true}', /unrecognized|extra/i],
    ['{"kind":"request","quantity":1e400}', /quantity/],
    ['{"kind":"llm","provider":"openai","model":"x y","input_tokens":1,"output_tokens":1}', /model/],
    ['{"kind":"llm","provider":"openai","model":"m","input_tokens":1.5,"output_tokens":1}', /input_tokens/],
    ['{"kind":"trading","exchange":"b","symbol":"s","type":"swap"}', /type/],
    ['{"kind":"refund","quantity":1}', /kind|discriminator/i],
    ['{"__proto__":{"kind":"request"},"kind":"request","quantity":1}', /unrecognized/i],
    ['[{"kind":"request","quantity":1},{"kind":"request","quantity":2}]', /more than one/],
    [JSON.stringify(Array.from({ length: MAX_USAGE_ITEMS + 1 }, () => ({ kind: 'request', quantity: 1 }))), /items/],
    ['[]', /empty/],
    ['null', /item/],
    [`{"kind":"request","quantity":1,"p":"${'a'.repeat(5000)}"}`, /bytes/],
  ];
  for (const [value, reason] of cases) {
    const r = parseUsageHeader(value);
    assert.equal(r.ok, false, value.slice(0, 80));
    assert.match((r as { reason: string }).reason, reason, value.slice(0, 80));
  }
});

test('fuzz: random and mutated values never throw and never yield invalid numbers', () => {
  const seeds = [
    '{"kind":"request","quantity":3}',
    '{"kind":"llm","provider":"openai","model":"gpt-4o","input_tokens":10,"output_tokens":20,"cost_usd":0.1}',
    '[{"kind":"trading","exchange":"x","symbol":"y","type":"trade","quantity":1,"value_usd":5}]',
  ];
  const alphabet = '{}[]":,.-+eE0123456789abcdefghijklmnopqrstuvwxyz_\\u0000\u00ff\u2028 ';
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    let value: string;
    if (i % 3 === 0) value = randomBytes(1 + (i % 64)).toString('latin1');
    else {
      const chars = [...(seeds[i % seeds.length] as string)];
      const edits = 1 + (i % 4);
      for (let e = 0; e < edits; e++) {
        const at = (i * 7919 + e * 104729) % (chars.length + 1);
        chars.splice(at, i % 2, alphabet[(i + e * 31) % alphabet.length] as string);
      }
      value = chars.join('');
    }
    const r = parseUsageHeader(value);
    if (r.ok) {
      accepted++;
      for (const item of r.usage) {
        for (const v of Object.values(item)) if (typeof v === 'number') assert.ok(Number.isFinite(v) && v >= 0, value);
      }
    } else assert.equal(typeof r.reason, 'string');
  }
  assert.ok(accepted < 3000);
});

test('event ids are deterministic per (request, kind, discriminator) and batch ids follow the first event', () => {
  assert.equal(eventId('r1', 'request'), eventId('r1', 'request'));
  assert.notEqual(eventId('r1', 'request'), eventId('r1', 'llm'));
  assert.notEqual(eventId('r1', 'llm', 'h0'), eventId('r1', 'llm', 'h1'));
  assert.notEqual(eventId('r1', 'request'), eventId('r2', 'request'));
  assert.match(eventId('r1', 'request'), /^ev_[A-Za-z0-9_-]{32}$/);
  const facts = {
    requestId: 'req-9',
    route: { path: '/v1/x' },
    service: 's',
    auth: undefined,
    method: 'GET',
    status: 200,
    bytesIn: 1,
    bytesOut: 2,
    latencyMs: 3,
    occurredAt: 1_700_000_000_000,
  };
  const a = buildUsageEvents(facts).events;
  const b = buildUsageEvents(facts).events;
  assert.deepEqual(a, b);
  assert.equal(batchJobId(a), batchJobId(b));
  assert.doesNotMatch(batchJobId(a), /:/);
});

test('a rejected header meters only the route and reports why', () => {
  const r = buildUsageEvents({
    requestId: 'req-10',
    route: { path: '/v1/x', meter: false },
    service: 's',
    auth: undefined,
    method: 'GET',
    status: 200,
    bytesIn: 1,
    bytesOut: 2,
    latencyMs: 3,
    occurredAt: 1,
    usageHeader: '{"kind":"request","quantity":"lots"}',
  });
  assert.deepEqual(r.events, []);
  assert.match(r.headerError ?? '', /quantity/);
});
