/**
 * Usage batches as BullMQ job data, and back.
 *
 * Two formats, told apart by the job name:
 * - `batch` (format 1): `{ events: UsageEvent[] }`, every event a JSON object.
 * - `batch.v2` (format 2, the default): request events as rows of numbers and
 *   the request id, in one flat array; what repeats (user, key, customer,
 *   service, route, method) once per batch as a context the rows point to; the
 *   event id left out when it is the sidecar's own (`ev_<request id>.request`);
 *   times relative to the batch's first event.
 *   `llm` and `trading` events (one per LLM call or trade, rare next to requests)
 *   ride along whole in `x`.
 *
 * Why format 2: the producer serialises every batch on the request thread. A
 * request event as an object costs ~9,000 instructions of JSON.stringify (its
 * 15 keys, strings escaped one by one, epoch milliseconds printed as doubles)
 * and ~310 bytes for ioredis to measure and copy; as a row, ~3,000 instructions
 * with the encoding pass and ~45 bytes (callgrind, `bench/instructions.ts`; a
 * metered request costs 9.2k instructions over an unmetered one, was 16.6k).
 *
 * Upgrades: a worker reads both formats; a worker older than format 2 cannot
 * read `batch.v2` jobs. Deploy workers first, or set `metering.job_format: 1`
 * until they are all upgraded. A worker never completes a job it cannot read: it
 * fails it, and the failed set keeps it for `usage replay-failed`.
 */
import type { RequestUsageEvent, UsageEvent } from './events.js';
import { isUsageEvent } from './events.js';

export type JobFormat = 1 | 2;

export const JOB_NAMES: Readonly<Record<JobFormat, string>> = { 1: 'batch', 2: 'batch.v2' };

/** Format 1 job data. */
export interface EventsJobData {
  readonly events: UsageEvent[];
}

/** Format 2 job data. */
export interface RowsJobData {
  /** Strings the contexts refer to by index. */
  readonly s: string[];
  /** Contexts, {@link CTX_WIDTH} string refs each (user, key, customer, service, route, method; -1: null). */
  readonly c: number[];
  /** occurred_at of the first row; each row holds its offset from this (ms). */
  readonly t: number;
  /** Request events, {@link ROW_WIDTH} values each, one flat array: see {@link Col}. */
  readonly r: Array<string | number>;
  /** Events of other kinds, whole. */
  readonly x?: UsageEvent[];
}

const CTX_WIDTH = 6;
const ROW_WIDTH = 9;

/** Columns of a request row. */
const enum Col {
  Context, // index into c (÷ CTX_WIDTH)
  RequestId, // string
  EventId, // string, or 0: "ev_<request_id>.request" (the sidecar's own ids, see sidecarEventId)
  OccurredOffset, // ms from t
  Quantity,
  Status,
  BytesIn,
  BytesOut,
  LatencyUs, // latency_ms × 1000, rounded
}

const DERIVED_ID = 0;

/** Job data for `events` in `format` (one job = one batch). */
export function encodeBatch(events: readonly UsageEvent[], format: JobFormat): EventsJobData | RowsJobData {
  if (format === 1) return { events: events as UsageEvent[] };
  const strings: string[] = [];
  const stringIndex = new Map<string, number>();
  const ref = (v: string | null): number => {
    if (v === null) return -1;
    let i = stringIndex.get(v);
    if (i === undefined) {
      i = strings.length;
      strings.push(v);
      stringIndex.set(v, i);
    }
    return i;
  };
  // Contexts by their six strings, one Map per level: a caller on a route repeats it for every request.
  const contexts: number[] = [];
  const contextIndex = new Map<string | null, unknown>();
  const step = (level: Map<string | null, unknown>, v: string | null): Map<string | null, unknown> => {
    let next = level.get(v) as Map<string | null, unknown> | undefined;
    if (next === undefined) level.set(v, (next = new Map()));
    return next;
  };
  const contextOf = (e: RequestUsageEvent): number => {
    const level = step(step(step(step(step(contextIndex, e.user_id), e.key_id), e.stripe_customer), e.service), e.route);
    let c = level.get(e.method) as number | undefined;
    if (c === undefined) {
      c = contexts.length / CTX_WIDTH;
      contexts.push(ref(e.user_id), ref(e.key_id), ref(e.stripe_customer), ref(e.service), ref(e.route), ref(e.method));
      level.set(e.method, c);
    }
    return c;
  };
  const t = events.length > 0 ? Math.round(events[0]!.occurred_at) : 0;
  const rows = new Array<string | number>(events.length * ROW_WIDTH);
  let n = 0;
  let other: UsageEvent[] | undefined;
  for (const e of events) {
    if (e.kind !== 'request') {
      (other ??= []).push(e);
      continue;
    }
    const id = e.event_id;
    const rid = e.request_id;
    const derived = id.length === rid.length + 11 && id.endsWith('.request') && id.startsWith('ev_') && id.startsWith(rid, 3);
    rows[n] = contextOf(e);
    rows[n + 1] = rid;
    rows[n + 2] = derived ? DERIVED_ID : id;
    rows[n + 3] = Math.round(e.occurred_at) - t;
    rows[n + 4] = e.quantity;
    rows[n + 5] = e.status;
    rows[n + 6] = e.bytes_in;
    rows[n + 7] = e.bytes_out;
    rows[n + 8] = Math.round(e.latency_ms * 1000);
    n += ROW_WIDTH;
  }
  rows.length = n;
  return other ? { s: strings, c: contexts, t, r: rows, x: other } : { s: strings, c: contexts, t, r: rows };
}

