/**
 * The grace sweeper: every `billing.sweep_interval_ms`, owners whose past_due
 * subscription's grace (`billing.past_due_grace_s`) has ended but who still hold
 * its plan fall to `billing.inactive_tier`, without waiting for another Stripe
 * event. It decides from the stored subscriptions (Stripe may be unreachable);
 * the next webhook or sync re-reads Stripe anyway. It also refreshes the
 * subscriptions-by-status gauge.
 */
import { tierRanks } from '../../billing/effective-tier.js';
import type { ServiceDeps } from '../services/deps.js';
import { refreshOwner } from './apply.js';
import type { BillingMetrics } from './metrics.js';
import { inTransaction } from './service.js';
import { customerOf, graceEnded, subscriptionsOf } from './store.js';
import type { StripeSubscription } from './stripe-api.js';

export interface Sweeper {
  /** One pass now (tests); resolves to the owners moved. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

export function startGraceSweeper(deps: ServiceDeps, metrics: BillingMetrics | null, intervalMs: number): Sweeper {
  let running: Promise<number> | null = null;
  let closed: Promise<void> | null = null;
  const sweep = (): Promise<number> => {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  };
  async function pass(): Promise<number> {
    const now = new Date(deps.now());
    const owners = await graceEnded(deps.pool, deps.cfg.billing.past_due_grace_s, now);
    let moved = 0;
    for (const owner of owners) {
      const customer = await customerOf(deps.pool, owner);
      if (customer === null) continue;
      const stored = async (): Promise<StripeSubscription[]> =>
        (await subscriptionsOf(deps.pool, owner)).map((r) => ({
          id: r.subscription_id,
          customer: r.stripe_customer,
          status: r.status,
          lookup_key: r.price_lookup_key,
          created: r.stripe_created ? Math.floor(r.stripe_created.getTime() / 1000) : 0,
          current_period_end: r.current_period_end ? Math.floor(r.current_period_end.getTime() / 1000) : null,
          cancel_at_period_end: r.cancel_at_period_end,
        }));
      const changes = await inTransaction(deps, (tx) =>
        refreshOwner(tx, owner, customer, stored, {
          billing: deps.cfg.billing,
          rank: tierRanks(deps.cfg.tiers),
          now,
          actor: 'billing:sweeper',
          action: 'billing.grace_ended',
        }),
      );
      if (changes !== null && changes.length > 0) moved++;
    }
    metrics?.lapsed(moved);
    if (metrics) {
      const r = await deps.pool.query<{ status: string; n: string }>('SELECT status, count(*)::text AS n FROM subscriptions GROUP BY status');
      metrics.subscriptions(new Map(r.rows.map((x) => [x.status, Number(x.n)])));
    }
    return moved;
  }
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => deps.log.warn('billing: grace sweep failed; retrying next interval', { err }));
  }, intervalMs);
  timer.unref();
  return {
    sweep,
    close() {
      closed ??= (async () => {
        clearInterval(timer);
        await running?.catch(() => undefined);
      })();
      return closed;
    },
  };
}
