/**
 * Usage batches as BullMQ job data, and back.
 *
 * Two formats, told apart by the job name:
 * - `batch` (format 1): `{ events: UsageEvent[] }`, every event a JSON object.
 * - `batch.v2` (format 2, the default): request events as rows of numbers and
 *   two strings; repeated strings (user, key, customer, service, route, method)
 *   once per batch in `s`; times relative to the batch's first event.
 *   `llm` and `trading` events (one per LLM call or trade, rare next to requests)
 *   ride along whole in `x`.
 *
 * Why format 2: the producer serialises every batch on the request thread. A
 * request event as an object costs ~9,000 instructions of JSON.stringify (its
 * 15 keys, strings escaped one by one, epoch milliseconds printed as doubles)
 * and ~300 bytes for ioredis to measure and copy; as a row, ~1,500 instructions
 * and ~90 bytes (callgrind, `bench/instructions.ts`).
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
  /** Strings the rows refer to by index. */
  readonly s: string[];
  /** occurred_at of the first row; each row holds its offset from this (ms). */
  readonly t: number;
  /** Request events, one array each: see {@link Col}. */
  readonly r: Row[];
  /** Events of other kinds, whole. */
  readonly x?: UsageEvent[];
}

type Row = Array<string | number>;

/** Columns of a request row. `ref` columns index `s` (-1: null); `us`: microseconds. */
const enum Col {
  EventId, // string
  RequestId, // string
  User, // ref
  Key, // ref
  Customer, // ref
  Service, // ref
  Route, // ref
  Method, // ref
  OccurredOffset, // ms from t
  Quantity,
  Status,
  BytesIn,
  BytesOut,
  LatencyUs, // latency_ms × 1000, rounded
  Count,
}

/** Job data for `events` in `format` (one job = one batch). */
export function encodeBatch(events: readonly UsageEvent[], format: JobFormat): EventsJobData | RowsJobData {
  if (format === 1) return { events: events as UsageEvent[] };
  const strings: string[] = [];
  const index = new Map<string, number>();
  const ref = (v: string | null): number => {
    if (v === null) return -1;
    let i = index.get(v);
    if (i === undefined) {
      i = strings.length;
      strings.push(v);
      index.set(v, i);
    }
    return i;
  };
  const t = events.length > 0 ? Math.round(events[0]!.occurred_at) : 0;
  const rows: Row[] = [];
  let other: UsageEvent[] | undefined;
  for (const e of events) {
    if (e.kind !== 'request') {
      (other ??= []).push(e);
      continue;
    }
    rows.push([
      e.event_id, e.request_id, ref(e.user_id), ref(e.key_id), ref(e.stripe_customer), ref(e.service), ref(e.route), ref(e.method),
      Math.round(e.occurred_at) - t, e.quantity, e.status, e.bytes_in, e.bytes_out, Math.round(e.latency_ms * 1000),
    ]);
  }
  return other ? { s: strings, t, r: rows, x: other } : { s: strings, t, r: rows };
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
  if (!d || !Array.isArray(d.s) || !Array.isArray(d.r) || typeof d.t !== 'number' || (d.x !== undefined && !Array.isArray(d.x))) {
    throw new UnreadableBatch('batch.v2: expected { s: [], t: number, r: [] }');
  }
  const s = d.s;
  const str = (i: unknown): string | null => (typeof i === 'number' && i >= 0 && i < s.length && typeof s[i] === 'string' ? s[i]! : null);
  const out: unknown[] = [];
  for (const row of d.r) {
    if (!Array.isArray(row) || row.length !== Col.Count) {
      out.push(row);
      continue;
    }
    const ev: RequestUsageEvent = {
      event_id: row[Col.EventId] as string,
      kind: 'request',
      user_id: str(row[Col.User]),
      key_id: str(row[Col.Key]),
      stripe_customer: str(row[Col.Customer]),
      service: str(row[Col.Service]) as string,
      route: str(row[Col.Route]) as string,
      request_id: row[Col.RequestId] as string,
      quantity: row[Col.Quantity] as number,
      occurred_at: d.t + (row[Col.OccurredOffset] as number),
      method: str(row[Col.Method]) as string,
      status: row[Col.Status] as number,
      bytes_in: row[Col.BytesIn] as number,
      bytes_out: row[Col.BytesOut] as number,
      latency_ms: (row[Col.LatencyUs] as number) / 1000,
    };
    // Anything that does not decode to a whole event is handed on as the raw row, to be counted and skipped.
    out.push(isUsageEvent(ev) && typeof ev.request_id === 'string' && typeof ev.method === 'string' ? ev : row);
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
