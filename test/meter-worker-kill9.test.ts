/**
 * Outcome: billing workers killed with SIGKILL mid-batch, again and again, under
 * traffic, lose nothing and duplicate nothing: the ledger ends with exactly the
 * events recorded. The last worker stops on SIGTERM with exit code 0.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildUsageEvents } from '../src/meter/build.js';
import { createMeter } from '../src/meter/producer.js';
import { Metrics } from '../src/observe/metrics.js';
import { SHARED_REDIS, ledgerCount, meterFixture, quietLog, rawConfig, spawnWorker, toConfig, waitFor, writeConfig } from './support/meter-env.js';

const CYCLES = 10;
const fx = meterFixture();
const { queue, prefix, tmp } = fx;

test(`kill -9 the worker ${CYCLES} times under traffic: ledger count equals events, no duplicates`, async (t) => {
  const raw = rawConfig({
    redisUrl: SHARED_REDIS,
    pgUrl: fx.db.url,
    queue,
    prefix,
    spoolDir: tmp.dir,
    metering: { batch_max_events: 25, worker: { concurrency: 2, lock_ms: 1000, stalled_interval_ms: 500, max_stalled_count: 1000 } },
  });
  const cfg = toConfig(raw);
  const file = writeConfig(tmp.dir, raw);
  const meter = createMeter(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog });
  t.after(() => meter.close());

  const recorded = new Set<string>();
  let n = 0;
  let traffic = true;
  const producing = (async () => {
    while (traffic) {
      for (let i = 0; i < 15; i++) {
        const id = `kill-${n++}`;
        const { events } = buildUsageEvents({
          requestId: id,
          route: { path: '/v1/predictions/*' },
          service: 'sibyl',
          auth: { method: 'jwt', user_id: `u-${n % 7}`, tier: 'professional', features: [], scopes: [] },
          method: 'GET',
          status: 200,
          bytesIn: 0,
          bytesOut: 100,
          latencyMs: 2,
          occurredAt: Date.now(),
        });
        for (const ev of events) {
          recorded.add(ev.event_id);
          meter.record(ev);
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const w = spawnWorker(file);
    await w.started;
    const before = (await ledgerCount(fx.db.pool)).rows;
    // Let it commit at least one batch, then kill it while it is in the middle of more.
    await waitFor('worker progress', async () => (await ledgerCount(fx.db.pool)).rows > before, 15000, 10);
    await new Promise((r) => setTimeout(r, 20 + ((cycle * 37) % 120)));
    w.proc.kill('SIGKILL');
    assert.equal(await w.exited, null, 'killed by a signal');
  }
  traffic = false;
  await producing;
  await meter.flush();

  const last = spawnWorker(file);
  await last.started;
  const total = recorded.size;
  await waitFor(`ledger to hold all ${total} events`, async () => (await ledgerCount(fx.db.pool)).rows >= total, 30000, 100);
  // The survivor exposes its work on the admin port.
  const port = /"admin_port":(\d+)/.exec(last.stderr())?.[1];
  assert.ok(port, 'admin port logged');
  assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(text, /^argus_ledger_inserted_total \d+/m);
  assert.match(text, /^argus_usage_lag_seconds\{stage="ledger"\} /m);
  last.proc.kill('SIGTERM');
  assert.equal(await last.exited, 0, last.stderr());

  assert.deepEqual(await ledgerCount(fx.db.pool), { rows: total, distinct: total });
  const ids = (await fx.db.pool.query<{ event_id: string }>('SELECT event_id FROM usage_events')).rows.map((r) => r.event_id);
  assert.deepEqual(new Set(ids), recorded);
});
