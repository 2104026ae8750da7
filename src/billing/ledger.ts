/**
 * The raw-event ledger, `usage_events` (migrations 001, 007): the only module
 * that writes raw events and shapes their storage. Swapping raw events to a
 * columnar store (docs/operations.md, "The ledger at fleet scale") means
 * replacing this module; the per-hour aggregates in `usage_windows` that it
 * maintains stay in Postgres.
 *
 * Insert: one statement per batch, `ON CONFLICT (event_id, occurred_at) DO
 * NOTHING` (the partition key must be in the key; an event's time never changes
 * between deliveries, so this is exactly once), and in the same statement the
 * newly inserted rows' counts added to their hour in `usage_windows`. A row
 * made with an org's API key gets the org's id (`org_id`, from `api_keys`, at
 * insert: migration 015): its usage is the org's, billed to the org's customer.
 *
 * Storage: one range partition per UTC day, `usage_events_pYYYYMMDD`, created
 * ahead by {@link ensurePartitions}; rows outside every partition land in
 * `usage_events_default` and are moved into their day's partition when it is
 * created. Retention drops whole days ({@link dropExpiredPartitions}).
 */
import type pg from 'pg';
import '../extensions/registry.js';
import { isUsageEvent, ledgerColumns, toLedgerRow, type UsageEvent } from '../meter/events.js';

let built: { columns: number; sql: string } | undefined;

/** The hour (UTC, time-zone free) a timestamptz expression falls in. */
export const HOUR_OF = (expr: string): string => `to_timestamp(floor(extract(epoch FROM ${expr}) / 3600) * 3600)`;

/**
 * The one statement (over every registered kind's columns): the batch travels
 * as a single jsonb parameter. The aggregates are upserted in key order so
 * concurrent workers lock them in the same order (no deadlock between two
 * batches touching the same hours).
 */
export function insertSql(): string {
  const columns = ledgerColumns();
  if (built?.columns === columns.length) return built.sql;
  const recordType = columns.map(([name, type]) => `${name} ${type}`).join(', ');
  const target = columns.map(([name]) => (name === 'occurred_at_ms' ? 'occurred_at' : name)).join(', ');
  const source = columns.map(([name]) => (name === 'occurred_at_ms' ? 'to_timestamp(occurred_at_ms / 1000.0)' : name)).join(', ');
  const sql = `WITH ins AS (
  INSERT INTO usage_events (${target}, org_id)
  SELECT ${source}, (SELECT k.org_id FROM api_keys k WHERE k.key_id = x.key_id) FROM jsonb_to_recordset($1::jsonb) AS x(${recordType})
  ON CONFLICT (event_id, occurred_at) DO NOTHING
  RETURNING kind, user_id, stripe_customer, org_id, quantity, occurred_at
), agg AS (
  INSERT INTO usage_windows AS w (hour_start, kind, user_id, stripe_customer, org_id, events, quantity)
  SELECT ${HOUR_OF('occurred_at')}, kind, COALESCE(user_id, ''), COALESCE(stripe_customer, ''), COALESCE(org_id, ''), count(*), sum(quantity)
    FROM ins GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (hour_start, kind, user_id, stripe_customer, org_id)
  DO UPDATE SET events = w.events + EXCLUDED.events, quantity = w.quantity + EXCLUDED.quantity
)
SELECT count(*)::int AS inserted FROM ins`;
  built = { columns: columns.length, sql };
  return sql;
}

export interface InsertResult {
  /** Rows newly written (duplicates of earlier deliveries are not counted). */
  readonly inserted: number;
  /** Entries that were not usage events (a bug upstream); skipped, never retried forever. */
  readonly invalid: number;
}

/** Insert a batch. Rejects on database errors (the job is retried with backoff). */
export async function insertEvents(db: Pick<pg.Pool, 'query'>, events: readonly unknown[]): Promise<InsertResult> {
  const valid = events.filter(isUsageEvent) as UsageEvent[];
  const invalid = events.length - valid.length;
  if (valid.length === 0) return { inserted: 0, invalid };
  const res = await db.query<{ inserted: number }>(insertSql(), [JSON.stringify(valid.map(toLedgerRow))]);
  return { inserted: res.rows[0]?.inserted ?? 0, invalid };
}

