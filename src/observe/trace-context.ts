/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and
 * `tracestate` request headers, parsed without regular expressions or allocation
 * beyond the result, because every traced request runs through here and the
 * bytes come from the client.
 *
 * A header that breaks the grammar is ignored as a whole (§3.2.2.x: "the vendor
 * MUST ignore the traceparent"): the sidecar then starts a new trace and never
 * forwards what it could not parse. Two `traceparent` headers are as bad as a
 * malformed one (§3.2: a request carries exactly one).
 */
import { randomFillSync } from 'node:crypto';

/** A parsed `traceparent`: who called, and whether the caller records the trace. */
export interface TraceParent {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** The caller's span: 16 lower-case hex digits, not all zero. */
  readonly spanId: string;
  /** The trace-flags byte (bit 0: sampled). */
  readonly flags: number;
  /** The header itself when it is version 00 (it may then be passed on unchanged), else null. */
  readonly header: string | null;
}

/** What a request brought: a valid parent (or none), and its `tracestate` when the parent is valid. */
export interface IncomingTrace {
  readonly parent: TraceParent | null;
  readonly state: string | null;
}

const NO_TRACE: IncomingTrace = Object.freeze({ parent: null, state: null });

/** 0–15 per lower-case hex digit's char code, -1 for every other code below 128. */
const HEXV = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEXV['0123456789abcdef'.charCodeAt(i)] = i;

/** 0–15 for a lower-case hex digit, else -1 (upper case is invalid in both ids and flags). */
function hexValue(c: number): number {
  return c < 128 ? HEXV[c]! : -1;
}

/**
 * Parse one `traceparent` value; null when it breaks the grammar:
 * `version "-" trace-id "-" parent-id "-" trace-flags`. Version `ff` is invalid;
 * version `00` is exactly 55 characters; a later version may append fields after
 * a `-` (§3.2.4, parsed as 00 and re-sent as 00).
 */
export function parseTraceparent(value: string): TraceParent | null {
  const n = value.length;
  if (n < 55) return null;
  const v0 = hexValue(value.charCodeAt(0));
  const v1 = hexValue(value.charCodeAt(1));
  if (v0 < 0 || v1 < 0) return null;
  const version = v0 * 16 + v1;
  if (version === 0xff) return null;
  if (version === 0 ? n !== 55 : n > 55 && value.charCodeAt(55) !== 45) return null;
  if (value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45) return null;
  if (!nonZeroHex(value, 3, 35) || !nonZeroHex(value, 36, 52)) return null;
  const f0 = hexValue(value.charCodeAt(53));
  const f1 = hexValue(value.charCodeAt(54));
  if (f0 < 0 || f1 < 0) return null;
  return new ParsedTraceparent(value, f0 * 16 + f1, version === 0 ? value : null);
}

/**
 * True when value[from, to) is lower-case hex and not all zero: one table load
 * per character. Most of the cost is `charCodeAt` itself (~30 instructions a
 * character in V8's optimized code); a regular expression (1,562 instructions
 * for the header end to end, callgrind), range compares without the table, or a
 * copy into a buffer first all measured the same or more (bench/tracing-micro.ts;
 * bench/results, tracing-cost.md).
 */
function nonZeroHex(value: string, from: number, to: number): boolean {
  let any = 0;
  for (let i = from; i < to; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128) return false;
    const v = HEXV[c]!;
    if (v < 0) return false;
    any |= v;
  }
  return any !== 0;
}

/** The ids are cut from the header when first read: a request that is not sampled never reads them. */
class ParsedTraceparent implements TraceParent {
  private tid: string | undefined;
  private sid: string | undefined;
  constructor(
    private readonly value: string,
    readonly flags: number,
    readonly header: string | null,
  ) {}
  get traceId(): string {
    return (this.tid ??= this.value.slice(3, 35));
  }
  get spanId(): string {
    return (this.sid ??= this.value.slice(36, 52));
  }
}

const MAX_MEMBERS = 32;
const MAX_STATE_BYTES = 512;

/** key = simple-key / multi-tenant-key (§3.3.1.3.1): lcalpha (lcalpha / DIGIT / "_" / "-"/ "*" / "/"){0,255}, or tenant@system. */
function validKey(s: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 1 || len > 256) return false;
  let at = -1;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 64 /* @ */) {
      if (at >= 0 || i === from || to - i - 1 < 1 || to - i - 1 > 14 || i - from > 241) return false;
      at = i;
      continue;
    }
    const lower = c >= 97 && c <= 122;
    const digit = c >= 48 && c <= 57;
    // The first character of a key, or of the system after "@", is a letter (a tenant id may start with a digit).
    if (i === from && !lower && !digit) return false;
    if (i === at + 1 && at >= 0 && !lower) return false;
    if (!lower && !digit && c !== 95 && c !== 45 && c !== 42 && c !== 47) return false;
  }
  // A simple key starts with a letter; only a multi-tenant key's tenant may start with a digit.
  const first = s.charCodeAt(from);
  return at >= 0 || (first >= 97 && first <= 122);
}

/** value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E. */
function validValue(s: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 1 || len > 256) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20 && i < to - 1) continue;
    if (c < 0x21 || c > 0x7e || c === 0x2c || c === 0x3d) return false;
  }
  return true;
}

/**
 * Validate a `tracestate` (the values of every such header joined with ","):
 * at most 32 list members of `key=value`, unique keys, empty members and
 * optional whitespace around commas allowed. Returns the normalised list, or
 * null when anything is invalid (the whole header is then dropped, §3.3.1.1).
 */
