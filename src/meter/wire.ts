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
 *   Extensions' events (other kinds, rare next to requests) ride along whole
 *   in `x`.
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
import '../extensions/registry.js';
import { isUsageEvent } from './events.js';
import { JsonBytes } from './json-bytes.js';

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
  const enc = new BatchEncoder(format);
  for (const e of events) enc.add(e);
  return enc.data();
}

/**
 * One batch's job data, built an event at a time: the producer adds each event
 * as it is recorded, so a flush hands BullMQ finished data instead of encoding
 * the whole batch in one go on the request thread (in the sidecar at 5,000 rps,
 * encoding a 255-event batch at flush time held the event loop for a median
 * 0.17 ms, p90 0.28 ms, of the flush's 0.45 ms before the Redis write).
 */
export class BatchEncoder {
  readonly #format: JobFormat;
  /** Format 1: the events themselves. */
  readonly #events: UsageEvent[] = [];
  readonly #stringIndex = new Map<string, number>();
  #strings = 0;
  /** Contexts by their six strings, one Map per level: a caller on a route repeats it for every request. */
  readonly #contextIndex = new Map<string | null, unknown>();
  #contexts = 0;
  /**
   * Format 2 keeps no rows as values: each is written as JSON text, once, into the
   * batch's bytes (`s`, `c` and `r` without their brackets, ./json-bytes.ts). A
   * spool line copies what was added since the last line; the job data is the
   * whole text. Rows held as arrays survived a scavenge or two and were
   * serialised twice (~3,500 instructions per request event); rows serialised
   * with JSON.stringify into strings cost ~3,000 more in the stringifier and in
   * flattening the concatenated line for write(2) (callgrind, bench/instructions.ts).
   */
  readonly #s = new JsonBytes(256);
  readonly #c = new JsonBytes(256);
  readonly #r = new JsonBytes(4096);
  /** Where this turn's part of s, c and r starts (-1: nothing added since the last spool line). */
  #sTurn = -1;
  #cTurn = -1;
  #rTurn = -1;
  #newOther: UsageEvent[] = [];
  /** Serialised contents (no brackets) of x so far. */
  #xJson = '';
  #size = 0;
  #firstId = '';
  #t = 0;

  constructor(format: JobFormat) {
    this.#format = format;
  }

  /** Events added so far. */
  get size(): number {
    return this.#size;
  }

  /** The first event's id (the batch's job id derives from it), '' while empty. */
  get firstEventId(): string {
    return this.#firstId;
  }

