/**
 * Writing usage events into the `usage_events` ledger: one statement per batch,
 * `ON CONFLICT (event_id) DO NOTHING`. At-least-once delivery plus this
 * idempotent insert puts every event in the ledger exactly once.
 */
import type pg from 'pg';
import { LEDGER_COLUMNS, isUsageEvent, toLedgerRow, type UsageEvent } from '../meter/events.js';

const RECORD_TYPE = LEDGER_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ');
const TARGET = LEDGER_COLUMNS.map(([name]) => (name === 'occurred_at_ms' ? 'occurred_at' : name)).join(', ');
const SOURCE = LEDGER_COLUMNS.map(([name]) => (name === 'occurred_at_ms' ? 'to_timestamp(occurred_at_ms / 1000.0)' : name)).join(', ');

/** The one statement: the batch travels as a single jsonb parameter. */
export const INSERT_SQL = `INSERT INTO usage_events (${TARGET})
SELECT ${SOURCE} FROM jsonb_to_recordset($1::jsonb) AS x(${RECORD_TYPE})
ON CONFLICT (event_id) DO NOTHING`;

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
  const res = await db.query(INSERT_SQL, [JSON.stringify(valid.map(toLedgerRow))]);
  return { inserted: res.rowCount ?? 0, invalid };
}
