/** Outcome: bad metering/stripe config is refused naming the key; defaults fill the rest. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../src/errors.js';
import { parseConfig } from '../src/config.js';

const base = { upstream: { url: 'http://127.0.0.1:3000' }, routes: [{ path: '/*' }] };

test('invalid metering and stripe keys are named', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ metering: { worker: { lock_ms: 0 } } }, /metering\.worker\.lock_ms/],
    [{ metering: { queue: 'a:b' } }, /metering\.queue/],
    [{ metering: { batch_size: 10 } }, /metering: unknown key\(s\) "batch_size"/],
    [{ stripe: { api_key: 'sk', meters: { refunds: 'x' } } }, /stripe\.meters: unknown key/],
    [{ stripe: { api_key: 'sk', window_s: 30 } }, /stripe\.window_s/],
    [{ stripe: { api_key: 'sk', base_url: 'not a url' } }, /stripe\.base_url/],
  ];
  for (const [extra, message] of cases) {
    assert.throws(
      () => parseConfig({ ...base, ...extra }, {}),
      (err: Error) => err instanceof UsageError && message.test(err.message),
      JSON.stringify(extra),
    );
  }
});

test('defaults: metering on with a bounded buffer; stripe meters per kind; empty key means reporting off', () => {
  const cfg = parseConfig({ ...base, stripe: { api_key: '' } }, {});
  assert.equal(cfg.metering.enabled, true);
  assert.equal(cfg.metering.queue, 'argus-usage');
  assert.ok(cfg.metering.max_buffer_events > cfg.metering.batch_max_events);
  assert.deepEqual(cfg.stripe?.meters, { request: 'argus_requests', llm: 'argus_llm_tokens', trading: 'argus_trading' });
  assert.equal(cfg.stripe?.api_key, '');
  assert.equal(cfg.stripe?.window_s, 3600);
});
