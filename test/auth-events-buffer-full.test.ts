/**
 * The sidecar's auth event buffer is bounded: events that do not fit in one
 * turn's buffer, or that find Redis down, are dropped and counted, never queued
 * without bound; what fits is written to the stream in one pipeline per turn,
 * capped by MAXLEN ~.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createRedisAuthEvents } from '../src/observe/auth-events.js';
import { Metrics } from '../src/observe/metrics.js';
import { dropPrefix, metricValue, SHARED_REDIS, testPrefix, until } from './support/auth-harness.js';

describe('auth events: bounded buffer', () => {
  const prefix = testPrefix('auth-events');
  const redis = new Redis(SHARED_REDIS, { enableOfflineQueue: false });
  after(async () => {
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('writes what fits in the buffer, drops and counts the rest', async () => {
    await until(() => redis.status === 'ready', 'redis ready');
    const metrics = new Metrics({ defaultMetrics: false });
    const key = `${prefix}auth-events`;
    const sink = createRedisAuthEvents({ redis, key, maxLen: 1000, buffer: 3, metrics });
    for (let i = 0; i < 10; i++) sink.emit({ kind: 'refusal', code: 'ARGUS_INVALID_API_KEY', status: 401, route: '/*', request_id: `r${i}` });
    await until(async () => (await redis.xlen(key)) === 3, 'three entries in the stream');
    assert.equal(await metricValue(metrics.registry, 'argus_auth_events_total', { outcome: 'dropped_full' }), 7);
    await until(async () => (await metricValue(metrics.registry, 'argus_auth_events_total', { outcome: 'published' })) === 3, 'published counted');
    const first = ((await redis.xrange(key, '-', '+', 'COUNT', 1)) as Array<[string, string[]]>)[0]!;
    const e = JSON.parse(first[1][1]!) as Record<string, unknown>;
    assert.equal(e['code'], 'ARGUS_INVALID_API_KEY');
    assert.equal(e['request_id'], 'r0');
    assert.equal(typeof e['id'], 'string');
    // The next turn has room again.
    sink.emit({ kind: 'refusal', code: 'ARGUS_RATE_LIMITED', status: 429 });
    await sink.close();
    assert.equal(await redis.xlen(key), 4);
  });

  it('drops and counts events while Redis is unreachable, without waiting', async () => {
    const down = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    down.on('error', () => undefined);
    const metrics = new Metrics({ defaultMetrics: false });
    const sink = createRedisAuthEvents({ redis: down, key: `${prefix}none`, maxLen: 1000, buffer: 100, metrics });
    for (let i = 0; i < 5; i++) sink.emit({ kind: 'refusal', code: 'ARGUS_FORBIDDEN', status: 403 });
    await sink.close();
    assert.equal(await metricValue(metrics.registry, 'argus_auth_events_total', { outcome: 'dropped_unavailable' }), 5);
    down.disconnect();
  });
});
