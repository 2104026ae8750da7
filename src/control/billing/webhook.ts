/**
 * `POST /v1/billing/stripe/webhook` (public listener): a Stripe event in, the
 * owner's tier out.
 *
 * 1. The signature is verified on the raw body (`stripe.webhooks.constructEvent`,
 *    `billing.webhook_tolerance_s`, default 300 s). A bad signature, an altered
 *    body or an old timestamp → 400, nothing written, nothing published.
 * 2. Untracked types → 200 `ignored`, nothing written.
 * 3. One transaction: record the event id (a redelivery, or a concurrent
 *    duplicate waiting on the first, → 200 `duplicate`, nothing else); resolve
 *    the owner through `billing_customers`, or for `checkout.session.completed`
 *    through `client_reference_id` (binding the customer); lock the owner;
 *    re-read the customer's subscriptions from Stripe; store them; map status to
 *    tier; update the owner; audit (src/control/billing/apply.ts).
 * 4. After the commit: project and publish the changed rows.
 *
 * A failure inside the transaction rolls it back (the event id too) and answers
 * 500, so Stripe's redelivery processes the event again.
 */
import { tierRanks } from '../../billing/effective-tier.js';
import type { ServiceDeps } from '../services/deps.js';
import { afterCommit } from '../services/tx.js';
import { refreshOwner, type OwnerChange } from './apply.js';
import { bindCustomer, finishEvent, ownerOfCustomer, recordEvent } from './store.js';
import { parseOwnerRef, type BillingStripe, type Owner, type VerifiedEvent } from './stripe-api.js';

/** Event types that can change a subscription's state. Others are acknowledged and ignored. */
export const TRACKED_EVENTS: ReadonlySet<string> = new Set([
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'customer.subscription.trial_will_end',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.payment_succeeded',
]);

export type WebhookOutcome = 'processed' | 'duplicate' | 'ignored' | 'bad_signature' | 'failed' | 'not_configured';

export interface WebhookAnswer {
  readonly status: 200 | 400 | 500 | 503;
  readonly outcome: WebhookOutcome;
  readonly body: { received: boolean; outcome: WebhookOutcome; error?: string };
}

export async function handleWebhook(deps: ServiceDeps, raw: Buffer, signature: string | undefined): Promise<WebhookAnswer> {
  const received = deps.now();
  const answer = (status: WebhookAnswer['status'], outcome: WebhookOutcome, error?: string, projectedAfterS?: number): WebhookAnswer => {
    deps.billing?.onWebhook?.(outcome, projectedAfterS);
    return { status, outcome, body: { received: status === 200, outcome, ...(error !== undefined && { error }) } };
  };
  const stripe = deps.billing?.stripe ?? null;
  if (deps.cfg.billing.webhook_secret === '' || stripe === null) return answer(503, 'not_configured', 'billing.webhook_secret and stripe.api_key must be set');
  const v = stripe.verify(raw, signature);
  if (!v.ok) {
    deps.log.warn('billing: webhook signature refused', { reason: v.reason });
    return answer(400, 'bad_signature', 'signature verification failed');
  }
  const ev = v.event;
  if (!TRACKED_EVENTS.has(ev.type)) return answer(200, 'ignored');
  let result: { outcome: 'processed' | 'duplicate' | 'ignored'; changes: readonly OwnerChange[] };
  try {
    result = await processEvent(deps, stripe, ev);
  } catch (err) {
    deps.log.error('billing: webhook processing failed; Stripe will redeliver', { err, event_id: ev.id, type: ev.type });
    return answer(500, 'failed', 'processing failed');
  }
  if (result.changes.length > 0) await afterCommit(deps, [], result.changes);
  return answer(200, result.outcome, undefined, result.outcome === 'processed' ? (deps.now() - received) / 1000 : undefined);
}

async function processEvent(
  deps: ServiceDeps,
  stripe: BillingStripe,
  ev: VerifiedEvent,
): Promise<{ outcome: 'processed' | 'duplicate' | 'ignored'; changes: readonly OwnerChange[] }> {
  const tx = await deps.pool.connect();
  try {
    await tx.query('BEGIN');
    if (!(await recordEvent(tx, ev, 'processing'))) {
      await tx.query('COMMIT');
      return { outcome: 'duplicate', changes: [] };
    }
    const owner = await resolveOwner(tx, ev);
    if (owner === null || ev.customer === null) {
      await finishEvent(tx, ev.id, owner, 'no_owner');
      await tx.query('COMMIT');
      deps.log.warn('billing: webhook for a customer no owner is bound to', { event_id: ev.id, type: ev.type });
      return { outcome: 'ignored', changes: [] };
    }
    const customer = ev.customer;
    const applied = await refreshOwner(tx, owner, customer, () => stripe.subscriptions(customer), {
      billing: deps.cfg.billing,
      rank: tierRanks(deps.cfg.tiers),
      now: new Date(deps.now()),
      actor: `stripe:${ev.id}`,
      action: `billing.${ev.type}`,
    });
    await finishEvent(tx, ev.id, owner, applied.kind === 'no_owner' ? 'no_owner' : 'processed');
    await tx.query('COMMIT');
    if (applied.kind === 'no_owner') return { outcome: 'ignored', changes: [] };
    return { outcome: 'processed', changes: applied.changes };
  } catch (err) {
    await tx.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    tx.release();
  }
}

/** The customer's bound owner; for a completed checkout, its `client_reference_id` (binding the customer to it). */
async function resolveOwner(tx: Parameters<typeof bindCustomer>[0], ev: VerifiedEvent): Promise<Owner | null> {
  if (ev.customer !== null) {
    const bound = await ownerOfCustomer(tx, ev.customer);
    if (bound !== null) return bound;
  }
  if (ev.type !== 'checkout.session.completed' || ev.customer === null) return null;
  const ref = parseOwnerRef(ev.client_reference_id);
  if (ref === null) return null;
  const customer = await bindCustomer(tx, ref, ev.customer);
  // The owner already had another customer: this session's customer stays unbound.
  return customer === ev.customer ? ref : null;
}