export function parseTracestate(value: string): string | null {
  if (value.length > MAX_STATE_BYTES) return null;
  const members: string[] = [];
  const keys = new Set<string>();
  let i = 0;
  const n = value.length;
  while (i <= n) {
    let end = value.indexOf(',', i);
    if (end < 0) end = n;
    let a = i;
    let b = end;
    while (a < b && (value.charCodeAt(a) === 32 || value.charCodeAt(a) === 9)) a++;
    while (b > a && (value.charCodeAt(b - 1) === 32 || value.charCodeAt(b - 1) === 9)) b--;
    if (b > a) {
      const eq = value.indexOf('=', a);
      if (eq < 0 || eq >= b || !validKey(value, a, eq) || !validValue(value, eq + 1, b)) return null;
      const key = value.slice(a, eq);
      if (keys.has(key) || members.length === MAX_MEMBERS) return null;
      keys.add(key);
      members.push(value.slice(a, b));
    }
    i = end + 1;
  }
  return members.length > 0 ? members.join(',') : null;
}

/**
 * The trace context of a request's headers (flat [lower-case name, value, …]).
 * Exactly one valid `traceparent`, else no parent; `tracestate` only beside a valid parent.
 */
export function incomingTrace(headers: readonly string[]): IncomingTrace {
  let parent: string | undefined;
  let count = 0;
  let state: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    // Only names of 10 or 11 characters starting with "t" can match: a length and one character
    // rule out almost every header before a string compare (a runtime call for header strings).
    const len = name.length;
    if ((len !== 11 && len !== 10) || name.charCodeAt(0) !== 116) continue;
    if (name === 'traceparent') {
      parent = headers[i + 1];
      count++;
    } else if (name === 'tracestate') state = state === undefined ? headers[i + 1] : `${state},${headers[i + 1]}`;
  }
  if (count !== 1) return NO_TRACE;
  const p = parseTraceparent(parent!);
  if (!p) return NO_TRACE;
  return { parent: p, state: state === undefined ? null : parseTracestate(state) };
}

/**
 * New trace contexts come from random bytes drawn 1,024 ids at a time: one
 * CSPRNG fill, one native hex encoding of the whole batch, and the batch's
 * headers joined into one flat string; a request takes a 55-character slice.
 * A header concatenated per request was a cons string that the h1 client's
 * head join then had to flatten (+1,300 instructions per request against the
 * slice, bench/tracing-micro.ts with the head built); writing the header's
 * bytes in a JavaScript loop costs more still (V8's `charCodeAt`/typed-array
 * work is 25–35 instructions a character even in optimized code).
 */
const BATCH = 1024;
const RANDOM = new Uint8Array(BATCH * 24);
const RANDOM_HEX = Buffer.from(RANDOM.buffer, RANDOM.byteOffset, RANDOM.byteLength);
/** The same bytes as words, for the all-zero check (alignment: RANDOM owns its buffer). */
const WORDS = new Uint32Array(RANDOM.buffer, RANDOM.byteOffset, BATCH * 6);
/** The batch's headers, joined (55 characters each). */
let pool = '';
const HEADERS: string[] = new Array(BATCH).fill('');
let next = BATCH;
/** Where the last id's random bytes start in RANDOM (for {@link lastTraceWord}). */
let last = 0;

function refill(): void {
  randomFillSync(RANDOM);
  // All-zero ids are invalid (probability 2^-128 and 2^-64, but never sent): make them 1.
  for (let i = 0; i < BATCH; i++) {
    const w = i * 6;
    if ((WORDS[w]! | WORDS[w + 1]! | WORDS[w + 2]! | WORDS[w + 3]!) === 0) RANDOM[w * 4 + 15] = 1;
    if ((WORDS[w + 4]! | WORDS[w + 5]!) === 0) RANDOM[w * 4 + 23] = 1;
  }
  const hex = RANDOM_HEX.toString('hex');
  // Every header of the batch in one flat string: a request's header is then a slice of it,
  // which the h1 client's head join copies as it is (a concatenation made per request was a
  // cons string, which the join flattened at ~3,000 instructions more per request).
  for (let i = 0; i < BATCH; i++) HEADERS[i] = `00-${hex.slice(i * 48, i * 48 + 32)}-${hex.slice(i * 48 + 32, i * 48 + 48)}-00`;
  pool = HEADERS.join('');
  next = 0;
}

/** A new trace context: `00-<trace>-<span>-00` with random ids. */
export function newTraceparent(): string {
  if (next === BATCH) refill();
  const i = next++;
  last = i * 24;
  return pool.slice(i * 55, i * 55 + 55);
}

/** The word {@link sampledByRatio} would read from the last {@link newTraceparent}'s trace id (to decide without parsing it). */
export function lastTraceWord(): number {
  const r = last;
  return ((RANDOM[r + 12]! << 24) | (RANDOM[r + 13]! << 16) | (RANDOM[r + 14]! << 8) | RANDOM[r + 15]!) >>> 0;
}

/** A random span id (16 hex digits, never all zero). */
export function newSpanId(): string {
  return newTraceparent().slice(36, 52);
}

/** A random trace id (32 hex digits, never all zero). */
export function newTraceId(): string {
  return newTraceparent().slice(3, 35);
}

/** `ratio` applied to a sampling word (see {@link sampledByRatio}). */
export function sampledWord(word: number, ratio: number): boolean {
  return ratio >= 1 || (ratio > 0 && word < ratio * 0x100000000);
}

/** `00-<trace>-<span>-<flags>`: always version 00, whatever version came in (§3.2.4). */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/**
 * Head sampling by trace id: the id's last 8 hex digits (random in every W3C
 * trace id) read as a fraction of 2^32, below `ratio`. The same trace gets the
 * same answer on every sidecar with the same ratio.
 */
export function sampledByRatio(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  const x = Number.parseInt(traceId.slice(24, 32), 16);
  return x < ratio * 0x100000000;
}
