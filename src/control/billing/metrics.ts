/**
 * Billing metrics of the control process (docs/metrics.md, "Billing"): webhook
 * outcomes, the time from a webhook's receipt to its projection in Redis, the
 * stored subscriptions by status, and the grace sweeper's work.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../../observe/metrics.js';

export const WEBHOOK_OUTCOMES = ['processed', 'duplicate', 'ignored', 'bad_signature', 'failed', 'not_configured'] as const;
const STATUSES = ['active', 'trialing', 'past_due', 'unpaid', 'canceled', 'incomplete', 'incomplete_expired', 'paused'] as const;

export interface BillingMetrics {
  webhook(outcome: string, projectedAfterS?: number): void;
  /** Stored subscriptions per Stripe status (statuses absent from `counts` are 0). */
  subscriptions(counts: ReadonlyMap<string, number>): void;
  lapsed(n: number): void;
}

export function createBillingMetrics(metrics: Metrics): BillingMetrics {
  const registers = [metrics.registry];
  const webhooks = new Counter({
    name: 'argus_billing_webhooks_total',
    help: 'Stripe webhook deliveries by outcome (processed, duplicate, ignored, bad_signature, failed, not_configured)',
    labelNames: ['outcome'],
    registers,
  });
  const lag = new Histogram({
    name: 'argus_billing_webhook_projection_seconds',
    help: 'Seconds from receiving a processed Stripe webhook to its tier change being projected into Redis and published',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const subs = new Gauge({
    name: 'argus_billing_subscriptions',
    help: 'Stored Stripe subscriptions by status (as last re-read from Stripe)',
    labelNames: ['status'],
    registers,
  });
  const lapsed = new Counter({
    name: 'argus_billing_grace_lapsed_total',
    help: 'Owners the grace sweeper moved to billing.inactive_tier because a past_due grace ended',
    registers,
  });
  for (const outcome of WEBHOOK_OUTCOMES) webhooks.inc({ outcome }, 0);
  for (const status of STATUSES) subs.set({ status }, 0);
  return {
    webhook(outcome, projectedAfterS) {
      webhooks.inc({ outcome });
      if (projectedAfterS !== undefined) lag.observe(projectedAfterS);
    },
    subscriptions(counts) {
      for (const status of STATUSES) subs.set({ status }, counts.get(status) ?? 0);
    },
    lapsed: (n) => n > 0 && lapsed.inc(n),
  };
}
