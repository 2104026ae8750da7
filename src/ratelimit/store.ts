/**
 * The in-process bucket store: one GCRA state (a TAT) per subject × route class,
 * kept in a SharedArrayBuffer so every worker thread of a sidecar shares the
 * same buckets (limits hold per sidecar, never silently per thread).
 *
 * Layout: a fixed, set-associative table of `groups × 8` slots, each holding a
 * 64-bit key fingerprint and a float64 TAT; one futex-style lock per group makes
 * a check atomic across threads. Memory is fixed at creation. A slot whose TAT
 * is not ahead of now is idle (its bucket is full, the same as never seen) and
 * is reused first; when all 8 slots of a group are busy the one closest to
 * idle is evicted, which forgives that subject's remaining debt (counted in
 * {@link BucketStore.evictions}; size `max_subjects` so this stays at zero).
 */
import { gcra, type Rate, type Step, type TakeMode } from './gcra.js';

const SEED1 = 0xdeadbeef;
const SEED2 = 0x41c6ce57;

// Results of absorb() and fingerprint(): module state instead of returned pairs, so a check allocates nothing.
let mixed1 = 0;
let mixed2 = 0;
let fp1 = 0;
let fp2 = 0;

/**
 * A bucket key's fixed first part (route class and rate) with its hash state:
 * a check hashes only the subject that follows, and never builds the whole key.
 */
export interface KeyPrefix {
  readonly text: string;
  readonly h1: number;
  readonly h2: number;
}

/** Hash `text` once, for every key that starts with it. */
export function keyPrefix(text: string): KeyPrefix {
  absorb(SEED1, SEED2, text);
  return { text, h1: mixed1, h2: mixed2 };
}

export interface BucketStore {
  /** Run one GCRA step on the bucket of key `prefix.text + subject`, atomically across threads. Never throws. */
  take(prefix: KeyPrefix, subject: string, nowMs: number, rate: Rate, cost: number, mode: TakeMode): Step;
  /** The shared memory: pass it to worker threads (workerData) and {@link attachBucketStore} it there. */
  readonly buffer: SharedArrayBuffer;
  /** Slots in the table (≥ 2 × max_subjects). */
  readonly slots: number;
  /** Busy subjects evicted so far (across all threads). */
  evictions(): number;
}

const WAYS = 8;
const MAGIC = 0x41524c31;
const HEADER_BYTES = 16; // int32: magic, groups, evictions, unused

/** Create a store sized for `maxSubjects` concurrent subjects (twice that many slots, rounded up to a power of two). */
export function createBucketStore(opts: { maxSubjects: number }): BucketStore {
  if (!Number.isInteger(opts.maxSubjects) || opts.maxSubjects < 1) throw new TypeError('createBucketStore: maxSubjects must be a positive integer');
  let groups = 1;
  while (groups * WAYS < opts.maxSubjects * 2) groups *= 2;
  const buffer = new SharedArrayBuffer(layout(groups).bytes);
  const header = new Int32Array(buffer, 0, 4);
  header[0] = MAGIC;
  header[1] = groups;
  return attachBucketStore(buffer);
}

/** Use a store created by {@link createBucketStore} in another thread. Throws on a foreign buffer. */
export function attachBucketStore(buffer: SharedArrayBuffer): BucketStore {
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES) throw new TypeError('attachBucketStore: not a bucket store buffer');
  const header = new Int32Array(buffer, 0, 4);
  const groups = header[1] ?? 0;
  if (header[0] !== MAGIC || groups < 1 || (groups & (groups - 1)) !== 0 || layout(groups).bytes !== buffer.byteLength) {
    throw new TypeError('attachBucketStore: not a bucket store buffer');
  }
  const l = layout(groups);
  const locks = new Int32Array(buffer, l.locks, groups);
  const fps = new Int32Array(buffer, l.fps, groups * WAYS * 2);
  const tats = new Float64Array(buffer, l.tats, groups * WAYS);
  const mask = groups - 1;

  function take(prefix: KeyPrefix, subject: string, nowMs: number, rate: Rate, cost: number, mode: TakeMode): Step {
    fingerprint(prefix, subject);
    const h1 = fp1;
    const h2 = fp2;
    const g = h1 & mask;
    const first = g * WAYS;
    lock(locks, g);
    try {
      let slot = -1;
      let free = -1;
      let closest = first;
      for (let s = first; s < first + WAYS; s++) {
        if (fps[2 * s] === h1 && fps[2 * s + 1] === h2) {
          slot = s;
          break;
        }
        const t = tats[s]!;
        if (free < 0 && t <= nowMs) free = s;
        if (t < tats[closest]!) closest = s;
      }
      let tat = 0;
      if (slot >= 0) {
        tat = tats[slot]!;
      } else if (mode !== 'peek') {
        if (free < 0) Atomics.add(header, 2, 1);
        slot = free >= 0 ? free : closest;
        fps[2 * slot] = h1;
        fps[2 * slot + 1] = h2;
        tats[slot] = 0;
      }
      const r = gcra(tat, nowMs, rate, cost, mode);
      if (slot >= 0 && r.tat !== tat) tats[slot] = r.tat;
      return { allowed: r.allowed, debtMs: r.tat > nowMs ? r.tat - nowMs : 0 };
    } finally {
      unlock(locks, g);
    }
  }

  return { take, buffer, slots: groups * WAYS, evictions: () => Atomics.load(header, 2) };
}

function layout(groups: number): { locks: number; fps: number; tats: number; bytes: number } {
  const locks = HEADER_BYTES;
  const fps = locks + groups * 4;
  const tats = Math.ceil((fps + groups * WAYS * 8) / 8) * 8;
  return { locks, fps, tats, bytes: tats + groups * WAYS * 8 };
}

/**
 * Futex-style mutex (Drepper, "Futexes Are Tricky", mutex 2): 0 free, 1 held,
 * 2 held with waiters. Critical sections are a few dozen instructions, so a
 * short spin almost always wins; Atomics.wait only under real contention.
 */
function lock(locks: Int32Array, g: number): void {
  if (Atomics.compareExchange(locks, g, 0, 1) === 0) return;
  for (let i = 0; i < 100; i++) {
    if (Atomics.load(locks, g) === 0 && Atomics.compareExchange(locks, g, 0, 1) === 0) return;
  }
  let c = Atomics.exchange(locks, g, 2);
  while (c !== 0) {
    Atomics.wait(locks, g, 2, 5);
    c = Atomics.exchange(locks, g, 2);
  }
}

function unlock(locks: Int32Array, g: number): void {
  if (Atomics.exchange(locks, g, 0) === 2) Atomics.notify(locks, g, 1);
}

/** cyrb53's per-character mixing of `s` into the state (h1, h2) → (mixed1, mixed2). */
function absorb(h1: number, h2: number, s: string): void {
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  mixed1 = h1;
  mixed2 = h2;
}

/**
 * 64-bit fingerprint of `prefix.text + subject` into (fp1, fp2): the mixing
 * continued from the prefix's state over the subject, then finalised; never
 * (0, 0), the empty slot.
 */
function fingerprint(prefix: KeyPrefix, subject: string): void {
  absorb(prefix.h1, prefix.h2, subject);
  const h1 = Math.imul(mixed1 ^ (mixed1 >>> 16), 2246822507) ^ Math.imul(mixed2 ^ (mixed2 >>> 13), 3266489909);
  const h2 = Math.imul(mixed2 ^ (mixed2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  fp1 = h1 | 0;
  fp2 = (h1 | h2) === 0 ? 1 : h2 | 0;
}