/** Thrown for job data this version cannot read (the worker fails the job; it stays for replay). */
export class UnreadableBatch extends Error {
  override readonly name = 'UnreadableBatch';
}

/**
 * The events of a job, whatever its format. Entries that are not events are
 * returned as they are (the ledger counts and skips them). Throws
 * {@link UnreadableBatch} for an unknown job name or data of the wrong shape.
 */
export function decodeBatch(name: string, data: unknown): unknown[] {
  const d = data as Partial<EventsJobData & RowsJobData> | null | undefined;
  if (name === JOB_NAMES[1]) {
    if (!Array.isArray(d?.events)) throw new UnreadableBatch('batch: no events array');
    return d.events;
  }
  if (name !== JOB_NAMES[2]) throw new UnreadableBatch(`unknown usage job "${name}" (a newer sidecar? upgrade the workers)`);
  if (!d || !Array.isArray(d.s) || !Array.isArray(d.c) || !Array.isArray(d.r) || typeof d.t !== 'number' || (d.x !== undefined && !Array.isArray(d.x))) {
    throw new UnreadableBatch('batch.v2: expected { s: [], c: [], t: number, r: [] }');
  }
  const { s, c, r, t } = d;
  if (r.length % ROW_WIDTH !== 0 || c.length % CTX_WIDTH !== 0) throw new UnreadableBatch('batch.v2: rows or contexts cut short');
  const str = (i: unknown): string | null => (typeof i === 'number' && i >= 0 && i < s.length && typeof s[i] === 'string' ? s[i]! : null);
  const out: unknown[] = [];
  for (let i = 0; i < r.length; i += ROW_WIDTH) {
    const row = r.slice(i, i + ROW_WIDTH);
    const ctx = row[Col.Context];
    const at = typeof ctx === 'number' && Number.isInteger(ctx) && ctx >= 0 ? ctx * CTX_WIDTH : -1;
    const field = (k: number): string | null => (at >= 0 && at + k < c.length ? str(c[at + k]) : null);
    const rid = row[Col.RequestId];
    const ev: RequestUsageEvent = {
      event_id: row[Col.EventId] === DERIVED_ID && typeof rid === 'string' ? `ev_${rid}.request` : (row[Col.EventId] as string),
      kind: 'request',
      user_id: field(0),
      key_id: field(1),
      stripe_customer: field(2),
      service: field(3) as string,
      route: field(4) as string,
      request_id: rid as string,
      quantity: row[Col.Quantity] as number,
      occurred_at: t + (row[Col.OccurredOffset] as number),
      method: field(5) as string,
      status: row[Col.Status] as number,
      bytes_in: row[Col.BytesIn] as number,
      bytes_out: row[Col.BytesOut] as number,
      latency_ms: (row[Col.LatencyUs] as number) / 1000,
    };
    // Anything that does not decode to a whole event is handed on as the raw row, to be counted and skipped.
    out.push(at >= 0 && isUsageEvent(ev) && typeof ev.request_id === 'string' && typeof ev.method === 'string' ? ev : row);
  }
  if (d.x) out.push(...d.x);
  return out;
}

/** Events in a job of either format, for listings (0 when unreadable). */
export function batchSize(name: string, data: unknown): number {
  try {
    return decodeBatch(name, data).length;
  } catch {
    return 0;
  }
}
