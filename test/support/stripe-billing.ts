/**
 * The billing half of the Stripe stand-in (test/support/stripe-server.ts):
 * customers, prices with lookup keys, subscriptions, Checkout Sessions, Billing
 * Portal sessions and signed webhook deliveries, answering the requests the real
 * `stripe` package sends (form bodies and bracketed query strings, Stripe's list
 * envelope and error shape).
 *
 * Test helpers change Stripe's side of the world: {@link BillingStandIn.setSubscription}
 * sets a customer's subscription as Stripe would hold it, {@link BillingStandIn.completeCheckout}
 * plays the customer paying on the hosted page, and {@link BillingStandIn.deliver}
 * posts an event to the webhook endpoint signed exactly as Stripe signs it
 * (`Stripe.webhooks.generateTestHeaderString`: `t=<unix s>,v1=<HMAC-SHA256 of "t.body">`).
 */
import Stripe from 'stripe';

export type SubscriptionStatus = 'active' | 'trialing' | 'past_due' | 'unpaid' | 'canceled' | 'incomplete' | 'incomplete_expired' | 'paused';

export interface CustomerObject {
  id: string;
  object: 'customer';
  created: number;
  email: string | null;
  name: string | null;
  metadata: Record<string, string>;
}

export interface PriceObject {
  id: string;
  object: 'price';
  active: boolean;
  currency: string;
  lookup_key: string;
  unit_amount: number;
  product: string;
  type: 'recurring';
  recurring: { interval: 'month' | 'year'; interval_count: 1 };
}

export interface SubscriptionObject {
  id: string;
  object: 'subscription';
  customer: string;
  status: SubscriptionStatus;
  created: number;
  cancel_at_period_end: boolean;
  metadata: Record<string, string>;
  items: {
    object: 'list';
    has_more: false;
    url: string;
    data: Array<{ id: string; object: 'subscription_item'; price: PriceObject; quantity: 1; current_period_start: number; current_period_end: number }>;
  };
}

export interface CheckoutSessionObject {
  id: string;
  object: 'checkout.session';
  url: string;
  mode: string;
  status: 'open' | 'complete';
  customer: string | null;
  client_reference_id: string | null;
  success_url: string | null;
  cancel_url: string | null;
  subscription: string | null;
  metadata: Record<string, string>;
  /** The request's `line_items` as sent (not part of Stripe's object; kept for assertions). */
  line_items_params: Array<{ price: string; quantity: number }>;
}

/** One API call the stand-in answered: method, path and decoded params, in arrival order. */
export interface StripeCall {
  readonly method: string;
  readonly path: string;
  readonly params: Record<string, unknown>;
}

export interface DeliverOptions {
  /** Sign with this secret instead of the configured one. */
  secret?: string;
  /** Unix seconds for the signature (default now). */
  timestamp?: number;
  /** Change the body after signing it (an altered payload). */
  tamper?: (body: string) => string;
}

export interface BillingStandIn {
  readonly customers: Map<string, CustomerObject>;
  readonly prices: Map<string, PriceObject>;
  readonly subscriptions: Map<string, SubscriptionObject>;
  readonly checkoutSessions: Map<string, CheckoutSessionObject>;
  readonly portalSessions: Map<string, { id: string; customer: string; return_url: string | null; url: string }>;
  /** Every billing API call, in order (meter events are not listed here). */
  readonly calls: StripeCall[];
  /** Where {@link deliver} posts events, and the endpoint's signing secret. */
  webhook: { url: string; secret: string };
  addPrice(lookupKey: string, unitAmount: number, interval?: 'month' | 'year'): PriceObject;
  addCustomer(metadata?: Record<string, string>): CustomerObject;
  /** Create or change the customer's one subscription (by lookup key) as Stripe now holds it. */
  setSubscription(customer: string, state: { status: SubscriptionStatus; lookupKey?: string; id?: string }): SubscriptionObject;
  /** An event as Stripe would send it, around a copy of `object`. */
  event(type: string, object: object, created?: number): StripeEvent;
  /** POST an event to `webhook.url`, signed. */
  deliver(event: StripeEvent | string, opts?: DeliverOptions): Promise<{ status: number; body: string }>;
  /** The next `n` billing API calls answer `status` with Stripe's `api_error` (an outage; 0 ends it). */
  failNext(n: number, status?: 500 | 503): void;
  /** The customer pays: the session's subscription becomes active and `checkout.session.completed` is delivered. */
  completeCheckout(sessionId: string): Promise<{ status: number; body: string; subscription: SubscriptionObject }>;
  /** Answer an API request; undefined when the path is not a billing path. */
  handle(method: string, path: string, query: string, body: string, baseUrl: string): { status: number; body: unknown; type?: string } | undefined;
}

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  type: string;
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  data: { object: object };
}

