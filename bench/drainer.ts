/**
 * A billing worker that writes nothing: completes every job of the usage queue
 * at once, so a benchmarked proxy's batches are acknowledged as they would be by
 * `argus-sidecar worker` with a ledger that keeps up (its Postgres inserts
 * would need a core of their own, which this 2-core benchmark does not have).
 *
 * Usage: node dist/bench/drainer.js <redis url> <queue name> <bullmq prefix>
 * Prints "ready" once the worker runs, and the jobs it completed when it stops.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [url, queue, prefix] = process.argv.slice(2);
if (!url || !queue || !prefix) {
  process.stderr.write('usage: drainer.js <redis url> <queue> <prefix>\n');
  process.exit(2);
}
let completed = 0;
const worker = new Worker(queue, async () => undefined, {
  connection: new Redis(url, { maxRetriesPerRequest: null }),
  prefix,
  concurrency: 64,
});
worker.on('completed', () => completed++);
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.on(
  'SIGTERM',
  () =>
    void worker.close().then(() => {
      process.stderr.write(`bench drainer: ${completed} batches completed\n`);
      process.exit(0);
    }),
);
