/** WebSocket message limits per connection and per user (issue 4 §4). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { createMessageLimiter, createRateLimiter, type Decision } from '../src/ratelimit/index.js';

function setup() {
  const clock = { t: 2_000_000 };
  const cfg = parseConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/x', auth: 'none' }], ratelimit: { max_subjects: 1000 } });
  const limiter = createRateLimiter(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: createLogger('error'), now: () => clock.t });
  return { clock, limiter };
}

test('per-connection limit refuses the flooding connection only', () => {
  const { clock, limiter } = setup();
  const msgs = createMessageLimiter(limiter, { perConnection: { limit: 10, windowS: 1, burst: 4 } });
  const send = (conn: string) => (msgs.check(conn, 'alice') as Decision).allowed;
  const a = Array.from({ length: 8 }, () => send('conn-a')).filter(Boolean).length;
  assert.equal(a, 5, 'burst 4 + 1');
  assert.equal(send('conn-b'), true, 'another connection of the same user is unaffected');
  clock.t += 100; // one emission interval (1 s / 10)
  assert.equal(send('conn-a'), true);
  assert.equal(send('conn-a'), false);
});

test('per-user limit caps the sum over all connections', () => {
  const { limiter } = setup();
  const msgs = createMessageLimiter(limiter, { perConnection: { limit: 100, windowS: 1, burst: 100 }, perUser: { limit: 6, windowS: 1, burst: 5 } });
  let admitted = 0;
  for (let i = 0; i < 30; i++) if ((msgs.check(`conn-${i % 3}`, 'bob') as Decision).allowed) admitted++;
  assert.equal(admitted, 6, 'user burst 5 + 1 across three connections');
  assert.equal((msgs.check('conn-9', 'carol') as Decision).allowed, true, 'other users unaffected');
  const refused = msgs.check('conn-0', 'bob') as Decision;
  assert.equal(refused.allowed, false);
  assert.ok(refused.retryAfterS >= 1);
  assert.equal(msgs.perUser?.limit, 6);
});
