/**
 * Is Redis configured so BullMQ keeps the jobs it accepted? Checked by the
 * sidecar's usage queue at start and on every reconnect (src/meter/queue.ts).
 *
 * `maxmemory-policy` must be `noeviction`: any other policy lets Redis drop
 * queued jobs under memory pressure. Persistence (`appendonly`, `save`) is
 * optional for usage: the sidecar keeps every batch in its spool until the
 * ledger has it, and sends again whatever Redis forgot (docs/metering.md).
 *
 * Metric `argus_redis_config_ok{component}`: 1 when the policy is `noeviction`,
 * 0 when it is not or cannot be read (CONFIG disabled on a managed Redis): then a
 * warning says what to check.
 */
import { Gauge } from 'prom-client';
import type { Redis } from 'ioredis';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';

export function redisConfigGauge(metrics: Metrics): Gauge<'component'> {
  const r = metrics.registry;
  return (
    (r.getSingleMetric('argus_redis_config_ok') as Gauge<'component'> | undefined) ??
    new Gauge({
      name: 'argus_redis_config_ok',
      help: 'Redis maxmemory-policy is noeviction (1), or is not / could not be read (0)',
      labelNames: ['component'],
      registers: [r],
    })
  );
}

/** Never rejects. Resolves with the policy read ('' when it could not be read). */
export async function checkRedisConfig(redis: Pick<Redis, 'config'>, log: Logger, metrics: Metrics, component: string): Promise<string> {
  const gauge = redisConfigGauge(metrics);
  let policy = '';
  let persistence = '';
  try {
    const p = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = String(p[1] ?? '');
    const aof = (await redis.config('GET', 'appendonly')) as string[];
    const save = (await redis.config('GET', 'save')) as string[];
    persistence = `appendonly=${aof[1] ?? '?'} save="${save[1] ?? ''}"`;
  } catch (err) {
    gauge.set({ component }, 0);
    log.warn('redis config: could not read maxmemory-policy (CONFIG disabled?); make sure it is noeviction, or Redis may evict queued usage jobs', {
      err,
      component,
    });
    return '';
  }
  if (policy === 'noeviction') {
    gauge.set({ component }, 1);
    log.info('redis config: maxmemory-policy noeviction', { component, persistence });
  } else {
    gauge.set({ component }, 0);
    log.warn(
      `redis config: maxmemory-policy is "${policy}", not "noeviction": Redis may evict queued usage jobs (the spool re-sends them, but set noeviction)`,
      { component, policy, persistence },
    );
  }
  return policy;
}
