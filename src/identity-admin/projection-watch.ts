/**
 * The projection watch: every `intervalMs` (2 s) the worker reads
 * `<prefix>projection:epoch` (src/authenticate/projection.ts). Missing or not
 * complete means Redis lost its data (a restart without persistence, a flush,
 * a failover to an empty replica) or a re-projection died midway: the watch
 * re-projects deny state, then keys, then users from Postgres. The lock in
 * `reproject` (15 s, renewed per batch) lets one replica run at a time; the others see it held and wait
 * for the next tick. Proxies answer 503 for uncached credentials until the
 * epoch is complete again.
 *
 * Metrics: `argus_projection_runs_total{outcome}` (complete, incomplete,
 * locked, failed) and `argus_projection_complete` (1 when the last check found
 * the epoch complete or this watch completed it).
 */
import { Counter, Gauge } from 'prom-client';
import { epochState, projectionKeys } from '../authenticate/projection.js';
import { reproject } from './projection.js';
import type { RedisConfig } from '../clients/redis-schema.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { Pool } from '../clients/postgres.js';
import { closeRedis, createRedis } from '../clients/redis.js';

export interface ProjectionWatch {
  /** One check (and re-projection when needed); tests call it directly. */
  checkOnce(): Promise<'complete' | 'reprojected' | 'skipped'>;
  close(): Promise<void>;
}

export function startProjectionWatch(
  cfg: { readonly redis?: RedisConfig | undefined },
  deps: { pool: Pool; metrics: Metrics; log: Logger; intervalMs?: number },
): ProjectionWatch {
  if (!cfg.redis) throw new Error('projection watch: redis is required');
  const prefix = cfg.redis.key_prefix;
  const log = deps.log.child({ component: 'projection' });
  const intervalMs = deps.intervalMs ?? 2000;
  const redis = createRedis(cfg.redis, { connectionName: 'argus-projection' });
  redis.on('error', () => undefined);
  const registers = [deps.metrics.registry];
  const runs =
    (deps.metrics.registry.getSingleMetric('argus_projection_runs_total') as Counter<'outcome'> | undefined) ??
    new Counter({
      name: 'argus_projection_runs_total',
      help: 'Re-projections of keys, revocations and users into Redis, by outcome (complete, incomplete, locked, failed)',
      labelNames: ['outcome'],
      registers,
    });
  const complete =
    (deps.metrics.registry.getSingleMetric('argus_projection_complete') as Gauge | undefined) ??
    new Gauge({ name: 'argus_projection_complete', help: '1 when Redis holds a complete projection epoch, 0 while it is being restored', registers });
  let running: Promise<'complete' | 'reprojected' | 'skipped'> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  async function check(): Promise<'complete' | 'reprojected' | 'skipped'> {
    if (redis.status !== 'ready') return 'skipped';
    const state = epochState(await redis.get(projectionKeys(prefix).epoch));
    if (state === 'complete') {
      complete.set(1);
      return 'complete';
    }
    complete.set(0);
    log.warn('projection: epoch missing or incomplete, re-projecting from Postgres', { state });
    const started = Date.now();
    try {
      const r = await reproject(deps.pool, redis, prefix);
      if (!r.ran) {
        runs.inc({ outcome: 'locked' });
        return 'skipped';
      }
      runs.inc({ outcome: r.complete ? 'complete' : 'incomplete' });
      if (r.complete) complete.set(1);
      (r.complete ? log.info : log.warn)(r.complete ? 'projection: restored' : 'projection: Redis changed during the run; retrying', {
        revocations: r.revocations,
        keys: r.keys,
        users: r.users,
        ms: Date.now() - started,
      });
      return 'reprojected';
    } catch (err) {
      runs.inc({ outcome: 'failed' });
      log.error('projection: re-projection failed; retrying', { err });
      return 'skipped';
    }
  }

  function checkOnce(): Promise<'complete' | 'reprojected' | 'skipped'> {
    running ??= check()
      .catch((err: unknown) => {
        log.warn('projection: check failed', { err });
        return 'skipped' as const;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => void checkOnce().finally(schedule), intervalMs);
  }
  // First check as soon as Redis is ready, then every interval.
  redis.once('ready', () => void checkOnce());
  schedule();

  let closing: Promise<void> | null = null;
  return {
    checkOnce,
    close() {
      closing ??= (async () => {
        closed = true;
        if (timer) clearTimeout(timer);
        await running?.catch(() => undefined);
        await closeRedis(redis);
      })();
      return closing;
    },
  };
}
