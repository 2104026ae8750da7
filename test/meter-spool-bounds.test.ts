/**
 * Outcome: the producer's memory stays bounded (overflow goes to the spool
 * synchronously, nothing dropped), spooled batches replay in write order, a
 * line torn by a crash is skipped, and when the disk refuses the spool the
 * events are counted as dropped, logged as an error and the meter reports not ready.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { eventId, type UsageEvent } from '../src/meter/events.js';
import { createMeter, spoolDirFor } from '../src/meter/producer.js';
import { openSpool, type SpoolBatch } from '../src/meter/spool.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { quietLog, rawConfig, tempDir, toConfig } from './support/meter-env.js';

const tmp = tempDir();
after(() => tmp.remove());

function ev(i: number): UsageEvent {
  return {
    event_id: eventId(`bound-${i}`, 'request'), kind: 'request', user_id: 'u', key_id: null, stripe_customer: null, service: 's',
    route: '/r', request_id: `bound-${i}`, quantity: 1, occurred_at: 1_700_000_000_000 + i, method: 'GET', status: 200,
    bytes_in: 0, bytes_out: 0, latency_ms: 0,
  };
}

async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const vals = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return vals.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

test('standalone, buffer capped at 100: 1000 events never hold more than 100 in memory and all reach the spool in order', async () => {
  const cfg = toConfig(rawConfig({ queue: 'q', prefix: 'p:', spoolDir: join(tmp.dir, 'bounded'), metering: { flush_interval_ms: 600000, batch_max_events: 60, max_buffer_events: 100 } }));
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
  assert.equal(await value(metrics, 'argus_usage_events_total', { outcome: 'dropped' }), 0);

  const sent: string[] = [];
  const spool = openSpool(spoolDirFor(cfg), { fileBytes: 1 << 20, log: quietLog });
  assert.equal(spool.pending(), true);
  await spool.replay(async (b) => {
    sent.push(...b.events.map((e) => e.request_id));
  });
  assert.deepEqual(sent, Array.from({ length: 1000 }, (_, i) => `bound-${i}`));
  assert.equal(spool.pending(), false);
  assert.deepEqual(readdirSync(spoolDirFor(cfg)), []);
  await spool.close();
});

test('a torn last line (crash mid-write) is skipped; a failed send keeps the file for the next replay', async () => {
  const dir = join(tmp.dir, 'torn');
  const spool = openSpool(dir, { fileBytes: 1 << 20, log: quietLog });
  await spool.append({ id: 'b_1', events: [ev(1)] });
  await spool.append({ id: 'b_2', events: [ev(2)] });
  await spool.close();
  const [file] = readdirSync(dir);
  appendFileSync(join(dir, file!), '{"id":"b_3","events":[{"event_id":"ev_tor');

  const again = openSpool(dir, { fileBytes: 1 << 20, log: quietLog });
  await assert.rejects(again.replay(async () => {
    throw new Error('redis gone');
  }), /redis gone/);
  assert.equal(readdirSync(dir).length, 1, 'file kept after a failed send');
  const got: SpoolBatch[] = [];
  assert.equal(await again.replay(async (b) => void got.push(b)), 2);
  assert.deepEqual(got.map((b) => b.id), ['b_1', 'b_2']);
  assert.deepEqual(readdirSync(dir), []);
  await again.close();
});

test('the disk refuses the spool: events counted as dropped, logged as an error, meter not ready', async () => {
  const cfg = toConfig(rawConfig({ queue: 'q', prefix: 'p:', spoolDir: join(tmp.dir, 'refused') }));
  const lines: string[] = [];
  const metrics = new Metrics({ defaultMetrics: false });
  const meter = createMeter(cfg, { metrics, log: createLogger('error', {}, (l) => lines.push(l)) });
  assert.equal(meter.ready(), true);
  // Replace the spool directory with a file: every write now fails, as on a full disk.
  rmSync(spoolDirFor(cfg), { recursive: true });
  writeFileSync(spoolDirFor(cfg), 'not a directory');
  for (let i = 0; i < 7; i++) meter.record(ev(i));
  await meter.flush();
  assert.equal(await value(metrics, 'argus_usage_events_total', { outcome: 'dropped' }), 7);
  assert.equal(meter.ready(), false);
  assert.ok(lines.some((l) => /DROPPED/.test(l) && JSON.parse(l).level === 'error' && JSON.parse(l).events === 7), lines.join('\n'));
  await meter.close();
  assert.equal(readFileSync(spoolDirFor(cfg), 'utf8'), 'not a directory');
});
