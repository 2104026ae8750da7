/**
 * Metering benchmark: usage events per second end to end (producer → BullMQ →
 * `argus-sidecar worker` process → Postgres ledger), the spool path's rate
 * (Redis away: append + fsync per batch), and the cost of `Meter.record` on the
 * request path. Results: bench/results/<date>-<sha>/metering.{json,md} and a table on stdout.
 *
 * Needs Redis on 127.0.0.1:6379 and Postgres on 127.0.0.1:5432 (a throwaway
 * schema and queue are created and removed). The proxy's rps with metering on
 * vs off belongs to the proxy bench once the pipeline calls the meter.
 *
 * Usage: node dist/bench/metering.js [--events N] (default 50000)
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { eventId, type UsageEvent } from '../src/meter/events.js';
import { createMeter } from '../src/meter/producer.js';
import { Metrics } from '../src/observe/metrics.js';
import {
  SHARED_REDIS,
  createTestDb,
  ledgerCount,
  obliterateQueue,
  quietLog,
  rand,
  rawConfig,
  spawnWorker,
  tempDir,
  toConfig,
  waitFor,
  writeConfig,
} from '../test/support/meter-env.js';
import { writeResultFiles } from './results-dir.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' } } });
const N = Number(values.events);

function event(i: number, tag: string): UsageEvent {
  return {
    event_id: eventId(`${tag}-${i}`, 'request'),
    kind: 'request',
    user_id: `u-${i % 100}`,
    key_id: `k-${i % 300}`,
    stripe_customer: null,
    service: 'bench',
    route: '/v1/predictions/*',
    request_id: `${tag}-${i}`,
    quantity: 1,
    occurred_at: Date.now(),
    method: 'GET',
    status: 200,
    bytes_in: 0,
    bytes_out: 512,
    latency_ms: 1.5,
  };
}

interface Row {
  scenario: string;
  events: number;
  seconds: number;
  events_per_s: number;
  note: string;
}
const rows: Row[] = [];
const tmp = tempDir();
const db = await createTestDb();
const queue = `bench-${rand()}`;
const prefix = `argus-bench-${rand()}:`;
try {
  // 1. End to end: record N events as fast as the producer takes them, one worker process drains them.
  const raw = rawConfig({
    redisUrl: SHARED_REDIS,
    pgUrl: db.url,
    queue,
    prefix,
    spoolDir: join(tmp.dir, 'e2e'),
    metering: { max_buffer_events: 200000, worker: { concurrency: 4 } },
  });
  raw.log = { level: 'info' };
  const worker = spawnWorker(writeConfig(tmp.dir, raw));
  await worker.started;
  const metrics = new Metrics({ defaultMetrics: false });
  const meter = createMeter(toConfig(raw), { metrics, log: quietLog });
  const events = Array.from({ length: N }, (_, i) => event(i, 'e2e'));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    meter.record(events[i]!);
    // Yield now and then, like a proxy between requests, so batches leave while recording.
    if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
  }
  const tRecorded = process.hrtime.bigint();
  await meter.flush();
  await waitFor('ledger', async () => (await ledgerCount(db.pool)).rows >= N, 300000, 20);
  const t1 = process.hrtime.bigint();
  const s = Number(t1 - t0) / 1e9;
  rows.push({
    scenario: 'end to end (queue → worker → ledger)',
    events: N,
    seconds: round(s),
    events_per_s: Math.round(N / s),
    note: '1 worker process, concurrency 4, batches of 500',
  });
  rows.push({
    scenario: 'record() incl. batching + addBulk',
    events: N,
    seconds: round(Number(tRecorded - t0) / 1e9),
    events_per_s: Math.round(N / (Number(tRecorded - t0) / 1e9)),
    note: `${(Number(tRecorded - t0) / N).toFixed(0)} ns/event on the request thread`,
  });
  await meter.close();
  worker.proc.kill('SIGTERM');
  await worker.exited;

  // 2. Spool path: Redis absent, every batch appended and fsync'd.
  const spoolCfg = toConfig(rawConfig({ queue, prefix, spoolDir: join(tmp.dir, 'spool') }));
  const spoolMeter = createMeter(spoolCfg, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog });
  const spoolEvents = Array.from({ length: N }, (_, i) => event(i, 'spool'));
  const s0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    spoolMeter.record(spoolEvents[i]!);
    if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
  }
  await spoolMeter.close();
  const ss = Number(process.hrtime.bigint() - s0) / 1e9;
  rows.push({ scenario: 'spool (Redis away, fsync per batch)', events: N, seconds: round(ss), events_per_s: Math.round(N / ss), note: 'local disk' });
} finally {
  await obliterateQueue(SHARED_REDIS, queue, prefix).catch(() => undefined);
  await db.drop();
  tmp.remove();
}

const loadavg1m = round(loadavg()[0] ?? 0);
const md = `# metering\n\n| scenario | events | seconds | events/s | note |\n|---|---:|---:|---:|---|\n${rows.map((r) => `| ${r.scenario} | ${r.events} | ${r.seconds} | ${r.events_per_s} | ${r.note} |`).join('\n')}\n`;
writeResultFiles('metering', `node dist/bench/metering.js --events ${N}`, { loadavg_1m: loadavg1m }, { results: rows }, md);
const widths = [40, 8, 8, 12];
const line = (c: Array<string | number>) => c.map((v, i) => String(v).padEnd(widths[i] ?? 0)).join(' ');
process.stdout.write(line(['scenario', 'events', 'seconds', 'events/s']) + ' note\n');
for (const r of rows) process.stdout.write(line([r.scenario, r.events, r.seconds, r.events_per_s]) + ' ' + r.note + '\n');
process.stdout.write(`(machine: ${cpus().length} cpus, load ${loadavg1m})\n`);

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
