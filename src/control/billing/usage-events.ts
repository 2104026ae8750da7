/**
 * `POST /v1/usage/events`: usage metered outside the sidecar (the seeds'
 * `record_usage`, `record_llm_usage`, `record_trading_usage`, batched) enters
 * the same pipeline as the sidecar's: the control process's own producer
 * (src/meter/producer.ts) writes each batch to its local spool before
 * answering, sends it to the BullMQ queue, and keeps it until the billing
 * worker committed it to the ledger. Every event's id is derived from the
 * caller's `id` and the user (src/meter/events.ts `eventId`), so a retried
 * request is the same ledger row, never a second charge.
 *
 * An event may name the API key the usage was made with (`key_id`, what the
 * sidecar sends upstream as `x-argus-key-id`); it must be a key of the event's
 * user. The billing worker bills usage of an org's key to the org
 * (docs/billing.md, "Whose customer is billed").
 *
 * Recording usage is a service operation: role admin or scope
 * `argus:usage:write`.
 */
import { eventId, type UsageEvent } from '../../meter/events.js';
import { ADMIN_SCOPE, type Actor } from '../services/actor.js';
import type { ServiceDeps } from '../services/deps.js';
import { fail, ok, type Result } from '../services/result.js';

export const USAGE_WRITE_SCOPE = 'argus:usage:write';

/** One event as the API takes it. */
export interface UsageEventInput {
  /** The caller's id for this event (unique per user): retries with the same id are one event. */
  readonly id: string;
  readonly kind: 'request' | 'llm' | 'trading';
  readonly user_id: string;
  /** The API key the usage was made with: one of `user_id`'s keys. */
  readonly key_id?: string | undefined;
  /** Billable units; default: 1 (request, trading), input + output tokens (llm). */
  readonly quantity?: number | undefined;
  /** ISO 8601 time or epoch ms; default now. */
  readonly occurred_at?: string | number | undefined;
  readonly service?: string | undefined;
  readonly route?: string | undefined;
  readonly provider?: string | undefined;
  readonly model?: string | undefined;
  readonly input_tokens?: number | undefined;
  readonly output_tokens?: number | undefined;
  readonly cost_usd?: number | undefined;
  readonly exchange?: string | undefined;
  readonly symbol?: string | undefined;
  readonly trading_type?: 'trade' | 'data_stream' | 'backtest' | undefined;
  readonly value_usd?: number | undefined;
}

export async function recordUsageEvents(
  deps: ServiceDeps,
  actor: Actor,
  input: { events: readonly UsageEventInput[] },
): Promise<Result<{ accepted: number; event_ids: string[] }>> {
  if (!actor.admin && !(actor.ctx?.scopes.includes(USAGE_WRITE_SCOPE) ?? false)) {
    return fail('ARGUS_FORBIDDEN', `recording usage needs role admin, scope ${ADMIN_SCOPE} or scope ${USAGE_WRITE_SCOPE}`);
  }
  const meter = deps.billing?.meter ?? null;
  if (meter === null || !meter.ready()) return fail('ARGUS_DEPENDENCY_UNAVAILABLE', 'the usage spool is not available');
  const badKey = await foreignKey(deps, input.events);
  if (badKey !== null) return fail('ARGUS_INVALID_REQUEST', `events.${badKey}.key_id: not an API key of the event's user`);
  const now = deps.now();
  const events: UsageEvent[] = [];
  for (const [i, e] of input.events.entries()) {
    const at = e.occurred_at === undefined ? now : typeof e.occurred_at === 'number' ? e.occurred_at : Date.parse(e.occurred_at);
    if (!Number.isFinite(at)) return fail('ARGUS_INVALID_REQUEST', `events.${i}.occurred_at: not a time`);
    events.push(toEvent(e, at, deps.cfg.metering.service));
  }
  for (const ev of events) meter.record(ev);
  // Answer only once the batch is in the spool: from here on it reaches the ledger even if this process dies.
  await new Promise<void>((resolve) => meter.afterSpooled(resolve));
  return ok({ accepted: events.length, event_ids: events.map((e) => e.event_id) }, 201);
}

/** The index of the first event whose `key_id` is not a key of its user (null: none). */
async function foreignKey(deps: ServiceDeps, events: readonly UsageEventInput[]): Promise<number | null> {
  const ids = [...new Set(events.flatMap((e) => (e.key_id === undefined ? [] : [e.key_id])))];
  if (ids.length === 0) return null;
  const rows = (await deps.pool.query<{ key_id: string; user_id: string }>('SELECT key_id, user_id FROM api_keys WHERE key_id = ANY($1)', [ids])).rows;
  const owner = new Map(rows.map((r) => [r.key_id, r.user_id]));
  const i = events.findIndex((e) => e.key_id !== undefined && owner.get(e.key_id) !== e.user_id);
  return i < 0 ? null : i;
}

function toEvent(e: UsageEventInput, at: number, defaultService: string): UsageEvent {
  const base = {
    event_id: eventId(`api\0${e.user_id}\0${e.id}`, e.kind),
    user_id: e.user_id,
    key_id: e.key_id ?? null,
    stripe_customer: null,
    service: e.service ?? defaultService,
    route: e.route ?? '/v1/usage/events',
    request_id: e.id,
    occurred_at: at,
  };
  if (e.kind === 'llm') {
    const input = e.input_tokens ?? 0;
    const output = e.output_tokens ?? 0;
    return {
      ...base,
      kind: 'llm',
      quantity: e.quantity ?? input + output,
      provider: e.provider ?? 'unknown',
      model: e.model ?? 'unknown',
      input_tokens: input,
      output_tokens: output,
      latency_ms: 0,
      cost_usd: e.cost_usd ?? 0,
    };
  }
  if (e.kind === 'trading') {
    return {
      ...base,
      kind: 'trading',
      quantity: e.quantity ?? 1,
      exchange: e.exchange ?? 'unknown',
      symbol: e.symbol ?? 'unknown',
      trading_type: e.trading_type ?? 'trade',
      value_usd: e.value_usd ?? 0,
      data_bytes: 0,
      compute_s: 0,
    };
  }
  return { ...base, kind: 'request', quantity: e.quantity ?? 1, method: 'API', status: 200, bytes_in: 0, bytes_out: 0, latency_ms: 0 };
}
