/**
 * `/v1/billing/*` (checkout, portal, subscription, sync) and `POST /v1/usage/events`
 * on the internal listener; the Stripe webhook on the public listener
 * ({@link billingPublicRoutes}: Stripe authenticates by signature, not with a
 * credential, so it is not under the API's authenticator).
 */
import { z } from '@hono/zod-openapi';
import type { Hono } from 'hono';
import * as billing from '../billing/service.js';
import { recordUsageEvents, type UsageEventInput } from '../billing/usage-events.js';
import { handleWebhook } from '../billing/webhook.js';
import type { ServiceDeps } from '../services/deps.js';
import { op, type Api } from './http.js';

const id = z.string().min(1).max(256);
const url = z.string().url().max(2048);

export const OwnerQuery = z.object({
  org_id: id.optional().openapi({ description: 'Act for this org (caller: its owner or admin)' }),
  user_id: id.optional().openapi({ description: 'Act for this user (platform admins); default: the caller' }),
});

export const CheckoutRequest = OwnerQuery.extend({
  plan: z.string().min(1).max(63).openapi({ description: 'A plan name from billing.plans' }),
  interval: z.enum(['monthly', 'yearly']).optional(),
  success_url: url,
  cancel_url: url,
})
  .strict()
  .openapi('CheckoutRequest');
export const CheckoutSession = z
  .object({ url: z.string(), session_id: z.string(), stripe_customer: z.string() })
  .openapi('CheckoutSession', { description: 'Open `url` in the browser: Stripe-hosted checkout' });
const PortalRequest = OwnerQuery.extend({ return_url: url }).strict().openapi('PortalRequest');
const PortalSession = z.object({ url: z.string() }).openapi('PortalSession');
export const Subscription = z
  .object({
    owner: z.object({ kind: z.enum(['user', 'org']), id: z.string() }),
    stripe_customer: z.string().nullable(),
    tier: z.string().nullable(),
    plan: z.string().nullable(),
    subscriptions: z.array(
      z.object({
        id: z.string(),
        status: z.string(),
        plan: z.string().nullable(),
        price_lookup_key: z.string().nullable(),
        current_period_end: z.string().nullable(),
        cancel_at_period_end: z.boolean(),
        past_due_since: z.string().nullable(),
      }),
    ),
  })
  .openapi('Subscription');

export const UsageEventIn = z
  .object({
    id: z.string().min(1).max(128).openapi({ description: 'Your id for this event, unique per user: a retry with the same id is the same event' }),
    kind: z.enum(['request', 'llm', 'trading']),
    user_id: id,
    key_id: id.optional().openapi({
      description:
        "The API key the usage was made with (the sidecar sends it upstream as `x-argus-key-id`); it must be the user's. Usage of an org's key is billed to the org",
    }),
    quantity: z.number().nonnegative().finite().optional(),
    occurred_at: z.union([z.string().datetime({ offset: true }), z.number().int().nonnegative()]).optional(),
    service: z.string().min(1).max(100).optional(),
    route: z.string().min(1).max(200).optional(),
    provider: z.string().min(1).max(100).optional(),
    model: z.string().min(1).max(200).optional(),
    input_tokens: z.number().int().nonnegative().optional(),
    output_tokens: z.number().int().nonnegative().optional(),
    cost_usd: z.number().nonnegative().finite().optional(),
    exchange: z.string().min(1).max(100).optional(),
    symbol: z.string().min(1).max(100).optional(),
    trading_type: z.enum(['trade', 'data_stream', 'backtest']).optional(),
    value_usd: z.number().nonnegative().finite().optional(),
  })
  .strict()
  .openapi('UsageEventInput');
const UsageEventsRequest = z
  .object({ events: z.array(UsageEventIn).min(1).max(1000) })
  .strict()
  .openapi('UsageEventsRequest');
export const UsageEventsAccepted = z.object({ accepted: z.number().int(), event_ids: z.array(z.string()) }).openapi('UsageEventsAccepted');

export function billingRoutes(app: Api, deps: () => ServiceDeps): void {
  const tag = 'billing';
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/billing/checkout',
      operationId: 'createCheckoutSession',
      summary: 'Start a Stripe Checkout for a plan (creates and binds the Stripe customer first)',
      tag,
      body: CheckoutRequest,
      response: CheckoutSession,
      status: 201,
    },
    (i) => billing.checkout(i.deps, i.actor, i.body as z.infer<typeof CheckoutRequest>),
  );
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/billing/portal',
      operationId: 'createPortalSession',
      summary: "Open the Stripe Billing Portal for the caller's (or an org's) customer",
      tag,
      body: PortalRequest,
      response: PortalSession,
      status: 201,
    },
    (i) => billing.portal(i.deps, i.actor, i.body as z.infer<typeof PortalRequest>),
  );
  op(
    app,
    deps,
    {
      method: 'get',
      path: '/v1/billing/subscription',
      operationId: 'getSubscription',
      summary: 'The subscriptions, plan and tier of the caller (or an org)',
      tag,
      query: OwnerQuery,
      response: Subscription,
    },
    (i) => billing.getSubscription(i.deps, i.actor, i.query as z.infer<typeof OwnerQuery>),
  );
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/billing/sync',
      operationId: 'syncSubscription',
      summary: 'Re-read the subscriptions from Stripe now and apply them (the checkout success page)',
      tag,
      body: OwnerQuery.strict().openapi('SyncRequest'),
      response: Subscription,
    },
    (i) => billing.sync(i.deps, i.actor, i.body as z.infer<typeof OwnerQuery>),
  );
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/usage/events',
      operationId: 'recordUsageEvents',
      summary: 'Record usage metered outside the sidecar (batch; into the same ledger and Stripe meters)',
      tag,
      body: UsageEventsRequest,
      response: UsageEventsAccepted,
      status: 201,
    },
    (i) => recordUsageEvents(i.deps, i.actor, i.body as { events: UsageEventInput[] }),
  );
}

/** Largest webhook body read (Stripe's events are far smaller). */
const MAX_WEBHOOK_BYTES = 1024 * 1024;

/** `POST /v1/billing/stripe/webhook` on the public listener: the raw body goes to signature verification untouched. */
export function billingPublicRoutes(app: Hono, deps: () => ServiceDeps): void {
  app.post('/v1/billing/stripe/webhook', async (c) => {
    const length = Number(c.req.header('content-length') ?? '0');
    if (length > MAX_WEBHOOK_BYTES) return c.json({ received: false, error: 'body too large' }, 413);
    const raw = Buffer.from(await c.req.arrayBuffer());
    if (raw.length > MAX_WEBHOOK_BYTES) return c.json({ received: false, error: 'body too large' }, 413);
    const answer = await handleWebhook(deps(), raw, c.req.header('stripe-signature'));
    return c.json(answer.body, answer.status);
  });
}
