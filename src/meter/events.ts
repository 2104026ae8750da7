/**
 * Usage events: what the proxy meters and what the billing worker writes, one
 * row each, into the `usage_events` ledger (src/clients/migrations/001_usage_events.ts).
 *
 * Field names are the ledger's column names, so a batch goes from the queue to
 * Postgres without renaming. Every event carries a deterministic `event_id`: a
 * retried delivery of the same event is the same row (`ON CONFLICT DO NOTHING`).
 */
import { createHash } from 'node:crypto';

export type UsageKind = keyof UsageEventKinds;

/** Columns every event has. */
export interface UsageEventBase {
  /** Deterministic id, see {@link eventId}. Unique in the ledger. */
  readonly event_id: string;
  readonly kind: UsageKind;
  /** Authenticated user, null for anonymous traffic. */
  readonly user_id: string | null;
  readonly key_id: string | null;
  /** Stripe customer from the AuthContext when known (else the worker maps the owner, the key's org or the user, via `billing_customers`). */
  readonly stripe_customer: string | null;
  /** Service that served the request (config `metering.service`). */
  readonly service: string;
  /** The matched route pattern (e.g. `/v1/predictions/*`), not the raw path: bounded cardinality. */
  readonly route: string;
  readonly request_id: string;
  /**
   * Billable units, summed per Stripe window: requests → 1 (or what the upstream
   * reported, e.g. predictions); an extension's kind defines its own (e.g. tokens).
   */
  readonly quantity: number;
  /** Epoch milliseconds. */
  readonly occurred_at: number;
}

export interface RequestUsageEvent extends UsageEventBase {
  readonly kind: 'request';
  readonly method: string;
  readonly status: number;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly latency_ms: number;
}

/**
 * Every kind of usage event by its `kind`: the core's `request`, plus what each
 * extension adds by declaration merging (in its own usage-event file).
 */
export interface UsageEventKinds {
  request: RequestUsageEvent;
}

export type UsageEvent = UsageEventKinds[keyof UsageEventKinds];

/**
 * Deterministic event id: the same (request, kind, discriminator) always gives
 * the same id, so re-sent events collapse in the ledger.
 *
 * `requestId` must be unique per served request and chosen by the sidecar: a
 * client-supplied `x-request-id` reused across requests would collapse them into
 * one billed event. `discriminator` separates several events of one kind from one
 * request (e.g. the index of an `x-argus-usage` item). Format: `ev_` + 32
 * base64url characters (192 bits of SHA-256), no ':' (BullMQ job ids derive from it).
 */
export function eventId(requestId: string, kind: string, discriminator?: string): string {
  const h = createHash('sha256')
    .update(requestId)
    .update('\0')
    .update(kind)
    .update('\0')
    .update(discriminator ?? '')
    .digest('base64url');
  return 'ev_' + h.slice(0, 32);
}

/**
 * Event id from a key the sidecar chose itself (unique per process start and
 * request, e.g. `3f9a1c0b2d4e-1a2b`): no hashing needed on the hot path. Same
 * determinism as {@link eventId}: a re-sent event keeps its id.
 */
export function sidecarEventId(key: string, kind: string, discriminator?: string): string {
  return discriminator === undefined ? `ev_${key}.${kind}` : `ev_${key}.${kind}.${discriminator}`;
}

/** The start of a batch's queue job id: derived from its first event (the producer appends `~<nonce><n>`, unique per batch; a replay reads the whole id from the spool). */
export function batchJobId(events: readonly UsageEvent[]): string {
  const first = events[0];
  if (!first) throw new Error('batchJobId: empty batch');
  return batchIdFor(first.event_id);
}

/** The job id of a batch whose first event has this id. */
export function batchIdFor(firstEventId: string): string {
  return 'b_' + firstEventId.slice(3);
}

export type LedgerColumn = readonly [name: string, sqlType: string];

/** The ledger columns every kind shares, and the `request` kind's (src/clients/migrations/001_usage_events.ts). */
const CORE_COLUMNS: readonly LedgerColumn[] = [
  ['event_id', 'text'],
  ['kind', 'text'],
  ['user_id', 'text'],
  ['key_id', 'text'],
  ['stripe_customer', 'text'],
  ['service', 'text'],
  ['route', 'text'],
  ['request_id', 'text'],
  ['quantity', 'numeric'],
  ['occurred_at_ms', 'bigint'],
  ['method', 'text'],
  ['status', 'integer'],
  ['bytes_in', 'bigint'],
  ['bytes_out', 'bigint'],
  ['latency_ms', 'double precision'],
];

const kinds = new Set<string>(['request']);
const columns: LedgerColumn[] = [...CORE_COLUMNS];

/**
 * An extension's event kind and the ledger columns it fills (created by its
 * migration). Called at module load of the extension's usage-event file;
 * registering a kind again is a no-op.
 */
export function registerUsageKind(kind: string, extra: readonly LedgerColumn[]): void {
  if (kinds.has(kind)) return;
  kinds.add(kind);
  for (const c of extra) if (!columns.some(([name]) => name === c[0])) columns.push(c);
}

/** Every registered kind, `request` first. */
export function usageKinds(): readonly UsageKind[] {
  return [...kinds] as UsageKind[];
}

/** Every ledger column an event can fill, in insert order (the worker's INSERT uses this list). */
export function ledgerColumns(): readonly LedgerColumn[] {
  return columns;
}

/** Row for `jsonb_to_recordset`: the event with occurred_at renamed (the column is a timestamptz). */
export function toLedgerRow(ev: UsageEvent): Record<string, unknown> {
  const { occurred_at, ...rest } = ev;
  // The column is bigint milliseconds: a fractional time from a caller must not poison a whole batch.
  return { ...rest, occurred_at_ms: Math.round(occurred_at) };
}

/** Cheap structural check for events read back from the queue or the spool (never trusted blindly). */
export function isUsageEvent(v: unknown): v is UsageEvent {
  if (v === null || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.event_id === 'string' &&
    e.event_id.length > 0 &&
    e.event_id.length <= 128 &&
    typeof e.kind === 'string' &&
    kinds.has(e.kind) &&
    typeof e.occurred_at === 'number' &&
    Number.isFinite(e.occurred_at) &&
    typeof e.quantity === 'number' &&
    Number.isFinite(e.quantity) &&
    typeof e.route === 'string' &&
    typeof e.service === 'string'
  );
}
