/**
 * The partitioned ledger (migration 007, src/billing/ledger.ts): an existing
 * install's rows move into the partitioned table with their report state and
 * are aggregated into usage_windows; an event delivered twice is one row and
 * counts once in its hour; the worker's upkeep creates days ahead (moving rows
 * that waited in the default partition) and drops days past retention, never
 * one holding rows claimed for Stripe and not yet accepted; a retention under
 * Stripe's 35 days is refused, naming the key.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createPool, migrate, quoteIdent, type Pool } from '../src/clients/postgres.js';
import { dropExpiredPartitions, ensurePartitions, insertEvents, partitionName } from '../src/billing/ledger.js';
import { startLedgerMaintenance } from '../src/billing/ledger-maintenance.js';
import { parseConfig } from '../src/config.js';
import { Metrics } from '../src/observe/metrics.js';
import { PG_BASE, quietLog, rand } from './support/meter-env.js';

const DAY = 86_400_000;
const MIGRATIONS = fileURLToPath(new URL('../src/clients/migrations/', import.meta.url));

/** A schema of its own; `upTo` stops the migrations before that name (an install from before it). */
async function schemaDb(upTo?: string): Promise<{ pool: Pool; drop(): Promise<void> }> {
  const schema = `argus_ledger_${rand()}`;
  const admin = createPool(PG_BASE, { max: 1 });
  await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  const pool = createPool(`${PG_BASE}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, { max: 4 });
  if (upTo === undefined) await migrate(pool);
  else {
    await pool.query('CREATE TABLE argus_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const file of readdirSync(MIGRATIONS)
      .filter((f) => /^\d{3}_.*\.js$/.test(f))
      .sort()) {
      const name = file.replace(/\.js$/, '');
      if (name >= upTo) break;
      await pool.query(((await import(new URL(file, new URL('../src/clients/migrations/', import.meta.url)).href)) as { sql: string }).sql);
      await pool.query('INSERT INTO argus_migrations (name) VALUES ($1)', [name]);
    }
  }
  return {
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      await admin.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
      await admin.end();
    },
  };
}

const event = (id: string, at: number, over: Record<string, unknown> = {}) => ({
  event_id: id,
  kind: 'request',
  user_id: 'u1',
  key_id: 'k1',
  stripe_customer: 'cus_1',
  service: 'sibyl',
  route: '/x',
  request_id: `r-${id}`,
  quantity: 2,
  occurred_at: at,
  ...over,
});

const where = async (pool: Pool) =>
  Object.fromEntries(
    (await pool.query<{ t: string; event_id: string }>('SELECT tableoid::regclass::text AS t, event_id FROM usage_events')).rows.map((r) => [r.event_id, r.t]),
  );

describe('an existing install migrated to the partitioned ledger', () => {
  let db: Awaited<ReturnType<typeof schemaDb>>;
  before(async () => {
    db = await schemaDb('007');
    const old = Date.parse('2026-01-10T10:15:00Z');
    await db.pool.query(
      `INSERT INTO usage_events (event_id, kind, user_id, stripe_customer, service, route, request_id, quantity, occurred_at, stripe_identifier, reported_at)
       VALUES ('old-1', 'request', 'u1', 'cus_1', 's', '/x', 'r1', 1, to_timestamp($1 / 1000.0), 'am_x', now()),
              ('old-2', 'request', 'u1', 'cus_1', 's', '/x', 'r2', 1.5, to_timestamp($1 / 1000.0 + 60), NULL, NULL),
              ('old-3', 'llm', 'u2', NULL, 's', '/x', 'r3', 100, to_timestamp($1 / 1000.0 + 7200), NULL, NULL)`,
      [old],
    );
    assert.deepEqual(await migrate(db.pool), ['007_partitioned_ledger']);
  });
  after(() => db?.drop());

  it('keeps every row and its report state, in a partitioned table', async () => {
    const kind = await db.pool.query<{ k: string }>("SELECT relkind::text AS k FROM pg_class WHERE oid = 'usage_events'::regclass");
    assert.equal(kind.rows[0]!.k, 'p');
    const rows = (
      await db.pool.query('SELECT event_id, quantity::text AS q, stripe_identifier, reported_at IS NOT NULL AS reported FROM usage_events ORDER BY event_id')
    ).rows;
    assert.deepEqual(rows, [
      { event_id: 'old-1', q: '1', stripe_identifier: 'am_x', reported: true },
      { event_id: 'old-2', q: '1.5', stripe_identifier: null, reported: false },
      { event_id: 'old-3', q: '100', stripe_identifier: null, reported: false },
    ]);
    assert.deepEqual(new Set(Object.values(await where(db.pool))), new Set(['usage_events_before']));
  });

  it('aggregates the old rows per hour, the reported one settled', async () => {
    const w = (
      await db.pool.query(
        "SELECT to_char(hour_start AT TIME ZONE 'UTC', 'HH24') AS h, kind, user_id, stripe_customer, events::int, quantity::text, settled_events::int FROM usage_windows ORDER BY 1",
      )
    ).rows;
    assert.deepEqual(w, [
      { h: '10', kind: 'request', user_id: 'u1', stripe_customer: 'cus_1', events: 2, quantity: '2.5', settled_events: 1 },
      { h: '12', kind: 'llm', user_id: 'u2', stripe_customer: '', events: 1, quantity: '100', settled_events: 0 },
    ]);
  });

  it('an old event delivered again is not a second row', async () => {
    const r = await insertEvents(db.pool, [event('old-2', Date.parse('2026-01-10T10:16:00Z'), { quantity: 1.5 })]);
    assert.equal(r.inserted, 0);
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM usage_events')).rows[0].n, 3);
  });
});

describe('the partitioned ledger', () => {
  let db: Awaited<ReturnType<typeof schemaDb>>;
  before(async () => {
    db = await schemaDb();
  });
  after(() => db?.drop());

  it('a batch delivered twice is one row per event and counts once in its hour', async () => {
    const now = Date.now();
    const batch = [event('a', now), event('b', now + 1), event('c', now + 2, { user_id: 'u2', stripe_customer: null })];
    assert.deepEqual(await insertEvents(db.pool, batch), { inserted: 3, invalid: 0 });
    assert.deepEqual(await insertEvents(db.pool, [...batch, event('d', now + 3)]), { inserted: 1, invalid: 0 });
    const w = (await db.pool.query('SELECT user_id, stripe_customer, events::int, quantity::text FROM usage_windows ORDER BY user_id')).rows;
    assert.deepEqual(w, [
      { user_id: 'u1', stripe_customer: 'cus_1', events: 3, quantity: '6' },
      { user_id: 'u2', stripe_customer: '', events: 1, quantity: '2' },
    ]);
    assert.equal((await where(db.pool))['a'], partitionName(now));
  });

  it('upkeep creates days ahead and moves rows that waited in the default partition', async () => {
    const now = Date.now();
    const far = now + 20 * DAY;
    await insertEvents(db.pool, [event('far', far)]);
    assert.equal((await where(db.pool))['far'], 'usage_events_default');
    const m = startLedgerMaintenance(
      { partition_days_ahead: 21, retention_days: 0, maintenance_interval_ms: 3_600_000 },
      { pool: db.pool, metrics: new Metrics({ defaultMetrics: false }), log: quietLog, timer: false },
    );
    assert.equal(await m.runOnce(), 'ok');
    await m.close();
    assert.equal((await where(db.pool))['far'], partitionName(far));
    for (let d = 0; d <= 21; d++) assert.ok((await db.pool.query('SELECT to_regclass($1) AS r', [partitionName(now + d * DAY)])).rows[0].r, `day +${d}`);
    assert.deepEqual(await ensurePartitions(db.pool, { daysAhead: 21, nowMs: now }), [], 'a second round creates nothing');
  });

  it('retention drops whole days past it, but not one with rows claimed and not yet accepted', async () => {
    const now = Date.now();
    await insertEvents(db.pool, [event('keep', now, { user_id: 'u3' })]);
    await db.pool.query("UPDATE usage_events SET stripe_identifier = 'am_pending' WHERE event_id = 'keep'");
    // 45 days later, with 40 days of retention: today's partition (claimed row) stays, the empty ones around it go.
    const later = now + 45 * DAY;
    const dropped = await dropExpiredPartitions(db.pool, { retentionDays: 40, nowMs: later });
    assert.ok(dropped.includes(partitionName(now + DAY)), dropped.join());
    assert.ok(!dropped.includes(partitionName(now)));
    assert.equal((await where(db.pool))['keep'], partitionName(now));
    await db.pool.query("UPDATE usage_events SET reported_at = now() WHERE event_id = 'keep'");
    assert.ok((await dropExpiredPartitions(db.pool, { retentionDays: 40, nowMs: later })).includes(partitionName(now)));
    assert.equal((await where(db.pool))['keep'], undefined);
  });

  it('a retention under Stripe’s 35 days is refused, naming the key', () => {
    assert.throws(
      () => parseConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/*', auth: 'none' }], billing: { ledger: { retention_days: 10 } } }, {}),
      /billing\.ledger\.retention_days/,
    );
  });
});
