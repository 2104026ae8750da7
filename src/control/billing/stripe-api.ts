/**
 * The Stripe calls of the billing service, behind a small interface: customers,
 * prices by lookup key, subscriptions, Checkout and Billing Portal sessions, and
 * webhook verification. The real implementation is the official `stripe`
 * package (pointed at `stripe.base_url` when set); expected refusals come back
 * as values, network faults and 5xx throw.
 */
import Stripe from 'stripe';
import type { StripeConfig } from '../../meter/schema.js';

/** A user or an org: who a customer, a subscription and a tier belong to. */
export interface Owner {
  readonly kind: 'user' | 'org';
  readonly id: string;
}

/** `user:u1` / `org:o1`: the form in `client_reference_id` and customer metadata. */
export function ownerRef(o: Owner): string {
  return `${o.kind}:${o.id}`;
}

export function parseOwnerRef(ref: unknown): Owner | null {
  if (typeof ref !== 'string') return null;
  const m = /^(user|org):([\x21-\x7e]{1,256})$/.exec(ref);
  return m ? { kind: m[1] as Owner['kind'], id: m[2]! } : null;
}

/** One subscription as re-read from Stripe. */
export interface StripeSubscription {
  readonly id: string;
  readonly customer: string;
  readonly status: string;
  readonly lookup_key: string | null;
  readonly created: number;
  readonly current_period_end: number | null;
  readonly cancel_at_period_end: boolean;
}

/** A verified webhook event: what the service reads of it. */
export interface VerifiedEvent {
  readonly id: string;
  readonly type: string;
  readonly created: number;
  /** `data.object.customer` (string or expanded), when the object has one. */
  readonly customer: string | null;
  /** `data.object.client_reference_id` of a Checkout Session. */
  readonly client_reference_id: string | null;
}

export type VerifyOutcome = { ok: true; event: VerifiedEvent } | { ok: false; reason: string };

export interface BillingStripe {
  createCustomer(owner: Owner, email: string | null): Promise<string>;
  /** The active price with this lookup key, or null. */
  priceId(lookupKey: string): Promise<string | null>;
  createCheckoutSession(p: { customer: string; price: string; owner: Owner; success_url: string; cancel_url: string }): Promise<{ id: string; url: string }>;
  createPortalSession(p: { customer: string; return_url: string }): Promise<{ url: string }>;
  /** Every subscription of the customer, canceled ones included. */
  subscriptions(customer: string): Promise<StripeSubscription[]>;
  /** Verify a delivery's signature on its raw body (HMAC-SHA256, `tolerance_s`). */
  verify(raw: Buffer, signature: string | undefined): VerifyOutcome;
  close(): Promise<void>;
}

export interface BillingStripeOptions {
  readonly stripe: StripeConfig;
  readonly webhookSecret: string;
  readonly toleranceS: number;
}

export function createBillingStripe(opts: BillingStripeOptions): BillingStripe {
  const target = opts.stripe.base_url ? new URL(opts.stripe.base_url) : null;
  const stripe = new Stripe(opts.stripe.api_key, {
    // Reads and session creates are retried by the caller (the webhook is redelivered; the user clicks again).
    maxNetworkRetries: 1,
    timeout: opts.stripe.timeout_ms,
    telemetry: false,
    ...(target
      ? {
          host: target.hostname,
          port: target.port || (target.protocol === 'http:' ? 80 : 443),
          protocol: target.protocol === 'http:' ? 'http' : 'https',
        }
      : {}),
  });
  let closed: Promise<void> | null = null;

  return {
    async createCustomer(owner, email) {
      const c = await stripe.customers.create({ metadata: { argus_owner: ownerRef(owner) }, ...(email ? { email } : {}) });
      return c.id;
    },
    async priceId(lookupKey) {
      const list = await stripe.prices.list({ lookup_keys: [lookupKey], active: true, limit: 1 });
      return list.data[0]?.id ?? null;
    },
    async createCheckoutSession(p) {
      const s = await stripe.checkout.sessions.create({
        mode: 'subscription',
        customer: p.customer,
        client_reference_id: ownerRef(p.owner),
        line_items: [{ price: p.price, quantity: 1 }],
        success_url: p.success_url,
        cancel_url: p.cancel_url,
        metadata: { argus_owner: ownerRef(p.owner) },
      });
      if (!s.url) throw new Error('stripe: checkout session without a url');
      return { id: s.id, url: s.url };
    },
    async createPortalSession(p) {
      const s = await stripe.billingPortal.sessions.create({ customer: p.customer, return_url: p.return_url });
      return { url: s.url };
    },
    async subscriptions(customer) {
      const out: StripeSubscription[] = [];
      for await (const s of stripe.subscriptions.list({ customer, status: 'all', limit: 100 })) out.push(toSubscription(s));
      return out;
    },
    verify(raw, signature) {
      if (!signature) return { ok: false, reason: 'no Stripe-Signature header' };
      let ev: Stripe.Event;
      try {
        ev = stripe.webhooks.constructEvent(raw, signature, opts.webhookSecret, opts.toleranceS);
      } catch (err) {
        return { ok: false, reason: (err as Error).message.split('\n')[0]!.slice(0, 200) };
      }
      const obj = (ev.data?.object ?? {}) as { customer?: unknown; client_reference_id?: unknown };
      const customer =
        typeof obj.customer === 'string'
          ? obj.customer
          : typeof (obj.customer as { id?: unknown })?.id === 'string'
            ? (obj.customer as { id: string }).id
            : null;
      return {
        ok: true,
        event: {
          id: ev.id,
          type: ev.type,
          created: ev.created,
          customer,
          client_reference_id: typeof obj.client_reference_id === 'string' ? obj.client_reference_id : null,
        },
      };
    },
    close() {
      closed ??= Promise.resolve();
      return closed;
    },
  };
}

function toSubscription(s: Stripe.Subscription): StripeSubscription {
  const item = s.items.data[0];
  return {
    id: s.id,
    customer: typeof s.customer === 'string' ? s.customer : s.customer.id,
    status: s.status,
    lookup_key: item?.price.lookup_key ?? null,
    created: s.created,
    current_period_end: item?.current_period_end ?? null,
    cancel_at_period_end: s.cancel_at_period_end,
  };
}