const DAY_MS = 86_400_000;

/** `usage_events_pYYYYMMDD` for the UTC day holding `ms`. */
export function partitionName(ms: number): string {
  return `usage_events_p${new Date(ms).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/**
 * Create the daily partitions from yesterday to `daysAhead` days after today
 * (UTC) that do not exist yet. Rows already in the default partition for such a
 * day are moved into it in the same transaction. Returns the partitions created.
 */
export async function ensurePartitions(pool: pg.Pool, o: { daysAhead: number; nowMs: number }): Promise<string[]> {
  const today = Math.floor(o.nowMs / DAY_MS) * DAY_MS;
  const existing = new Set((await pool.query<{ name: string }>(PARTITIONS_SQL)).rows.map((r) => r.name));
  const created: string[] = [];
  for (let d = -1; d <= o.daysAhead; d++) {
    const from = today + d * DAY_MS;
    const name = partitionName(from);
    if (existing.has(name)) continue;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const range = [new Date(from).toISOString(), new Date(from + DAY_MS).toISOString()];
      // Today, on the day migration 009 ran, is inside its old-rows partition's range: nothing to create.
      const overlaps = await client.query<{ n: number }>(OVERLAP_SQL, range);
      if ((overlaps.rows[0]?.n ?? 0) > 0) {
        await client.query('ROLLBACK');
        continue;
      }
      await client.query(`CREATE TABLE ${name} (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
      await client.query(
        `WITH moved AS (DELETE FROM usage_events_default WHERE occurred_at >= $1 AND occurred_at < $2 RETURNING *) INSERT INTO ${name} SELECT * FROM moved`,
        range,
      );
      await client.query(`ALTER TABLE usage_events ATTACH PARTITION ${name} FOR VALUES FROM ('${range[0]}') TO ('${range[1]}')`);
      await client.query('COMMIT');
      created.push(name);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
  return created;
}

/** The partitions of usage_events with their upper bound (null: the default partition; the old-rows partition has one). */
const PARTITIONS_SQL = `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'usage_events'::regclass`;

/** How many existing partitions (other than the default) overlap [$1, $2). */
const OVERLAP_SQL = `SELECT count(*)::int AS n FROM (${PARTITIONS_SQL}) p
 WHERE p.bound <> 'DEFAULT'
   AND (substring(p.bound FROM 'FROM \\(([^)]*)\\)') = 'MINVALUE' OR substring(p.bound FROM 'FROM \\(''([^'']*)''\\)')::timestamptz < $2::timestamptz)
   AND substring(p.bound FROM 'TO \\(''([^'']*)''\\)')::timestamptz > $1::timestamptz`;

/**
 * Drop the partitions (days, and the old-rows partition) that ended more than
 * `retentionDays` ago, with their hours in `usage_windows`. A partition still
 * holding rows claimed for Stripe but not yet accepted is kept (they are billed
 * first). Returns the partitions dropped.
 */
export async function dropExpiredPartitions(pool: pg.Pool, o: { retentionDays: number; nowMs: number }): Promise<string[]> {
  const cutoff = new Date(Math.floor(o.nowMs / DAY_MS) * DAY_MS - o.retentionDays * DAY_MS).toISOString();
  const old = await pool.query<{ name: string }>(
    `SELECT p.name FROM (${PARTITIONS_SQL}) p
      WHERE p.bound <> 'DEFAULT' AND substring(p.bound FROM 'TO \\(''([^'']*)''\\)')::timestamptz <= $1::timestamptz ORDER BY 1`,
    [cutoff],
  );
  const dropped: string[] = [];
  for (const { name } of old.rows) {
    const pending = await pool.query(`SELECT 1 FROM ${name} WHERE reported_at IS NULL AND stripe_identifier IS NOT NULL LIMIT 1`);
    if (pending.rowCount) continue;
    await pool.query(`DROP TABLE ${name}`);
    dropped.push(name);
  }
  if (dropped.length > 0) await pool.query('DELETE FROM usage_windows WHERE hour_start < $1::timestamptz', [cutoff]);
  return dropped;
}

/**
 * The Stripe customer of an owner as SQL: the org's binding in `billing_customers`
 * when `org` (an SQL expression) is not null, else the user's. Read when a row is
 * reported, never copied onto it: a binding made after the usage still gets it.
 */
export const ownerCustomer = (org: string, user: string): string =>
  `CASE WHEN ${org} IS NOT NULL THEN (SELECT bc.stripe_customer FROM billing_customers bc WHERE bc.org_id = ${org})
        ELSE (SELECT bc.stripe_customer FROM billing_customers bc WHERE bc.user_id = ${user}) END`;

/**
 * A row's Stripe customer as SQL (alias `e` for usage_events): its own (from
 * the credential), else its owner's binding: the org's for a row made with an
 * org's key, else its user's. Null: not billed (yet).
 */
export const CUSTOMER = `COALESCE(e.stripe_customer, ${ownerCustomer('e.org_id', 'e.user_id')})`;

/** Add the rows a CTE named `u` returned (with kind, user_id, stripe_customer, org_id, occurred_at) to their hours' settled counts. */
const SETTLE_CTE = `settle AS (
  UPDATE usage_windows w SET settled_events = w.settled_events + g.n
    FROM (SELECT ${HOUR_OF('occurred_at')} AS h, kind, COALESCE(user_id, '') AS uid, COALESCE(stripe_customer, '') AS cus, COALESCE(org_id, '') AS org, count(*) AS n
            FROM u GROUP BY 1, 2, 3, 4, 5) g
   WHERE w.hour_start = g.h AND w.kind = g.kind AND w.user_id = g.uid AND w.stripe_customer = g.cus AND w.org_id = g.org)`;

export interface PendingWindow {
  readonly customer: string;
  readonly kind: string;
  /** Unix seconds. */
  readonly window_start: string;
}

/**
 * Stripe windows (customer, kind, window start) that may hold unclaimed rows,
 * read from the hourly aggregates: hours with `events > settled_events`,
 * expanded to the `windowS`-second windows they touch, closed before `cutoffS`
 * and not wholly older than `oldestS`. Never scans raw rows.
 */
export async function pendingWindows(
  db: Pick<pg.PoolClient, 'query'>,
  o: { windowS: number; kinds: string[]; cutoffS: number; oldestS: number; limit: number },
): Promise<PendingWindow[]> {
  const res = await db.query<PendingWindow>(
    `SELECT customer, kind, window_start FROM (
       SELECT COALESCE(NULLIF(w.stripe_customer, ''), ${ownerCustomer("NULLIF(w.org_id, '')", "NULLIF(w.user_id, '')")}) AS customer,
              w.kind, ws::bigint AS window_start
         FROM usage_windows w
        CROSS JOIN LATERAL generate_series(floor(extract(epoch FROM w.hour_start) / $1) * $1, extract(epoch FROM w.hour_start) + 3599, $1) AS ws
        WHERE w.events > w.settled_events AND w.kind = ANY($2) AND w.hour_start < to_timestamp($3) AND w.hour_start >= to_timestamp($4 - 3600)
          AND ws < $3 AND ws + $1 > $4) s
      WHERE customer IS NOT NULL
      GROUP BY 1, 2, 3 ORDER BY 3, 1, 2 LIMIT $5`,
    [o.windowS, o.kinds, o.cutoffS, o.oldestS, o.limit],
  );
  return res.rows;
}

/**
 * Claim a window's unclaimed rows for one customer and kind under `identifier`
 * (call inside the claim's transaction). Returns how many and their total quantity (exact numeric text).
 */
export async function claimRows(
  db: Pick<pg.PoolClient, 'query'>,
  o: { identifier: string; kind: string; windowStartS: number; windowS: number; customer: string; oldestS: number },
): Promise<{ n: number; total: string }> {
  const res = await db.query<{ n: string; total: string }>(
    `WITH u AS (
       UPDATE usage_events e SET stripe_identifier = $1
        WHERE e.reported_at IS NULL AND e.stripe_identifier IS NULL AND e.unbillable_at IS NULL AND e.kind = $2
          AND e.occurred_at >= to_timestamp($3) AND e.occurred_at < to_timestamp($3 + $4)
          AND e.occurred_at >= to_timestamp($6)
          AND ${CUSTOMER} = $5
       RETURNING e.quantity, e.kind, e.user_id, e.stripe_customer, e.org_id, e.occurred_at), ${SETTLE_CTE}
     SELECT count(*) AS n, COALESCE(sum(quantity), 0)::text AS total FROM u`,
    [o.identifier, o.kind, o.windowStartS, o.windowS, o.customer, o.oldestS],
  );
  return { n: Number(res.rows[0]?.n ?? 0), total: res.rows[0]?.total ?? '0' };
}

/** Mark the rows claimed under `identifier` reported (Stripe accepted it, or it carried everything on). */
export async function markReported(db: Pick<pg.PoolClient, 'query'>, identifier: string): Promise<void> {
  await db.query('UPDATE usage_events SET reported_at = now() WHERE stripe_identifier = $1 AND reported_at IS NULL', [identifier]);
}

/**
 * Dead-letter unreported, unclaimed billable rows older than `maxAgeS` or more
 * than `maxAheadS` ahead of `nowS`, counting them settled. Returns one group per reason.
 */
export async function deadLetterRows(
  db: Pick<pg.PoolClient, 'query'>,
  o: { nowS: number; kinds: string[]; maxAgeS: number; maxAheadS: number },
): Promise<Array<{ reason: string; n: string; first: string; customers: string[]; sample: string[] }>> {
  const res = await db.query<{ reason: string; n: string; first: string; customers: string[]; sample: string[] }>(
    `WITH u AS (
       UPDATE usage_events e
          SET unbillable_at = to_timestamp($1::float8),
              unbillable_reason = CASE WHEN e.occurred_at < to_timestamp($1::float8 - $3::float8) THEN 'too_old' ELSE 'future_timestamp' END
        WHERE e.reported_at IS NULL AND e.stripe_identifier IS NULL AND e.unbillable_at IS NULL AND e.kind = ANY($2)
          AND (e.occurred_at < to_timestamp($1::float8 - $3::float8) OR e.occurred_at > to_timestamp($1::float8 + $4::float8))
          AND ${CUSTOMER} IS NOT NULL
       RETURNING e.unbillable_reason, e.event_id, e.occurred_at, e.kind, e.user_id, e.stripe_customer, e.org_id, ${CUSTOMER} AS customer), ${SETTLE_CTE}
     SELECT unbillable_reason AS reason, count(*) AS n, min(occurred_at)::text AS first,
            array_agg(DISTINCT customer) AS customers, (array_agg(event_id ORDER BY occurred_at))[1:5] AS sample
       FROM u GROUP BY 1`,
    [o.nowS, o.kinds, o.maxAgeS, o.maxAheadS],
  );
  return res.rows;
}

/** Dead-lettered rows in the ledger (an indexed count). */
export async function countUnbillable(db: Pick<pg.PoolClient, 'query'>): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM usage_events WHERE unbillable_at IS NOT NULL')).rows[0]?.n ?? 0);
}

