/**
 * Outcome: the producer's memory stays bounded while the spool holds everything
 * (standalone: nothing leaves the disk), a later producer with Redis on the same
 * directory sends every spooled event to the ledger and deletes the files once
 * the ledger has them; a line torn by a crash is skipped; when the disk refuses
 * the spool the events are counted as unspooled, logged as an error and the
 * meter reports not ready.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventId, type UsageEvent } from '../src/meter/events.js';
import { createMeter, spoolDirFor } from '../src/meter/producer.js';
import { readSegment, segmentFiles } from '../src/meter/spool.js';
import { decodeBatch } from '../src/meter/wire.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { createBillingWorker } from '../src/billing/billing-worker.js';
import { SHARED_REDIS, ledgerCount, meterFixture, quietLog, rawConfig, toConfig, waitFor } from './support/meter-env.js';

const fx = meterFixture();

function ev(i: number): UsageEvent {
  return {
    event_id: eventId(`bound-${i}`, 'request'),
    kind: 'request',
    user_id: 'u',
    key_id: null,
    stripe_customer: null,
    service: 's',
    route: '/r',
    request_id: `bound-${i}`,
    quantity: 1,
    occurred_at: 1_700_000_000_000 + i,
    method: 'GET',
    status: 200,
    bytes_in: 0,
    bytes_out: 0,
    latency_ms: 0,
  };
}

async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const vals = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return vals.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

test('standalone, memory capped at 100: 1000 events stay bounded in memory, all spooled; a producer with Redis later puts all in the ledger and empties the spool', async (t) => {
  const spoolDir = join(fx.tmp.dir, 'bounded');
  const cfg = toConfig(
    rawConfig({ queue: fx.queue, prefix: fx.prefix, spoolDir, metering: { flush_interval_ms: 600000, batch_max_events: 60, max_buffer_events: 100 } }),
  );
  const metrics = new Metrics({ defaultMetrics: false });
  const meter = createMeter(cfg, { metrics, log: quietLog });
  let peak = 0;
  for (let i = 0; i < 1000; i++) {
    meter.record(ev(i));
    peak = Math.max(peak, await value(metrics, 'argus_usage_buffer_events'));
  }
  assert.ok(peak <= 100, `peak ${peak}`);
  await meter.close();
  assert.equal(await value(metrics, 'argus_usage_events_total', { outcome: 'spooled' }), 1000);
  assert.equal(await value(metrics, 'argus_usage_events_total', { outcome: 'unspooled' }), 0);
  const dir = spoolDirFor(cfg);
  const ids = segmentFiles(dir).flatMap((f) =>
    readSegment(dir, f, quietLog)
      .batches.flatMap((b) => decodeBatch('batch.v2', b.data) as UsageEvent[])
      .map((e) => e.request_id),
  );
  assert.deepEqual(
    ids,
    Array.from({ length: 1000 }, (_, i) => `bound-${i}`),
    'spooled in order',
  );

  // Same directory, now with Redis and a worker: everything is sent, committed, acknowledged, and the files go.
  const cfgUp = toConfig(
    rawConfig({ redisUrl: SHARED_REDIS, pgUrl: fx.db.url, queue: fx.queue, prefix: fx.prefix, spoolDir, metering: { ack_interval_ms: 100 } }),
  );
  const worker = createBillingWorker(cfgUp, { pool: fx.db.pool, metrics, log: quietLog });
  const again = createMeter(cfgUp, { metrics, log: quietLog });
  t.after(() => Promise.all([again.close(), worker.close()]));
  await waitFor('1000 rows', async () => (await ledgerCount(fx.db.pool)).rows === 1000, 30000, 100);
  assert.deepEqual(await ledgerCount(fx.db.pool), { rows: 1000, distinct: 1000 });
  await waitFor('spool emptied once acknowledged', () => segmentFiles(dir).length === 0, 20000, 50);
  assert.equal(await value(metrics, 'argus_usage_events_total', { outcome: 'acked' }), 1000);
});

test('a torn last line (crash mid-write) is skipped; the lines before it are read', async () => {
  const dir = join(fx.tmp.dir, 'torn');
  const cfg = toConfig(rawConfig({ queue: fx.queue, prefix: fx.prefix, spoolDir: dir, metering: { flush_interval_ms: 600000 } }));
  const meter = createMeter(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog });
  meter.record(ev(1));
  meter.record(ev(2));
  await meter.flush();
  await meter.close();
  const sdir = spoolDirFor(cfg);
  const [file] = segmentFiles(sdir);
  appendFileSync(join(sdir, file!), '{"b":"b_x","t":1,"s":["u"],"c":[0,');
  const lines: string[] = [];
  const got = readSegment(
    sdir,
    file!,
    createLogger('warn', {}, (l) => lines.push(l)),
  );
  assert.deepEqual(
    got.batches.flatMap((b) => (decodeBatch('batch.v2', b.data) as UsageEvent[]).map((e) => e.request_id)),
    ['bound-1', 'bound-2'],
  );
  assert.ok(
    lines.some((l) => /unreadable line/.test(l)),
    lines.join('\n'),
  );
  assert.ok(readFileSync(join(sdir, file!), 'utf8').length > 0);
});

test('the disk refuses the spool: events counted as unspooled, logged as an error, meter not ready', async () => {
  const cfg = toConfig(rawConfig({ queue: fx.queue, prefix: fx.prefix, spoolDir: join(fx.tmp.dir, 'refused') }));
  const lines: string[] = [];
  const metrics = new Metrics({ defaultMetrics: false });
  const meter = createMeter(cfg, { metrics, log: createLogger('error', {}, (l) => lines.push(l)) });
  assert.equal(meter.ready(), true);
  // Replace the spool directory with a file: every write now fails, as on a full disk.
  rmSync(spoolDirFor(cfg), { recursive: true });
  writeFileSync(spoolDirFor(cfg), 'not a directory');
  for (let i = 0; i < 7; i++) meter.record(ev(i));
  await meter.flush();
  assert.equal(await value(metrics, 'argus_usage_events_total', { outcome: 'unspooled' }), 7);
  assert.equal(meter.ready(), false);
  assert.ok(
    lines.some((l) => /NOT SPOOLED/.test(l) && JSON.parse(l).level === 'error'),
    lines.join('\n'),
  );
  await meter.close();
  assert.equal(readFileSync(spoolDirFor(cfg), 'utf8'), 'not a directory');
});