let seq = 0;
const newId = (prefix: string) => `${prefix}_${Date.now().toString(36)}${(++seq).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const nowS = () => Math.floor(Date.now() / 1000);

export function createBillingStandIn(): BillingStandIn {
  const customers = new Map<string, CustomerObject>();
  const prices = new Map<string, PriceObject>();
  const subscriptions = new Map<string, SubscriptionObject>();
  const checkoutSessions = new Map<string, CheckoutSessionObject>();
  const portalSessions = new Map<string, { id: string; customer: string; return_url: string | null; url: string }>();
  const calls: StripeCall[] = [];
  const webhook = { url: '', secret: 'whsec_test_standin' };
  let failures: { n: number; status: 500 | 503 } = { n: 0, status: 500 };

  function addPrice(lookupKey: string, unitAmount: number, interval: 'month' | 'year' = 'month'): PriceObject {
    const price: PriceObject = {
      id: newId('price'),
      object: 'price',
      active: true,
      currency: 'usd',
      lookup_key: lookupKey,
      unit_amount: unitAmount,
      product: newId('prod'),
      type: 'recurring',
      recurring: { interval, interval_count: 1 },
    };
    prices.set(price.id, price);
    return price;
  }

  function addCustomer(metadata: Record<string, string> = {}, email: string | null = null, name: string | null = null): CustomerObject {
    const c: CustomerObject = { id: newId('cus'), object: 'customer', created: nowS(), email, name, metadata };
    customers.set(c.id, c);
    return c;
  }

  function priceByLookup(lookupKey: string): PriceObject {
    const p = [...prices.values()].find((x) => x.lookup_key === lookupKey);
    if (!p) throw new Error(`stand-in: no price with lookup key ${lookupKey}`);
    return p;
  }

  function makeSubscription(customer: string, price: PriceObject, status: SubscriptionStatus, id = newId('sub')): SubscriptionObject {
    const start = nowS();
    const end = start + (price.recurring.interval === 'year' ? 365 : 30) * 86400;
    return {
      id,
      object: 'subscription',
      customer,
      status,
      created: start,
      cancel_at_period_end: false,
      metadata: {},
      items: {
        object: 'list',
        has_more: false,
        url: `/v1/subscription_items?subscription=${id}`,
        data: [{ id: newId('si'), object: 'subscription_item', price, quantity: 1, current_period_start: start, current_period_end: end }],
      },
    };
  }

  function setSubscription(customer: string, state: { status: SubscriptionStatus; lookupKey?: string; id?: string }): SubscriptionObject {
    const existing = state.id ? subscriptions.get(state.id) : [...subscriptions.values()].find((s) => s.customer === customer);
    const price = state.lookupKey ? priceByLookup(state.lookupKey) : existing?.items.data[0]?.price;
    if (!price) throw new Error('stand-in: setSubscription needs a lookupKey for a new subscription');
    const sub = existing ? { ...existing, status: state.status } : makeSubscription(customer, price, state.status, state.id);
    if (existing && state.lookupKey) sub.items = { ...existing.items, data: [{ ...existing.items.data[0]!, price }] };
    subscriptions.set(sub.id, sub);
    return sub;
  }

  function event(type: string, object: object, created = nowS()): StripeEvent {
    return {
      id: newId('evt'),
      object: 'event',
      api_version: '2026-10-28.endive',
      created,
      type,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object: structuredClone(object) },
    };
  }

  async function deliver(ev: StripeEvent | string, opts: DeliverOptions = {}): Promise<{ status: number; body: string }> {
    const payload = typeof ev === 'string' ? ev : JSON.stringify(ev, null, 2);
    const header = Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: opts.secret ?? webhook.secret,
      ...(opts.timestamp !== undefined && { timestamp: opts.timestamp }),
    });
    const res = await fetch(webhook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'stripe-signature': header,
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      },
      body: opts.tamper ? opts.tamper(payload) : payload,
    });
    return { status: res.status, body: await res.text() };
  }

  async function completeCheckout(sessionId: string) {
    const s = checkoutSessions.get(sessionId);
    if (!s) throw new Error(`stand-in: no checkout session ${sessionId}`);
    const line = s.line_items_params[0];
    const price = line && prices.get(line.price);
    if (!price || !s.customer) throw new Error('stand-in: the session has no price or customer');
    const sub = makeSubscription(s.customer, price, 'active');
    subscriptions.set(sub.id, sub);
    s.status = 'complete';
    s.subscription = sub.id;
    const { line_items_params: _omit, ...object } = s;
    const res = await deliver(event('checkout.session.completed', object));
    return { ...res, subscription: sub };
  }

  const list = (url: string, data: unknown[]) => ({ object: 'list', url, has_more: false, data });
  const missing = (what: string, id: string) => ({
    status: 404,
    body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: `No such ${what}: '${id}'` } },
  });
  const invalid = (param: string, message: string) => ({ status: 400, body: { error: { type: 'invalid_request_error', param, message } } });

  function handle(method: string, path: string, query: string, body: string, baseUrl: string) {
    const params = method === 'GET' ? parseForm(query) : parseForm(body);
    const route = `${method} ${path.replace(/\/(cus|sub|cs|price|bps)_[A-Za-z0-9]+/, '/:id')}`;
    const id = /\/((?:cus|sub|cs|price|bps)_[A-Za-z0-9]+)/.exec(path)?.[1] ?? '';
    const known = [
      'POST /v1/customers',
      'GET /v1/customers/:id',
      'GET /v1/customers',
      'GET /v1/customers/search',
      'GET /v1/prices',
      'GET /v1/subscriptions',
      'GET /v1/subscriptions/:id',
      'POST /v1/checkout/sessions',
      'GET /v1/checkout/sessions/:id',
      'POST /v1/billing_portal/sessions',
    ];
    if (!known.includes(route)) return undefined;
    calls.push({ method, path, params });
    if (failures.n > 0) {
      failures.n--;
      return { status: failures.status, body: { error: { type: 'api_error', message: 'stand-in: injected outage' } } };
    }
    switch (route) {
      case 'POST /v1/customers': {
        const c = addCustomer(strings(params['metadata']), str(params['email']), str(params['name']));
        return { status: 200, body: c };
      }
      case 'GET /v1/customers/:id': {
        const c = customers.get(id);
        return c ? { status: 200, body: c } : missing('customer', id);
      }
      case 'GET /v1/customers': {
        const email = str(params['email']);
        return {
          status: 200,
          body: list(
            '/v1/customers',
            [...customers.values()].filter((c) => email === null || c.email === email),
          ),
        };
      }
      case 'GET /v1/customers/search': {
        // Stripe's search language, the one form used here: metadata['key']:'value' [AND …].
        const terms = [...String(params['query'] ?? '').matchAll(/metadata\[['"]([^'"]+)['"]\]\s*:\s*['"]([^'"]*)['"]/g)].map((m) => [m[1]!, m[2]!] as const);
        if (terms.length === 0) return invalid('query', 'stand-in: only metadata[...] searches are supported');
        const found = [...customers.values()].filter((c) => terms.every(([k, v]) => c.metadata[k] === v));
        return { status: 200, body: { object: 'search_result', url: '/v1/customers/search', has_more: false, next_page: null, data: found } };
      }
      case 'GET /v1/prices': {
        const keys = arr(params['lookup_keys']);
        const found = [...prices.values()].filter(
          (p) => (keys.length === 0 || keys.includes(p.lookup_key)) && (params['active'] === undefined || String(p.active) === params['active']),
        );
        return { status: 200, body: list('/v1/prices', found) };
      }
      case 'GET /v1/subscriptions': {
        const customer = str(params['customer']);
        const status = str(params['status']);
        const found = [...subscriptions.values()].filter(
          (s) =>
            (customer === null || s.customer === customer) &&
            // Stripe's default list leaves canceled subscriptions out; `all` includes them.
            (status === 'all' ? true : status === null ? s.status !== 'canceled' : s.status === status),
        );
        return {
          status: 200,
          body: list(
            '/v1/subscriptions',
            found.sort((a, b) => b.created - a.created),
          ),
        };
      }
      case 'GET /v1/subscriptions/:id': {
        const s = subscriptions.get(id);
        return s ? { status: 200, body: s } : missing('subscription', id);
      }
      case 'POST /v1/checkout/sessions': {
        const items = (Array.isArray(params['line_items']) ? params['line_items'] : []) as Array<Record<string, unknown>>;
        const line = items.map((l) => ({ price: String(l['price'] ?? ''), quantity: Number(l['quantity'] ?? 1) }));
        if (line.length === 0 || !line.every((l) => prices.has(l.price))) return invalid('line_items', 'No such price');
        const customer = str(params['customer']);
        if (customer !== null && !customers.has(customer)) return missing('customer', customer);
        const sid = newId('cs_test');
        const s: CheckoutSessionObject = {
          id: sid,
          object: 'checkout.session',
          url: `${baseUrl}/checkout/pay/${sid}`,
          mode: String(params['mode'] ?? ''),
          status: 'open',
          customer,
          client_reference_id: str(params['client_reference_id']),
          success_url: str(params['success_url']),
          cancel_url: str(params['cancel_url']),
          subscription: null,
          metadata: strings(params['metadata']),
          line_items_params: line,
        };
        if (s.mode !== 'subscription' && s.mode !== 'payment' && s.mode !== 'setup') return invalid('mode', 'Invalid mode');
        checkoutSessions.set(sid, s);
        const { line_items_params: _omit, ...view } = s;
        return { status: 200, body: view };
      }
      case 'GET /v1/checkout/sessions/:id': {
        const s = checkoutSessions.get(id);
        if (!s) return missing('checkout.session', id);
        const { line_items_params: _omit, ...view } = s;
        return { status: 200, body: view };
      }
      case 'POST /v1/billing_portal/sessions': {
        const customer = str(params['customer']);
        if (customer === null || !customers.has(customer)) return missing('customer', customer ?? '');
        const p = { id: newId('bps'), object: 'billing_portal.session', customer, return_url: str(params['return_url']), url: '' };
        p.url = `${baseUrl}/portal/${p.id}`;
        portalSessions.set(p.id, p);
        return { status: 200, body: p };
      }
    }
    return undefined;
  }

  return {
    customers,
    prices,
    subscriptions,
    checkoutSessions,
    portalSessions,
    calls,
    webhook,
    addPrice,
    addCustomer: (metadata) => addCustomer(metadata),
    setSubscription,
    event,
    deliver,
    failNext(n, status = 500) {
      failures = { n, status };
    },
    completeCheckout,
    handle,
  };
}

/** Decode `a[b][0][c]=v` form/query encoding (what stripe-node sends) into nested objects and arrays. */
export function parseForm(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const head = /^[^[]*/.exec(rawKey)![0];
    const parts = [head, ...[...rawKey.slice(head.length).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!)];
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^\d*$/.test(parts[i + 1]!);
      const key: string | number = Array.isArray(node) ? (part === '' ? node.length : Number(part)) : part;
      const bag = node as Record<string | number, unknown>;
      if (last) {
        bag[key] = value;
      } else {
        bag[key] ??= nextIsIndex ? [] : {};
        node = bag[key] as Record<string, unknown> | unknown[];
      }
    }
  }
  return root;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function arr(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (v && typeof v === 'object') return Object.values(v).map(String);
  return typeof v === 'string' ? [v] : [];
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out[k] = String(x);
  return out;
}
