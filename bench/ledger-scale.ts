/**
 * Ledger at scale: one billing worker's sustained insert rate (events/s) into the
 * partitioned `usage_events` (migration 009), on an empty ledger and on one
 * already holding BENCH_LEDGER_ROWS rows (default 50 million) in daily
 * partitions, through the real worker code path: batches added by the sidecar's
 * queue client (src/meter/queue.ts, job format 2) → BullMQ → createBillingWorker
 * → the ledger's one INSERT (src/billing/ledger.ts) with its `usage_windows`
 * upsert. Also times Stripe reporting's search for work (pendingWindows) on the
 * full ledger.
 *
 * The rows are made by Postgres itself (INSERT … SELECT generate_series, one
 * day's partition at a time, built unindexed and then attached), in a database
 * of its own, `argus_bench_<hex>`, dropped at the end (BENCH_KEEP=1 keeps it).
 * The fill shrinks to what the free disk holds (about 700 bytes a row with
 * indexes and slack), and says so.
 *
 * Usage: node dist/bench/ledger-scale.js
 *   BENCH_LEDGER_ROWS (50000000), BENCH_LEDGER_DAYS (25), BENCH_LEDGER_EVENTS (300000 per measurement)
 * Needs Redis on 127.0.0.1:6379 (a throwaway queue) and Postgres on 127.0.0.1:5432.
 */
import { randomBytes } from 'node:crypto';
import { statfsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createBillingWorker } from '../src/billing/billing-worker.js';
import { pendingWindows, partitionName } from '../src/billing/ledger.js';
import { createPool, migrate, quoteIdent, type Pool } from '../src/clients/postgres.js';
import { parseConfig } from '../src/config.js';
import { eventId, type UsageEvent } from '../src/meter/events.js';
import { createUsageQueue } from '../src/meter/queue.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { writeResultFiles } from './results-dir.js';

const PG = 'postgres://postgres@127.0.0.1:5432';
const REDIS = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const WANT_ROWS = Number(process.env['BENCH_LEDGER_ROWS'] ?? 50_000_000);
const DAYS = Number(process.env['BENCH_LEDGER_DAYS'] ?? 25);
const EVENTS = Number(process.env['BENCH_LEDGER_EVENTS'] ?? 300_000);
const BATCH = 500;
const BYTES_PER_ROW = 700;
const DAY_MS = 86_400_000;
const log = createLogger('error');
const say = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

interface Measurement {
  readonly ledger_rows: number;
  readonly events: number;
  readonly seconds: number;
  readonly events_per_s: number;
}

