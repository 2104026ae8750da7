/**
 * Turn one served response into its usage events (what the pipeline's meter step
 * calls, then hands each event to `Meter.record`).
 *
 * Which routes meter what is the route's config: `meter: true` → a `request`
 * event; `llm: {provider}` → the `llm` usage the forwarder measured; the
 * upstream's `x-argus-usage` header adds or refines events on any route.
 */
import type { AuthContext } from '../authenticate/context.js';
import { eventId, sidecarEventId, type LlmUsageEvent, type RequestUsageEvent, type TradingUsageEvent, type UsageEvent } from './events.js';
import { parseUsageHeader, type LlmUsageItem } from './usage-header.js';

export interface ResponseFacts {
  /** The request's x-request-id (stored in the ledger for correlation). */
  readonly requestId: string;
  /** Sidecar-generated id unique to this request, event ids derive from it (see {@link eventId}); default requestId. */
  readonly eventKey?: string;
  /** The matched route's config: its pattern and what it meters. */
  readonly route: { readonly path: string; readonly meter?: boolean; readonly llm?: { readonly provider: string } | undefined };
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
  /** LLM usage measured by the forwarder (e.g. from the provider's `usage` object). */
  readonly llm?: (Omit<LlmUsageItem, 'kind' | 'cost_usd'> & { cost_usd?: number }) | undefined;
}

/**
 * Build the events for one response. Never throws.
 * @returns the events (possibly none) and, when the usage header was rejected, why (log it; nothing else changes).
 */
export function buildUsageEvents(f: ResponseFacts): { events: UsageEvent[]; headerError?: string } {
  const key = f.eventKey ?? f.requestId;
  const idOf = f.eventKey !== undefined ? sidecarEventId : eventId;
  // The common case (no upstream report): one request event, built as a literal.
  if (f.usageHeader === undefined && !(f.llm && f.route.llm)) {
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
        const disc = `h${i}`;
        if (item.kind === 'request') requestQuantity = item.quantity;
        else if (item.kind === 'llm') extra.push(llmEvent(base, f, item, idOf(key, 'llm', disc)));
        else {
          const ev: TradingUsageEvent = {
            ...base,
            event_id: idOf(key, 'trading', disc),
            kind: 'trading',
            quantity: item.quantity,
            exchange: item.exchange,
            symbol: item.symbol,
            trading_type: item.type,
            value_usd: item.value_usd,
            data_bytes: item.data_bytes,
            compute_s: item.compute_s,
          };
          extra.push(ev);
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
  if (f.llm && f.route.llm) events.push(llmEvent(base, f, { ...f.llm, cost_usd: f.llm.cost_usd ?? 0 }, idOf(key, 'llm')));
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

function llmEvent(base: Omit<UsageEvent, 'event_id' | 'kind' | 'quantity'>, f: ResponseFacts, item: Omit<LlmUsageItem, 'kind'>, id: string): LlmUsageEvent {
  return {
    ...base,
    event_id: id,
    kind: 'llm',
    quantity: item.input_tokens + item.output_tokens,
    provider: item.provider,
    model: item.model,
    input_tokens: item.input_tokens,
    output_tokens: item.output_tokens,
    latency_ms: item.latency_ms ?? f.latencyMs,
    cost_usd: item.cost_usd,
  };
}