/** Dead-lettered rows, oldest first, for `argus-sidecar usage unbillable`. */
export async function listUnbillable(db: Pick<pg.PoolClient, 'query'>, limit: number): Promise<Array<Record<string, unknown>>> {
  const res = await db.query(
    `SELECT event_id, kind, user_id, ${CUSTOMER} AS stripe_customer, quantity::text AS quantity, occurred_at, unbillable_reason AS reason, unbillable_at
       FROM usage_events e WHERE unbillable_at IS NOT NULL ORDER BY occurred_at, event_id LIMIT $1`,
    [limit],
  );
  return res.rows as Array<Record<string, unknown>>;
}

/** Seconds between `nowS` and the oldest unreported billable row of `kinds` (0 when none). */
export async function reportLagS(db: Pick<pg.PoolClient, 'query'>, o: { nowS: number; kinds: string[] }): Promise<number> {
  const r = await db.query<{ lag: string | null }>(
    `SELECT extract(epoch FROM (to_timestamp($1) - min(e.occurred_at))) AS lag FROM usage_events e
      WHERE e.reported_at IS NULL AND e.unbillable_at IS NULL AND e.kind = ANY($2) AND ${CUSTOMER} IS NOT NULL`,
    [o.nowS, o.kinds],
  );
  const lag = r.rows[0]?.lag;
  return lag === null || lag === undefined ? 0 : Math.max(0, Number(lag));
}
