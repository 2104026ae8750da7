/**
 * A local stand-in for Stripe's meter-events endpoint, over real HTTP, for the
 * real `stripe` SDK (pointed at it with host/port/protocol).
 *
 * POST /v1/billing/meter_events, form-encoded as the SDK sends it. Values must be
 * whole numbers and timestamps within the past 35 days and 5 minutes ahead (400
 * otherwise, as Stripe answers). Identifiers
 * are deduplicated as Stripe does: the first request with an identifier is
 * stored; a reuse is answered 400 `resource_already_exists` (or, with
 * `duplicateMode = 'ok'`, 200 with the stored event) and counted only once.
 * `failNext(n, status)` answers the next n calls with 429/500 without storing;
 * `hold(true)` stores events but keeps their responses pending until `hold(false)`
 * (a client killed meanwhile never learns Stripe accepted).
 *
 * Billing objects (customers, prices, subscriptions, Checkout and Portal sessions,
 * signed webhook deliveries) live in `billing` (test/support/stripe-billing.ts);
 * the hosted pages a session URL points at are plain HTML served here.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBillingStandIn, type BillingStandIn } from './stripe-billing.js';

export interface StoredMeterEvent {
  readonly event_name: string;
  readonly identifier: string;
  readonly customer: string;
  readonly value: string;
  readonly timestamp: number;
}

export interface StripeStandIn {
  readonly url: string;
  /** Accepted events by identifier (each counted once, as Stripe would bill). */
  readonly events: Map<string, StoredMeterEvent>;
  /** POSTs seen per identifier, including rejected duplicates and injected failures. */
  readonly attempts: Map<string, number>;
  duplicateMode: 'error' | 'ok';
  failNext(n: number, status: 429 | 500 | 503): void;
  hold(on: boolean): void;
  /** Values refused because they were not whole numbers. */
  readonly rejectedValues: string[];
  /** Customers, prices, subscriptions, sessions and webhook deliveries. */
  readonly billing: BillingStandIn;
  /** Sum of accepted values per (event_name, customer). */
  totals(): Map<string, number>;
  close(): Promise<void>;
}

export async function startStripeStandIn(): Promise<StripeStandIn> {
  const events = new Map<string, StoredMeterEvent>();
  const attempts = new Map<string, number>();
  let failures: Array<429 | 500 | 503> = [];
  let holding = false;
  const rejectedValues: string[] = [];
  let held: Array<() => void> = [];
  const billing = createBillingStandIn();
  let baseUrl = '';

  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => handle(req, res, body),
      () => res.destroy(),
    );
  });

  function send(res: ServerResponse, status: number, obj: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${Math.random().toString(36).slice(2)}` });
    res.end(JSON.stringify(obj));
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const [path = '', query = ''] = (req.url ?? '').split('?', 2);
    if (req.method === 'GET' && /^\/(checkout\/pay|portal)\/[A-Za-z0-9_]+$/.test(path)) {
      // The hosted page a session URL opens (what a browser would see).
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(
        `<!doctype html><title>Stripe stand-in</title><p>${path.startsWith('/portal') ? 'Billing portal' : 'Checkout'} ${path.split('/').pop()}</p>`,
      );
    }
    if (!/^Bearer sk_/.test(req.headers.authorization ?? '')) {
      return send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
    }
    if (req.method !== 'POST' || path !== '/v1/billing/meter_events') {
      const answer = billing.handle(req.method ?? '', path, query, body, baseUrl);
      if (answer) return send(res, answer.status, answer.body);
      return send(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.url})` } });
    }
    const form = new URLSearchParams(body);
    const ev: StoredMeterEvent = {
      event_name: form.get('event_name') ?? '',
      identifier: form.get('identifier') ?? `gen_${Math.random().toString(36).slice(2)}`,
      customer: form.get('payload[stripe_customer_id]') ?? '',
      value: form.get('payload[value]') ?? '',
      timestamp: Number(form.get('timestamp') ?? Math.floor(Date.now() / 1000)),
    };
    attempts.set(ev.identifier, (attempts.get(ev.identifier) ?? 0) + 1);
    const fail = failures.shift();
    if (fail) return send(res, fail, { error: { type: 'api_error', message: fail === 429 ? 'Too many requests' : 'Internal error' } });
    if (!ev.event_name || !ev.customer || !/^-?\d+(\.\d+)?$/.test(ev.value)) {
      return send(res, 400, { error: { type: 'invalid_request_error', message: 'Missing event_name, payload[stripe_customer_id] or numeric payload[value]' } });
    }
    // Stripe meter event values are whole numbers: a decimal is refused, not rounded.
    if (!/^\d+$/.test(ev.value)) {
      rejectedValues.push(ev.value);
      return send(res, 400, {
        error: {
          type: 'invalid_request_error',
          param: 'payload[value]',
          message: `Invalid integer: ${ev.value}. The meter event value must be a whole number.`,
        },
      });
    }
    const nowS = Math.floor(Date.now() / 1000);
    if (ev.timestamp < nowS - 35 * 86400 || ev.timestamp > nowS + 300) {
      return send(res, 400, { error: { type: 'invalid_request_error', code: 'timestamp_out_of_range', message: 'Timestamp must be within the past 35 days' } });
    }
    const prior = events.get(ev.identifier);
    if (prior) {
      if (duplicateMode.mode === 'ok') return send(res, 200, view(prior));
      return send(res, 400, {
        error: { type: 'invalid_request_error', code: 'resource_already_exists', message: `An event with identifier ${ev.identifier} already exists.` },
      });
    }
    events.set(ev.identifier, ev);
    const answer = () => send(res, 200, view(ev));
    if (holding) held.push(answer);
    else answer();
  }

  const duplicateMode = { mode: 'error' as 'error' | 'ok' };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;
  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    events,
    attempts,
    billing,
    rejectedValues,
    get duplicateMode() {
      return duplicateMode.mode;
    },
    set duplicateMode(m) {
      duplicateMode.mode = m;
    },
    failNext(n, status) {
      failures = [...failures, ...Array.from({ length: n }, () => status)];
    },
    hold(on) {
      holding = on;
      if (!on) {
        const h = held;
        held = [];
        for (const answer of h) {
          try {
            answer();
          } catch {
            // the client is gone
          }
        }
      }
    },
    totals() {
      const t = new Map<string, number>();
      for (const e of events.values()) t.set(`${e.event_name}/${e.customer}`, (t.get(`${e.event_name}/${e.customer}`) ?? 0) + Number(e.value));
      return t;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function view(e: StoredMeterEvent) {
  return {
    object: 'billing.meter_event',
    created: Math.floor(Date.now() / 1000),
    event_name: e.event_name,
    identifier: e.identifier,
    livemode: false,
    payload: { stripe_customer_id: e.customer, value: e.value },
    timestamp: e.timestamp,
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
