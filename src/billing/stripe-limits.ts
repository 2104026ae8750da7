/**
 * What Stripe accepts, and what happens to what it would not (used by
 * stripe-reporter.ts; tables from migration 006_stripe_units):
 *
 * - Timestamps: Stripe takes meter events from the past 35 days up to 5 minutes
 *   ahead. Rows are sent while they are younger than 35 days less
 *   {@link SEND_MARGIN_S} (the time a claimed report may wait before it goes
 *   out). Older rows, and rows stamped more than 5 minutes ahead of the worker's
 *   clock (a sidecar clock gone wrong: they are dead-lettered, not clamped, so
 *   nothing is billed at a time it did not happen), are marked `unbillable_at` /
 *   `unbillable_reason` (`too_old` | `future_timestamp`) with an error log line,
 *   `argus_usage_unbillable_total{reason}` and `argus_usage_unbillable_events`;
 *   `argus-sidecar usage unbillable` lists them.
 * - Identifier dedupe lasts about 24 h at Stripe: a report whose first attempt is
 *   older than {@link REVIEW_AFTER_S} is parked (`review_at`) instead of resent,
 *   shown by `argus_stripe_review_reports` and `argus-sidecar usage review`.
 */
import { Counter, Gauge } from 'prom-client';
import type { PoolClient } from 'pg';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import { countUnbillable, deadLetterRows } from './ledger.js';

export const STRIPE_MAX_AGE_S = 35 * 86400;
export const STRIPE_MAX_AHEAD_S = 5 * 60;
/** A claimed report goes out within a cycle or a few backoffs; an hour inside Stripe's limit leaves room. */
export const SEND_MARGIN_S = 3600;
/** Rows younger than this (seconds) are sent. */
export const SENDABLE_AGE_S = STRIPE_MAX_AGE_S - SEND_MARGIN_S;
/** Stripe deduplicates identifiers for about 24 h: past 20 h a resend could bill twice. */
export const REVIEW_AFTER_S = 20 * 3600;

export interface StripeLimitMetrics {
  readonly unbillable: Counter<'reason'>;
  readonly unbillableEvents: Gauge;
  readonly reviewReports: Gauge;
}

export function stripeLimitMetrics(metrics: Metrics): StripeLimitMetrics {
  const r = metrics.registry;
  const registers = [r];
  const get = <T>(name: string, make: () => T): T => (r.getSingleMetric(name) as T | undefined) ?? make();
  return {
    unbillable: get(
      'argus_usage_unbillable_total',
      () =>
        new Counter({
          name: 'argus_usage_unbillable_total',
          help: 'Usage events dead-lettered because Stripe would refuse their timestamp, by reason (too_old, future_timestamp)',
          labelNames: ['reason'],
          registers,
        }),
    ),
    unbillableEvents: get(
      'argus_usage_unbillable_events',
      () =>
        new Gauge({
          name: 'argus_usage_unbillable_events',
          help: 'Dead-lettered usage events in the ledger (argus-sidecar usage unbillable lists them)',
          registers,
        }),
    ),
    reviewReports: get(
      'argus_stripe_review_reports',
      () =>
        new Gauge({
          name: 'argus_stripe_review_reports',
          help: 'Stripe meter reports parked for review: first attempted over 20 h ago, not resent blind (argus-sidecar usage review)',
          labelNames: [],
          registers,
        }),
    ),
  };
}

/**
 * Dead-letter unreported, unclaimed rows Stripe would refuse for their
 * timestamp. Rows without a Stripe customer are never billed and are left alone. Returns rows marked.
 */
export async function deadLetter(client: PoolClient, o: { nowS: number; kinds: string[]; log: Logger; m: StripeLimitMetrics }): Promise<number> {
  const groups = await deadLetterRows(client, { nowS: o.nowS, kinds: o.kinds, maxAgeS: SENDABLE_AGE_S, maxAheadS: STRIPE_MAX_AHEAD_S });
  let total = 0;
  for (const g of groups) {
    const n = Number(g.n);
    total += n;
    o.m.unbillable.inc({ reason: g.reason }, n);
    o.log.error('stripe: usage events Stripe would refuse were dead-lettered (list: argus-sidecar usage unbillable)', {
      reason: g.reason,
      events: n,
      oldest: g.first,
      customers: g.customers.slice(0, 20),
      sample_event_ids: g.sample,
    });
  }
  return total;
}

/** Refresh the dead-letter and review gauges (one indexed count each). */
export async function updateLimitGauges(client: PoolClient, m: StripeLimitMetrics): Promise<void> {
  m.unbillableEvents.set(await countUnbillable(client));
  const r = await client.query<{ review: string }>('SELECT count(*) AS review FROM stripe_meter_reports WHERE review_at IS NOT NULL AND accepted_at IS NULL');
  m.reviewReports.set(Number(r.rows[0]?.review ?? 0));
}
