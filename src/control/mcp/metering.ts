/**
 * Every tool call is a usage event of its caller: kind `request`, route
 * `mcp:<tool>`, status the HTTP status its outcome maps to (200, or the
 * denial's, src/errors.ts). It goes through the process's own producer
 * (src/meter/producer.ts: spool, BullMQ, the billing worker, the ledger), like
 * the sidecar's own requests.
 */
import { randomBytes } from 'node:crypto';
import { eventId, type UsageEvent } from '../../meter/events.js';
import type { Meter } from '../../meter/producer.js';
import { statusOf } from '../../errors.js';
import type { Actor } from '../services/actor.js';
import type { Result } from '../services/result.js';

export interface ToolCallRecord {
  readonly tool: string;
  readonly actor: Actor;
  readonly result: Result<unknown>;
  readonly service: string;
  readonly startedAt: number;
  readonly latencyMs: number;
}

/** The usage event of one tool call (a fresh id per call: two calls are two requests). */
export function toolCallEvent(r: ToolCallRecord): UsageEvent {
  const requestId = `mcp_${randomBytes(12).toString('base64url')}`;
  const ctx = r.actor.ctx;
  return {
    event_id: eventId(requestId, 'request'),
    kind: 'request',
    user_id: r.actor.id,
    key_id: ctx?.key_id ?? null,
    stripe_customer: ctx?.stripe_customer ?? null,
    service: r.service,
    route: `mcp:${r.tool}`,
    request_id: requestId,
    quantity: 1,
    occurred_at: r.startedAt,
    method: 'MCP',
    status: r.result.ok ? r.result.status : statusOf(r.result.denial.code),
    bytes_in: 0,
    bytes_out: 0,
    latency_ms: Math.round(r.latencyMs),
  };
}

/** Record the call when metering is on (`meter` null or disabled: nothing). Never throws. */
export function meterToolCall(meter: Meter | null | undefined, r: ToolCallRecord): void {
  meter?.record(toolCallEvent(r));
}
