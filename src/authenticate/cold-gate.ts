/**
 * Miss-storm protection for the cold path. Garbage and forged credentials always
 * miss the cache, so (issue 3) cold verifications are capped (a FIFO queue of
 * bounded length behind a concurrency limit) and a client address that keeps
 * failing is refused before any crypto for the rest of its window.
 */
import { LRUCache } from 'lru-cache';

export function createColdGate(opts: { maxConcurrent: number; maxQueue: number }) {
  let running = 0;
  const waiting: Array<() => void> = [];

  function release(): void {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }

  /** Run `fn` under the cap; null (synchronously) when the queue is full. */
  function tryRun<T>(fn: () => Promise<T>): Promise<T> | null {
    if (running < opts.maxConcurrent) {
      running++;
      return fn().finally(release);
    }
    if (waiting.length >= opts.maxQueue) return null;
    return new Promise<void>((resolve) => waiting.push(resolve)).then(() => fn().finally(release));
  }

  return { tryRun, stats: () => ({ running, waiting: waiting.length }) };
}

const WINDOW_MS = 60_000;

/** Failed cold verifications per client address in fixed one-minute windows. */
export function createFailureWindow(opts: { perMinute: number; now: () => number }) {
  const windows = new LRUCache<string, { start: number; count: number }>({ max: 10_000 });

  /** Seconds until the address may try again, or 0 when it is not blocked. */
  function blockedFor(addr: string): number {
    if (opts.perMinute === 0) return 0;
    const w = windows.get(addr);
    if (w === undefined) return 0;
    const left = w.start + WINDOW_MS - opts.now();
    if (left <= 0) return 0;
    return w.count >= opts.perMinute ? left / 1000 : 0;
  }

  function recordFailure(addr: string): void {
    if (opts.perMinute === 0) return;
    const now = opts.now();
    const w = windows.get(addr);
    if (w === undefined || now - w.start >= WINDOW_MS) windows.set(addr, { start: now, count: 1 });
    else w.count++;
  }

  return { blockedFor, recordFailure };
}
