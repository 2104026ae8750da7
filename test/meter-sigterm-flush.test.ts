/**
 * Outcome: a proxy process SIGTERM'd with usage events still buffered loses
 * none: they go to the queue when Redis is up, or to the spool when it is not,
 * from where the next process replays them into the ledger.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createMeter, spoolDirFor } from '../src/meter/producer.js';
import { Metrics } from '../src/observe/metrics.js';
import { createBillingWorker } from '../src/billing/billing-worker.js';
import { SHARED_REDIS, freePort, ledgerCount, meterFixture, quietLog, rawConfig, toConfig, waitFor, writeConfig } from './support/meter-env.js';

const CHILD = fileURLToPath(new URL('./support/meter-producer-child.js', import.meta.url));
const fx = meterFixture();
const { queue, prefix, tmp } = fx;

/** Start the child, wait until it holds `count` buffered events, SIGTERM it, return its exit code. */
async function terminateWithBuffered(file: string, count: number, idPrefix: string): Promise<number | null> {
  const child = spawn(process.execPath, [CHILD, file, String(count), idPrefix], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await waitFor('child buffered', () => out.includes(`buffered ${count}`), 15000, 20);
  child.kill('SIGTERM');
  return exited;
}

const buffered = { flush_interval_ms: 600000, batch_max_events: 10000, max_buffer_events: 100000 };

test('SIGTERM with Redis up: buffered events are flushed to the queue and reach the ledger', async (t) => {
  const raw = rawConfig({ redisUrl: SHARED_REDIS, pgUrl: fx.db.url, queue, prefix, spoolDir: `${tmp.dir}/up`, metering: buffered });
  const cfg = toConfig(raw);
  const worker = createBillingWorker(cfg, { pool: fx.db.pool, metrics: new Metrics({ defaultMetrics: false }), log: quietLog });
  t.after(() => worker.close());
  assert.equal(await terminateWithBuffered(writeConfig(tmp.dir, raw), 300, 'term-up'), 0);
  await waitFor('300 rows', async () => (await ledgerCount(fx.db.pool)).rows === 300);
  assert.deepEqual(await ledgerCount(fx.db.pool), { rows: 300, distinct: 300 });
});

test('SIGTERM with Redis unreachable: buffered events are spooled, then replayed by the next process', async (t) => {
  await fx.db.pool.query('TRUNCATE usage_events');
  const dead = `redis://127.0.0.1:${await freePort()}`;
  const spoolDir = `${tmp.dir}/down`;
  const rawDown = rawConfig({ redisUrl: dead, pgUrl: fx.db.url, queue, prefix, spoolDir, metering: { ...buffered, queue_timeout_ms: 200 } });
  assert.equal(await terminateWithBuffered(writeConfig(tmp.dir, rawDown), 250, 'term-down'), 0);
  const cfgUp = toConfig(rawConfig({ redisUrl: SHARED_REDIS, pgUrl: fx.db.url, queue, prefix, spoolDir }));
  assert.ok(readdirSync(spoolDirFor(cfgUp, 0)).length > 0, 'the child left spool files');
  assert.equal((await ledgerCount(fx.db.pool)).rows, 0);

  // The restarted proxy (same spool directory, Redis reachable again) replays them.
  const metrics = new Metrics({ defaultMetrics: false });
  const worker = createBillingWorker(cfgUp, { pool: fx.db.pool, metrics, log: quietLog });
  const meter = createMeter(cfgUp, { metrics, log: quietLog });
  t.after(() => Promise.all([meter.close(), worker.close()]));
  await waitFor('250 rows', async () => (await ledgerCount(fx.db.pool)).rows === 250);
  assert.deepEqual(await ledgerCount(fx.db.pool), { rows: 250, distinct: 250 });
  await waitFor('spool emptied', () => readdirSync(spoolDirFor(cfgUp, 0)).length === 0);
});
