/**
 * Outcome: closing the usage queue while Redis has never answered leaves no
 * unhandled rejection behind (Node ends a process on one). BullMQ's close
 * removes its connection wrapper's listeners while the wrapper still waits for
 * a first `ready`; the connection's end then rejected that wait with the last
 * connection error and the wrapper re-emitted it as 'error' to no listener.
 *
 * The stand-in "Redis" resets the first connection (an error the client keeps
 * as its last) and holds the second one silent (the client still waiting), so
 * the close always lands in that window.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { createUsageQueue } from '../src/meter/queue.js';
import { meterFixture, rawConfig, toConfig, waitFor } from './support/meter-env.js';

const fx = meterFixture();

test('closing the usage queue while Redis never answered rejects nothing unhandled', async () => {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    if (sockets.length === 1) s.resetAndDestroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const url = `redis://127.0.0.1:${port}`;
    const cfg = toConfig(rawConfig({ redisUrl: url, queue: `${fx.queue}-close`, prefix: fx.prefix, spoolDir: `${fx.tmp.dir}/close` }));
    const queue = createUsageQueue(cfg, url);
    await waitFor('the client to reconnect after the reset', () => sockets.length >= 2, 5000, 10);
    assert.equal(queue.connected(), true, 'never ready yet: still on its first attempt');
    await queue.close();
    // The rejection, if any, follows the connection's end within a few turns of the event loop.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      unhandled.map((e) => String(e)),
      [],
    );
  } finally {
    process.off('unhandledRejection', onUnhandled);
    for (const s of sockets) s.destroy();
    server.close();
  }
});
