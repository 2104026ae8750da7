/**
 * The worker's upkeep of the ledger's storage: at start and every
 * `billing.ledger.maintenance_interval_ms`, create the daily partitions up to
 * `partition_days_ahead` days ahead and, when `retention_days` is set, drop the
 * days past it (src/billing/ledger.ts). One replica at a time (a session
 * advisory lock); the others skip the round.
 *
 * Metric `argus_ledger_maintenance_runs_total{outcome}`: `ok`, `locked`
 * (another replica ran it), `failed` (logged; retried next round). A ledger
 * whose maintenance keeps failing still takes every insert: rows past the
 * last partition go to the default partition and move into their day's
 * partition once it is created.
 */
import { Counter } from 'prom-client';
import type { Pool } from '../clients/postgres.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { BillingConfig } from './schema.js';
import { dropExpiredPartitions, ensurePartitions } from './ledger.js';

const MAINTENANCE_LOCK = 0x4152_4c50; // "ARLP"

export interface LedgerMaintenance {
  /** One round (tests call it directly). */
  runOnce(): Promise<'ok' | 'locked' | 'failed'>;
  /** Stop the timer and wait for a running round. Idempotent. */
  close(): Promise<void>;
}

export function startLedgerMaintenance(
  cfg: BillingConfig['ledger'],
  deps: { pool: Pool; metrics: Metrics; log: Logger; now?: () => number; timer?: boolean },
): LedgerMaintenance {
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ component: 'ledger' });
  const r = deps.metrics.registry;
  const runs =
    (r.getSingleMetric('argus_ledger_maintenance_runs_total') as Counter<'outcome'> | undefined) ??
    new Counter({
      name: 'argus_ledger_maintenance_runs_total',
      help: 'Ledger partition upkeep rounds (create ahead, drop past retention), by outcome (ok, locked, failed)',
      labelNames: ['outcome'],
      registers: [r],
    });
  let running: Promise<'ok' | 'locked' | 'failed'> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  async function round(): Promise<'ok' | 'locked' | 'failed'> {
    const client = await deps.pool.connect();
    try {
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MAINTENANCE_LOCK]);
      if (!got.rows[0]?.ok) return 'locked';
      try {
        const created = await ensurePartitions(deps.pool, { daysAhead: cfg.partition_days_ahead, nowMs: now() });
        const dropped = cfg.retention_days > 0 ? await dropExpiredPartitions(deps.pool, { retentionDays: cfg.retention_days, nowMs: now() }) : [];
        if (created.length + dropped.length > 0) log.info('ledger: partitions maintained', { created, dropped });
        return 'ok';
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  function runOnce(): Promise<'ok' | 'locked' | 'failed'> {
    running ??= round()
      .catch((err: unknown) => {
        log.error('ledger: partition maintenance failed; retrying next round', { err });
        return 'failed' as const;
      })
      .then((outcome) => {
        runs.inc({ outcome });
        return outcome;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => void runOnce().finally(schedule), cfg.maintenance_interval_ms);
    timer.unref();
  }
  if (deps.timer !== false) void runOnce().finally(schedule);

  let closing: Promise<void> | null = null;
  return {
    runOnce,
    close() {
      closing ??= (async () => {
        closed = true;
        if (timer) clearTimeout(timer);
        await running?.catch(() => undefined);
      })();
      return closing;
    },
  };
}