/** One worker (default concurrency) drains `EVENTS` events queued beforehand; events/s from its first to its last insert. */
async function measure(dbUrl: string, pool: Pool, tag: string): Promise<Measurement> {
  const prefix = `argus-bench-${randomBytes(5).toString('hex')}:`;
  const queue = `ledger-${tag}`;
  const cfg = parseConfig({
    upstream: { url: 'http://127.0.0.1:1' },
    routes: [{ path: '/*', auth: 'none' }],
    redis: { url: REDIS, key_prefix: prefix },
    postgres: { url: dbUrl },
    metering: { queue, queue_timeout_ms: 5000 },
  });
  const ledgerRows = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM usage_events')).rows[0]!.n);
  const q = createUsageQueue(cfg, REDIS);
  const now = Date.now();
  for (let j = 0; j < EVENTS / BATCH; j++) {
    const events: UsageEvent[] = [];
    for (let i = 0; i < BATCH; i++) {
      const n = j * BATCH + i;
      events.push({
        event_id: eventId(`${tag}-${n}`, 'request'),
        kind: 'request',
        user_id: `u${n % 10000}`,
        key_id: `k${n % 30000}`,
        stripe_customer: `cus_${n % 10000}`,
        service: 'sibyl',
        route: '/v1/predict',
        request_id: `${tag}-${n}`,
        quantity: 1,
        occurred_at: now + (n % 1000),
        method: 'POST',
        status: 200,
        bytes_in: 512,
        bytes_out: 2048,
        latency_ms: 12.5,
      } as UsageEvent);
    }
    await q.add([{ id: `b_${tag}_${j}`, events }]);
  }
  await q.close();
  const metrics = new Metrics({ defaultMetrics: false });
  const workerPool = createPool(dbUrl, { max: cfg.metering.worker.concurrency + 2 });
  const t0 = process.hrtime.bigint();
  const worker = createBillingWorker(cfg, { pool: workerPool, metrics, log });
  const conn = new Redis(REDIS, { maxRetriesPerRequest: null });
  const jobs = new Queue(queue, { connection: conn, prefix: `${prefix}bull` });
  let first = 0n;
  for (;;) {
    const c = await jobs.getJobCounts('completed', 'failed');
    if (first === 0n && (c['completed'] ?? 0) > 0) first = process.hrtime.bigint();
    if ((c['completed'] ?? 0) + (c['failed'] ?? 0) >= EVENTS / BATCH) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const end = process.hrtime.bigint();
  await worker.close();
  await workerPool.end();
  await jobs.obliterate({ force: true });
  await jobs.close();
  conn.disconnect();
  // From the first completed batch: the worker's start-up (connections, scripts) is not insert time.
  const seconds = Number(end - (first || t0)) / 1e9;
  const done = EVENTS - BATCH;
  return { ledger_rows: ledgerRows, events: EVENTS, seconds: round(seconds), events_per_s: Math.round(done / seconds) };
}

const round = (x: number) => Math.round(x * 100) / 100;

const COLS = `event_id, kind, user_id, key_id, stripe_customer, service, route, request_id, quantity, occurred_at, method, status, bytes_in, bytes_out, latency_ms, stripe_identifier, reported_at`;

/** One day of rows, as Postgres makes them: `perDay` requests spread over the day, 10,000 users; past days already reported to Stripe. */
function daySelect(dayMs: number, perDay: number, reported: boolean): string {
  const start = new Date(dayMs).toISOString();
  return `SELECT 'ev_b' || ${dayMs / DAY_MS}::text || '_' || g, 'request', 'u' || (g % 10000), 'k' || (g % 30000), 'cus_' || (g % 10000), 'sibyl', '/v1/predict',
    'r' || g, 1, '${start}'::timestamptz + ((g - 1) * (86400.0 / ${perDay})) * interval '1 second', 'POST', 200, 512, 2048, 12.5,
    ${reported ? `'am_bench_' || (g % 10000)` : 'NULL'}, ${reported ? `'${start}'::timestamptz + interval '1 day 2 hours'` : 'NULL'}
    FROM generate_series(1, ${perDay}) AS g`;
}

async function fill(pool: Pool, rows: number): Promise<{ seconds: number; table_gb: number }> {
  const t0 = Date.now();
  const perDay = Math.ceil(rows / DAYS);
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  // The fresh database's old-rows partition is empty and covers every past day: daily partitions replace it.
  await pool.query('DROP TABLE usage_events_before');
  const client = await pool.connect();
  try {
    await client.query('SET synchronous_commit = off');
    await client.query("SET maintenance_work_mem = '512MB'");
    for (let d = DAYS - 1; d >= 0; d--) {
      const day = today - d * DAY_MS;
      const name = partitionName(day);
      const t = Date.now();
      if (d === 0) {
        // Today's partition exists (the worker writes into it): filled in place, indexes maintained row by row.
        await client.query(`INSERT INTO usage_events (${COLS}) ${daySelect(day, perDay, false)}`);
      } else {
        await client.query(`CREATE TABLE ${name} (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
        await client.query(`INSERT INTO ${name} (${COLS}) ${daySelect(day, perDay, true)}`);
        const range = [new Date(day).toISOString(), new Date(day + DAY_MS).toISOString()];
        await client.query(`ALTER TABLE usage_events ATTACH PARTITION ${name} FOR VALUES FROM ('${range[0]}') TO ('${range[1]}')`);
      }
      await client.query(
        `INSERT INTO usage_windows (hour_start, kind, user_id, stripe_customer, events, quantity, settled_events)
         SELECT to_timestamp(floor(extract(epoch FROM occurred_at) / 3600) * 3600), kind, user_id, stripe_customer, count(*), sum(quantity),
                count(*) FILTER (WHERE stripe_identifier IS NOT NULL)
           FROM ${name} GROUP BY 1, 2, 3, 4
         ON CONFLICT (hour_start, kind, user_id, stripe_customer, org_id) DO UPDATE SET events = usage_windows.events + EXCLUDED.events,
           quantity = usage_windows.quantity + EXCLUDED.quantity, settled_events = usage_windows.settled_events + EXCLUDED.settled_events`,
      );
      say(`filled ${name}: ${perDay} rows in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    }
    await client.query('ANALYZE usage_events');
    await client.query('ANALYZE usage_windows');
  } finally {
    client.release();
  }
  const size = await pool.query<{ b: string }>(
    `SELECT sum(pg_total_relation_size(c.oid)) AS b FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_events'::regclass`,
  );
  return { seconds: Math.round((Date.now() - t0) / 1000), table_gb: round(Number(size.rows[0]!.b) / 2 ** 30) };
}

async function main(): Promise<void> {
  const fs = statfsSync('/');
  const freeBytes = fs.bavail * fs.bsize;
  // Leave a fifth of the free space (and 5 GB) to everything else on the machine.
  const fits = Math.floor((freeBytes * 0.8 - 5 * 2 ** 30) / BYTES_PER_ROW);
  const rows = Math.max(0, Math.min(WANT_ROWS, fits));
  say(`free disk ${round(freeBytes / 2 ** 30)} GiB: filling ${rows} rows${rows < WANT_ROWS ? ` (wanted ${WANT_ROWS}: the disk holds no more)` : ''}`);
  const dbName = `argus_bench_${randomBytes(4).toString('hex')}`;
  const admin = createPool(`${PG}/postgres`, { max: 1 });
  await admin.query(`CREATE DATABASE ${quoteIdent(dbName)}`);
  const dbUrl = `${PG}/${dbName}`;
  const pool = createPool(dbUrl, { max: 4 });
  try {
    await migrate(pool);
    say('measuring on the empty ledger');
    const empty = await measure(dbUrl, pool, 'empty');
    say(JSON.stringify(empty));
    const filled = await fill(pool, rows);
    say(`fill: ${JSON.stringify(filled)}`);
    say('measuring on the full ledger');
    const full = await measure(dbUrl, pool, 'full');
    say(JSON.stringify(full));
    const t = process.hrtime.bigint();
    const nowS = Math.floor(Date.now() / 1000);
    const windows = await pendingWindows(pool, { windowS: 3600, kinds: ['request'], cutoffS: nowS, oldestS: nowS - 34 * 86400, limit: 500 });
    const pendingMs = round(Number(process.hrtime.bigint() - t) / 1e6);
    say(`pendingWindows: ${windows.length} windows in ${pendingMs} ms`);
    const doc = {
      rows_wanted: WANT_ROWS,
      rows_filled: rows,
      days: DAYS,
      batch_events: BATCH,
      empty,
      full,
      fill: filled,
      pending_windows_ms: pendingMs,
      load: loadavg(),
    };
    const md = `# Ledger at scale: one worker's insert rate into the partitioned usage_events

| ledger | rows before | events inserted | seconds | events/s |
|---|---:|---:|---:|---:|
| empty | ${empty.ledger_rows} | ${empty.events} | ${empty.seconds} | ${empty.events_per_s} |
| ${(rows / 1e6).toFixed(0)} M rows in ${DAYS} daily partitions | ${full.ledger_rows} | ${full.events} | ${full.seconds} | ${full.events_per_s} |

- Path: the sidecar's queue client (job format 2, ${BATCH} events a batch) → BullMQ on the shared Redis → one
  \`createBillingWorker\` (concurrency ${4}) → one INSERT … ON CONFLICT per batch with the \`usage_windows\` upsert.
  events/s counts from the first completed batch to the last.
- Fill: ${rows} rows (${rows < WANT_ROWS ? `wanted ${WANT_ROWS}; the disk held no more` : 'as asked'}), made by Postgres with generate_series,
  ${filled.seconds} s, ${filled.table_gb} GiB with indexes; past days already reported (out of the partial indexes), today unreported.
- Stripe reporting's search for work on the full ledger (\`pendingWindows\`, from \`usage_windows\`): ${pendingMs} ms for ${windows.length} windows.
- Load average during the run: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (the machine is shared; absolute numbers move by tens of percent).
`;
    writeResultFiles('ledger-scale', 'node dist/bench/ledger-scale.js', { load_average: loadavg() }, doc, md);
  } finally {
    await pool.end().catch(() => undefined);
    if (process.env['BENCH_KEEP'] !== '1') await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(dbName)}`);
    else say(`kept database ${dbName}`);
    await admin.end();
  }
}

await main();
