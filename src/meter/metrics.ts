/**
 * Metering metrics (names fixed by the chart's dashboard and alerts, see docs/contract.md, "Metric names"),
 * registered on the process's `Metrics.registry`. Get-or-create, so several
 * meters or workers in one process (tests, threads) share the series.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Metrics } from '../observe/metrics.js';

export type UsageOutcome = 'spooled' | 'unspooled' | 'queued' | 'replayed' | 'acked';

export interface MeterMetrics {
  readonly events: Counter<'outcome'>;
  readonly spoolBytes: Gauge;
  /** write(2) calls to the spool: one per event-loop turn that recorded something. */
  readonly spoolWrites: Counter;
  /**
   * argus_usage_buffer_events is read from its sources when scraped, not set per
   * event: a prom-client set() on every request cost more than recording the event.
   * Returns the function that removes the source.
   */
  addBufferSource(count: () => number): () => void;
}

const bufferSources = new WeakMap<Registry, Set<() => number>>();

export interface WorkerMetrics {
  readonly ledgerInserted: Counter;
  readonly stripeReported: Counter<'outcome'>;
  readonly lag: Gauge<'stage'>;
}

function getOr<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function meterMetrics(metrics: Metrics): MeterMetrics {
  const r = metrics.registry;
  const registers = [r];
  return {
    events: getOr(
      r,
      'argus_usage_events_total',
      () =>
        new Counter({
          name: 'argus_usage_events_total',
          help: 'Usage events by outcome: spooled (in the local spool), unspooled (spool write failed: not crash-safe), queued (sent), replayed (sent again: Redis lost it), acked (the ledger has it)',
          labelNames: ['outcome'],
          registers,
        }),
    ),
    spoolWrites: getOr(
      r,
      'argus_usage_spool_writes_total',
      () =>
        new Counter({
          name: 'argus_usage_spool_writes_total',
          help: 'write(2) calls to the usage spool (one per event-loop turn that recorded usage)',
          registers,
        }),
    ),
    spoolBytes: getOr(
      r,
      'argus_usage_spool_bytes',
      () => new Gauge({ name: 'argus_usage_spool_bytes', help: 'Bytes of usage batches waiting in the local spool', registers }),
    ),
    addBufferSource(count) {
      let sources = bufferSources.get(r);
      if (sources === undefined) {
        const own = new Set<() => number>();
        bufferSources.set(r, (sources = own));
        getOr(
          r,
          'argus_usage_buffer_events',
          () =>
            new Gauge({
              name: 'argus_usage_buffer_events',
              help: 'Usage events held in memory, not yet queued or spooled',
              registers,
              collect() {
                let n = 0;
                for (const c of own) n += c();
                this.set(n);
              },
            }),
        );
      }
      sources.add(count);
      return () => sources.delete(count);
    },
  };
}

export function workerMetrics(metrics: Metrics): WorkerMetrics {
  const r = metrics.registry;
  const registers = [r];
  return {
    ledgerInserted: getOr(
      r,
      'argus_ledger_inserted_total',
      () => new Counter({ name: 'argus_ledger_inserted_total', help: 'Usage events newly written to the ledger (duplicates not counted)', registers }),
    ),
    stripeReported: getOr(
      r,
      'argus_stripe_reported_total',
      () =>
        new Counter({
          name: 'argus_stripe_reported_total',
          help: 'Stripe meter events by outcome: accepted, duplicate, retry (429/5xx/network), rejected',
          labelNames: ['outcome'],
          registers,
        }),
    ),
    lag: getOr(
      r,
      'argus_usage_lag_seconds',
      () =>
        new Gauge({
          name: 'argus_usage_lag_seconds',
          help: 'now - oldest event not yet processed, by stage: ledger (queue to Postgres), stripe (unreported rows)',
          labelNames: ['stage'],
          registers,
        }),
    ),
  };
}
