/**
 * scope global: sidecars sharing a limit through Redis admit the global amount,
 * not once per sidecar. Two real processes, real Redis (random key prefix),
 * injected clock (ratelimit.clock: local) driven by the test.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { closeRedis, createRedis, type Redis } from '../src/clients/redis.js';
import { createRateLimiter, limitPolicy, type Decision } from '../src/ratelimit/index.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const CHILD_FLAG = '--ratelimit-child';
const policy = limitPolicy({ name: 'p', limit: 120, windowS: 60, burst: 12 });

function configFor(prefix: string, clock: 'local' | 'redis') {
  return parseConfig({
    upstream: { url: 'http://127.0.0.1:1' },
    routes: [{ path: '/x', auth: 'none' }],
    redis: { url: REDIS_URL, key_prefix: prefix },
    // A generous timeout: this test is about sharing, not about degrading on a busy machine.
    ratelimit: { scope: 'global', clock, replicas: 2, redis_timeout_ms: 3000, max_subjects: 1000 },
  });
}

type Msg = { cmd: 'check'; now: number; subject: string } | { cmd: 'close' };

/** A second sidecar process: answers one check per message at the time the parent says. */
async function runChild(): Promise<void> {
  const prefix = process.argv[process.argv.indexOf(CHILD_FLAG) + 1]!;
  const redis = createRedis(REDIS_URL);
  await once(redis, 'ready');
  let t = 0;
  const limiter = createRateLimiter(configFor(prefix, 'local'), {
    redis,
    metrics: new Metrics({ defaultMetrics: false }),
    log: createLogger('error'),
    now: () => t,
  });
  process.on('message', (m: Msg) => {
    void (async () => {
      if (m.cmd === 'check') {
        t = m.now;
        const d = await limiter.check(m.subject, policy);
        process.send!({ allowed: d.allowed, degraded: d.degraded });
      } else {
        await limiter.close();
        await closeRedis(redis);
        process.disconnect();
      }
    })();
  });
  process.send!({ ready: true });
}

if (process.argv.includes(CHILD_FLAG)) {
  await runChild();
} else {
  const prefix = `argus-test-rl-${randomUUID()}:`;
  const children: ChildProcess[] = [];
  let redis: Redis;

  const ask = (child: ChildProcess, m: Msg) => {
    const reply = once(child, 'message') as Promise<[{ allowed: boolean; degraded: boolean }]>;
    child.send(m);
    return reply.then(([r]) => r);
  };

  before(async () => {
    redis = createRedis(REDIS_URL);
    await once(redis, 'ready');
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    for (let i = 0; i < 2; i++) {
      const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, prefix], { env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      await once(child, 'message');
    }
  });

  after(async () => {
    for (const child of children) {
      if (child.connected) {
        child.send({ cmd: 'close' });
        await once(child, 'exit');
      }
    }
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length) await redis.del(...keys);
    await closeRedis(redis);
  });

  for (const factor of [0.5, 1, 3]) {
    test(`two sidecar processes, offered ${factor}× the limit: together they admit the global amount`, async () => {
      const offered = policy.limit * factor;
      const start = 1_700_000_000_000;
      const perChild = [0, 0];
      let degraded = 0;
      for (let i = 0; i < offered; i++) {
        const r = await ask(children[i % 2]!, { cmd: 'check', now: start + (i * 60_000) / offered, subject: `u:rate-${factor}` });
        if (r.allowed) perChild[i % 2]!++;
        if (r.degraded) degraded++;
      }
      assert.equal(degraded, 0, 'Redis was up throughout');
      const total = perChild[0]! + perChild[1]!;
      const allowed = Math.min(offered, policy.limit + policy.burst);
      assert.ok(total <= policy.limit + policy.burst, `admitted ${perChild.join(' + ')} > ${policy.limit + policy.burst}`);
      assert.ok(total >= 0.99 * allowed, `admitted ${total} < 99% of ${allowed}`);
      assert.ok(perChild[0]! > 0 && perChild[1]! > 0);
    });
  }

  test('clock redis (default): two limiter instances share the burst, then refuse with Retry-After', async () => {
    const cfg = configFor(prefix, 'redis');
    const mk = () => createRateLimiter(cfg, { redis, metrics: new Metrics({ defaultMetrics: false }), log: createLogger('error'), now: () => 1_000 });
    const a = mk();
    const b = mk();
    const slow = limitPolicy({ name: 'slow', limit: 6, windowS: 60, burst: 4 }); // one token per 10 s of Redis time
    const decisions: Decision[] = [];
    for (let i = 0; i < 10; i++) decisions.push(await (i % 2 ? b : a).check('u:redis-clock', slow));
    assert.equal(decisions.filter((d) => d.allowed).length, 5, 'burst + 1 across both instances');
    assert.ok(decisions.every((d) => !d.degraded));
    const last = decisions.at(-1)!;
    assert.equal(last.allowed, false);
    assert.ok(last.retryAfterS >= 1 && last.retryAfterS <= 10, `retry after ${last.retryAfterS}`);
    await Promise.all([a.close(), b.close(), a.close()]);
  });
}
