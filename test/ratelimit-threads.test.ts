/**
 * Limits hold per sidecar across all its threads: worker threads that attach
 * the same store share one bucket per subject, atomically. The store's memory
 * is fixed; idle subjects make room first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { attachBucketStore, createBucketStore, createRateLimiter, limitPolicy, type Decision, type BucketStore } from '../src/ratelimit/index.js';

const cfg = parseConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/x', auth: 'none' }], ratelimit: { max_subjects: 1000 } });
const NOW = 3_000_000;
const policy = limitPolicy({ name: 'p', limit: 6000, windowS: 60, burst: 4999 }); // 5000 at once

interface ThreadJob {
  role: 'ratelimit-thread';
  buffer: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
  threads: number;
  checks: number;
}

function limiterOn(store: BucketStore) {
  return createRateLimiter(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: createLogger('error'), now: () => NOW, store });
}

if (!isMainThread && (workerData as ThreadJob | undefined)?.role === 'ratelimit-thread') {
  const job = workerData as ThreadJob;
  const limiter = limiterOn(attachBucketStore(job.buffer));
  // Start together so the threads really contend for the same bucket.
  const barrier = new Int32Array(job.barrier);
  Atomics.add(barrier, 0, 1);
  while (Atomics.load(barrier, 0) < job.threads) Atomics.wait(barrier, 0, Atomics.load(barrier, 0), 1);
  let admitted = 0;
  for (let i = 0; i < job.checks; i++) if ((limiter.check('u:shared', policy) as Decision).allowed) admitted++;
  parentPort!.postMessage(admitted);
} else {
  test('two worker threads on one store admit the bucket once, not once per thread', async () => {
    const store = createBucketStore({ maxSubjects: 1000 });
    const barrier = new SharedArrayBuffer(4);
    const job: ThreadJob = { role: 'ratelimit-thread', buffer: store.buffer, barrier, threads: 2, checks: 4000 };
    const counts = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<number>((resolve, reject) => {
            const w = new Worker(new URL(import.meta.url), { workerData: job });
            w.once('message', (n: number) => {
              resolve(n);
              void w.terminate();
            });
            w.once('error', reject);
          }),
      ),
    );
    assert.equal(counts[0]! + counts[1]!, 5000, `threads admitted ${counts.join(' + ')}`);
    assert.ok(counts[0]! > 0 && counts[1]! > 0, 'both threads took tokens');
    // The main thread sees the same, empty bucket.
    assert.equal((limiterOn(store).check('u:shared', policy) as Decision).allowed, false);
  });

  test('memory is fixed; idle subjects are reused without evicting busy ones', () => {
    const store = createBucketStore({ maxSubjects: 64 });
    const bytes = store.buffer.byteLength;
    let t = 10_000;
    const limiter = createRateLimiter(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: createLogger('error'), now: () => t, store });
    const fast = limitPolicy({ name: 'fast', limit: 60_000, windowS: 60, burst: 0 }); // owes 1 ms per request
    // 20 000 one-off subjects in a 128-slot table, each idle again by the time the next arrives.
    for (let i = 0; i < 20_000; i++) {
      t += 2;
      assert.equal((limiter.check(`u:once-${i}`, fast) as Decision).allowed, true);
    }
    assert.equal(store.evictions(), 0, 'idle subjects made room');
    assert.equal(store.buffer.byteLength, bytes);
    // Many busy subjects at one instant: the table must evict, but the one owing the most is kept.
    const slow = limitPolicy({ name: 'slow', limit: 60, windowS: 60, burst: 0 }); // owes 1 s per request
    assert.equal((limiter.check('u:hog', slow) as Decision).allowed, true);
    for (let i = 0; i < 1000; i++) limiter.check(`u:busy-${i}`, fast);
    assert.ok(store.evictions() > 0);
    assert.equal((limiter.check('u:hog', slow) as Decision).allowed, false, 'the subject furthest from idle is kept');
  });

  test('attachBucketStore rejects a foreign buffer', () => {
    assert.throws(() => attachBucketStore(new SharedArrayBuffer(64)), TypeError);
  });
}