  /**
   * The events added so far. Format 2 rebuilds them from the job data, so they are
   * the events a worker will read (times rounded as the rows hold them).
   */
  events(): UsageEvent[] {
    if (this.#format === 1) return this.#events;
    const out = decodeBatch(JOB_NAMES[2], this.data());
    if (!out.every(isUsageEvent)) throw new Error('BatchEncoder: an event did not survive its encoding'); // a bug: the rows hold every field
    return out;
  }

  /** The other events added since the last call, as a JSON array ('' when none); kept for the job data. */
  #otherJson(): string {
    if (this.#newOther.length === 0) return '';
    const x = JSON.stringify(this.#newOther);
    this.#newOther = [];
    this.#xJson = this.#xJson === '' ? x.slice(1, -1) : `${this.#xJson},${x.slice(1, -1)}`;
    return x;
  }

  /**
   * Append to `out` the spool line (./spool.ts) for what was added since the last
   * call: `{"b":id,"t":…,"s":[new strings],"c":[new contexts],"r":[new rows],"x":[…]}`
   * and a newline. False (nothing appended) when nothing was added. Format 2 only.
   */
  spoolLineTo(id: string, out: JsonBytes): boolean {
    if (this.#rTurn < 0 && this.#newOther.length === 0) return false;
    out.raw('{"b":');
    out.str(id);
    out.raw(',"t":');
    out.num(this.#t);
    out.raw(',"s":[');
    if (this.#sTurn >= 0) out.append(this.#s, this.#sTurn);
    out.raw('],"c":[');
    if (this.#cTurn >= 0) out.append(this.#c, this.#cTurn);
    out.raw('],"r":[');
    if (this.#rTurn >= 0) out.append(this.#r, this.#rTurn);
    out.byte(0x5d);
    const x = this.#otherJson();
    if (x !== '') {
      out.raw(',"x":');
      out.utf8(x);
    }
    out.raw('}\n');
    this.#sTurn = this.#cTurn = this.#rTurn = -1;
    return true;
  }

  /** {@link spoolLineTo} as a string ('' when nothing was added). */
  spoolLine(id: string): string {
    const out = new JsonBytes(256);
    return this.spoolLineTo(id, out) ? out.text() : '';
  }

  /** The job data of the events added so far, as JSON text (format 2; what {@link data} parses). */
  json(): string {
    return this.jsonBytes().toString('utf8');
  }

  /**
   * {@link json} as UTF-8 bytes in a buffer of their own: what the producer holds
   * and hands to the queue. A batch's ~10 KB as a string lived on the V8 heap
   * until Redis answered, and survived scavenges to the old generation (whose
   * growth schedules mark-compacts); a buffer's bytes live outside the heap.
   */
  jsonBytes(): Buffer {
    this.#otherJson();
    const s = this.#s;
    const c = this.#c;
    const r = this.#r;
    const x = this.#xJson;
    const t = String(this.#size > 0 ? this.#t : 0);
    const size = 27 + s.len + c.len + t.length + r.len + (x === '' ? 0 : Buffer.byteLength(x) + 7);
    const out = Buffer.allocUnsafeSlow(size);
    let p = out.write('{"s":[', 0, 'latin1');
    p += s.buf.copy(out, p, 0, s.len);
    p += out.write('],"c":[', p, 'latin1');
    p += c.buf.copy(out, p, 0, c.len);
    p += out.write('],"t":', p, 'latin1');
    p += out.write(t, p, 'latin1');
    p += out.write(',"r":[', p, 'latin1');
    p += r.buf.copy(out, p, 0, r.len);
    p += out.write(']', p, 'latin1');
    if (x !== '') {
      p += out.write(',"x":[', p, 'latin1');
      p += out.write(x, p, 'utf8');
      p += out.write(']', p, 'latin1');
    }
    p += out.write('}', p, 'latin1');
    if (p !== size) throw new Error(`BatchEncoder: job data is ${p} bytes, sized ${size}`); // a bug in the sum above
    return out;
  }

  /** `idDerived`: the caller knows the event id is `ev_<request_id>.request` (it is then never read: a fresh id is a rope, and checking it would flatten it). */
  add(e: UsageEvent, idDerived = false): void {
    if (this.#size++ === 0) {
      this.#t = Math.round(e.occurred_at);
      this.#firstId = e.event_id;
    }
    if (this.#format === 1 || e.kind !== 'request') {
      (this.#format === 1 ? this.#events : this.#newOther).push(e);
      return;
    }
    const id = e.event_id;
    const rid = e.request_id;
    const derived = idDerived || (id.length === rid.length + 11 && id.endsWith('.request') && id.startsWith('ev_') && id.startsWith(rid, 3));
    const ctx = this.#contextOf(e);
    const r = this.#r;
    if (this.#rTurn < 0) this.#rTurn = r.len === 0 ? 0 : r.len + 1;
    const at = r.len;
    if (
      !rowFast(
        r,
        ctx,
        rid,
        derived ? '' : id,
        Math.round(e.occurred_at) - this.#t,
        e.quantity,
        e.status,
        e.bytes_in,
        e.bytes_out,
        Math.round(e.latency_ms * 1000),
      )
    ) {
      // A string to escape or a number that is not a small whole one: the general writer.
      r.len = at;
      if (at > 0) r.byte(0x2c);
      r.num(ctx);
      r.byte(0x2c);
      r.str(rid);
      r.byte(0x2c);
      if (derived) r.byte(0x30);
      else r.str(id);
      for (const v of [Math.round(e.occurred_at) - this.#t, e.quantity, e.status, e.bytes_in, e.bytes_out, Math.round(e.latency_ms * 1000)]) {
        r.byte(0x2c);
        r.num(v);
      }
    }
  }

  /** The job data of the events added so far (a fresh object). */
  data(): EventsJobData | RowsJobData {
    if (this.#format === 1) return { events: this.#events };
    return JSON.parse(this.json()) as RowsJobData;
  }

  #ref(v: string | null): number {
    if (v === null) return -1;
    let i = this.#stringIndex.get(v);
    if (i === undefined) {
      i = this.#strings++;
      const s = this.#s;
      if (this.#sTurn < 0) this.#sTurn = s.len === 0 ? 0 : s.len + 1;
      if (s.len > 0) s.byte(0x2c);
      s.str(v);
      this.#stringIndex.set(v, i);
    }
    return i;
  }

  /** The last event's context: a run of requests from one caller on one route skips the Map walk (and hashing its fresh strings). */
  #last: RequestUsageEvent | undefined;
  #lastContext = -1;

  #contextOf(e: RequestUsageEvent): number {
    const l = this.#last;
    if (
      l !== undefined &&
      l.user_id === e.user_id &&
      l.key_id === e.key_id &&
      l.stripe_customer === e.stripe_customer &&
      l.service === e.service &&
      l.route === e.route &&
      l.method === e.method
    ) {
      this.#last = e;
      return this.#lastContext;
    }
    const c = this.#contextWalk(e);
    this.#last = e;
    this.#lastContext = c;
    return c;
  }

  #contextWalk(e: RequestUsageEvent): number {
    const level = step(step(step(step(step(this.#contextIndex, e.user_id), e.key_id), e.stripe_customer), e.service), e.route);
    let c = level.get(e.method) as number | undefined;
    if (c === undefined) {
      c = this.#contexts++;
      const refs = [this.#ref(e.user_id), this.#ref(e.key_id), this.#ref(e.stripe_customer), this.#ref(e.service), this.#ref(e.route), this.#ref(e.method)];
      const out = this.#c;
      if (this.#cTurn < 0) this.#cTurn = out.len === 0 ? 0 : out.len + 1;
      for (const ref of refs) {
        if (out.len > 0) out.byte(0x2c);
        out.num(ref);
      }
      level.set(e.method, c);
    }
    return c;
  }
}

/**
 * Append one row (`,` first unless it is the first) when every string is plain
 * ASCII and every number a whole one below 2^31, the usual case, written in one
 * pass with no call per value; false (with garbage past `out.len`) otherwise.
 * `id` '' stands for the derived event id (0).
 */
function rowFast(
  out: JsonBytes,
  ctx: number,
  rid: string,
  id: string,
  offset: number,
  quantity: number,
  status: number,
  bytesIn: number,
  bytesOut: number,
  latencyUs: number,
): boolean {
  out.ensure(100 + rid.length + id.length);
  const b = out.buf;
  let p = out.len;
  if (p > 0) b[p++] = 0x2c;
  if ((p = putInt(b, p, ctx)) < 0) return false;
  b[p++] = 0x2c;
  if ((p = putStr(b, p, rid)) < 0) return false;
  b[p++] = 0x2c;
  if (id === '') b[p++] = 0x30;
  else if ((p = putStr(b, p, id)) < 0) return false;
  b[p++] = 0x2c;
  if ((p = putInt(b, p, offset)) < 0) return false;
  b[p++] = 0x2c;
  if ((p = putInt(b, p, quantity)) < 0) return false;
  b[p++] = 0x2c;
  if ((p = putInt(b, p, status)) < 0) return false;
  b[p++] = 0x2c;
  if ((p = putInt(b, p, bytesIn)) < 0) return false;
  b[p++] = 0x2c;
  if ((p = putInt(b, p, bytesOut)) < 0) return false;
  b[p++] = 0x2c;
  if ((p = putInt(b, p, latencyUs)) < 0) return false;
  out.len = p;
  return true;
}

/** A whole number in (-2^31, 2^31) at `p` (room assumed): the next position, or -1 for any other number. */
function putInt(b: Buffer, p: number, v: number): number {
  let n = v | 0;
  if (n !== v || n === -2147483648) return -1;
  if (n < 0) {
    b[p++] = 0x2d;
    n = -n;
  }
  let end = p + 1;
  for (let m = n; m >= 10; m = (m / 10) | 0) end++;
  let q = end;
  do {
    const d = (n / 10) | 0;
    b[--q] = 0x30 + n - d * 10;
    n = d;
  } while (n > 0);
  return end;
}

/**
 * `s` as a JSON string at `p` (room assumed) when it is printable ASCII without `"` or `\`: the next
 * position, else -1. Copied natively, then checked byte by byte: charCodeAt on a request id (a
 * concatenation, not yet flat) costs ~50 instructions a character.
 */
function putStr(b: Buffer, p: number, s: string): number {
  b[p++] = 0x22;
  const n = b.write(s, p, 'utf8');
  if (n !== s.length) return -1;
  for (const end = p + n; p < end; p++) {
    const c = b[p]!;
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return -1;
  }
  b[p++] = 0x22;
  return p;
}

function step(level: Map<string | null, unknown>, v: string | null): Map<string | null, unknown> {
  let next = level.get(v) as Map<string | null, unknown> | undefined;
  if (next === undefined) level.set(v, (next = new Map()));
  return next;
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
