/**
 * Turn one served response into its usage events (what the pipeline's meter step
 * calls, then hands each event to `Meter.record`).
 *
 * Which routes meter what is the route's config: `meter: true` → a `request`
 * event; an extension's route key (`<kind>: {…}`) with a measured fact of that
 * kind → its event; the upstream's `x-argus-usage` header adds or refines events
 * on any route (extension kinds: src/extensions/contract.ts `reportedUsage`).
 */
import type { AuthContext } from '../request/principal.js';
import { eventId, sidecarEventId, type RequestUsageEvent, type UsageEvent } from './events.js';
import { parseUsageHeader, type RequestUsageItem } from './usage-header.js';
import type { ReportedUsage } from '../extensions/contract.js';
import { registeredExtensions, registrationGeneration } from '../extensions/registered.js';

export interface ResponseFacts {
  /** The request's x-request-id (stored in the ledger for correlation). */
  readonly requestId: string;
  /** Sidecar-generated id unique to this request, event ids derive from it (see {@link eventId}); default requestId. */
  readonly eventKey?: string;
  /** The matched route's config: its pattern and what it meters. */
  readonly route: { readonly path: string; readonly meter?: boolean; readonly [extension: string]: unknown };
  readonly service: string;
  readonly auth: AuthContext | undefined;
  readonly method: string;
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly latencyMs: number;
  /** Epoch ms when the request arrived. */
  readonly occurredAt: number;
  /** The upstream's `x-argus-usage` value, if it sent one (strip it from the response). */
  readonly usageHeader?: string | undefined;
  /** `<kind>`: usage of an extension's kind measured by the forwarder (its item's fields), metered when the route has that key. */
  readonly [kind: string]: unknown;
}

let cached: { generation: number; list: ReadonlyArray<readonly [string, ReportedUsage]> } | undefined;

/** The extensions whose kinds an upstream may report, with their names (rebuilt only when one is registered). */
function reporters(): ReadonlyArray<readonly [string, ReportedUsage]> {
  const generation = registrationGeneration();
  if (cached?.generation !== generation)
    cached = { generation, list: registeredExtensions().flatMap((e) => (e.reportedUsage ? [[e.name, e.reportedUsage] as const] : [])) };
  return cached.list;
}

/** The measured facts of this response that its route meters. */
function measuredOf(f: ResponseFacts): Array<readonly [string, ReportedUsage, Readonly<Record<string, unknown>>]> | undefined {
  let out: Array<readonly [string, ReportedUsage, Readonly<Record<string, unknown>>]> | undefined;
  for (const [kind, r] of reporters()) {
    const fact = f[kind];
    if (fact && f.route[kind]) (out ??= []).push([kind, r, fact as Readonly<Record<string, unknown>>]);
  }
  return out;
}

/**
 * Build the events for one response. Never throws.
 * @returns the events (possibly none) and, when the usage header was rejected, why (log it; nothing else changes).
 */
export function buildUsageEvents(f: ResponseFacts): { events: UsageEvent[]; headerError?: string } {
  const key = f.eventKey ?? f.requestId;
  const idOf = f.eventKey !== undefined ? sidecarEventId : eventId;
  const measured = measuredOf(f);
  // The common case (no upstream report): one request event, built as a literal.
  if (f.usageHeader === undefined && measured === undefined) {
    if (f.route.meter === false) return { events: [] };
    const ev = plainRequestEvent(
      idOf(key, 'request'),
      f.auth,
      f.service,
      f.route.path,
      f.requestId,
      f.occurredAt,
      f.method,
      f.status,
      f.bytesIn,
      f.bytesOut,
      f.latencyMs,
    );
    return { events: [ev] };
  }
  const base = {
    user_id: f.auth && f.auth.method !== 'none' ? f.auth.user_id : null,
    key_id: f.auth?.key_id ?? null,
    stripe_customer: f.auth?.stripe_customer ?? null,
    service: f.service,
    route: f.route.path,
    request_id: f.requestId,
    occurred_at: f.occurredAt,
  };
  const events: UsageEvent[] = [];
  let headerError: string | undefined;
  let requestQuantity: number | undefined;
  const extra: UsageEvent[] = [];
  if (f.usageHeader !== undefined) {
    const parsed = parseUsageHeader(f.usageHeader);
    if (!parsed.ok) headerError = parsed.reason;
    else {
      parsed.usage.forEach((item, i) => {
        if (item.kind === 'request') requestQuantity = (item as RequestUsageItem).quantity;
        else {
          const r = reporters().find(([kind]) => kind === item.kind);
          if (r) extra.push(r[1].event(base, item, idOf(key, item.kind, `h${i}`), f.latencyMs));
        }
      });
    }
  }
  if (f.route.meter !== false || requestQuantity !== undefined) {
    const ev: RequestUsageEvent = {
      ...base,
      event_id: idOf(key, 'request'),
      kind: 'request',
      quantity: requestQuantity ?? 1,
      method: f.method,
      status: f.status,
      bytes_in: f.bytesIn,
      bytes_out: f.bytesOut,
      latency_ms: f.latencyMs,
    };
    events.push(ev);
  }
  if (measured) for (const [kind, r, fact] of measured) events.push(r.event(base, fact, idOf(key, kind), f.latencyMs));
  events.push(...extra);
  return headerError === undefined ? { events } : { events, headerError };
}

/**
 * The `request` event of a response the upstream reported nothing about (quantity 1):
 * the one event of nearly every metered request, so the meter stage builds it with
 * no facts object in between (src/meter/stage.ts).
 */
export function plainRequestEvent(
  eventId: string,
  auth: AuthContext | null | undefined,
  service: string,
  route: string,
  requestId: string,
  occurredAt: number,
  method: string,
  status: number,
  bytesIn: number,
  bytesOut: number,
  latencyMs: number,
): RequestUsageEvent {
  return {
    event_id: eventId,
    kind: 'request',
    user_id: auth && auth.method !== 'none' ? auth.user_id : null,
    key_id: auth?.key_id ?? null,
    stripe_customer: auth?.stripe_customer ?? null,
    service,
    route,
    request_id: requestId,
    occurred_at: occurredAt,
    quantity: 1,
    method,
    status,
    bytes_in: bytesIn,
    bytes_out: bytesOut,
    latency_ms: latencyMs,
  };
}
