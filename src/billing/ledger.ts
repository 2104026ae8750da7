/**
 * Writing usage events into the `usage_events` ledger: one statement per batch,
 * `ON CONFLICT (event_id) DO NOTHING`. At-least-once delivery plus this
 * idempotent insert puts every event in the ledger exactly once.
 */
import type pg from 'pg';
import '../extensions/registry.js';
import { isUsageEvent, ledgerColumns, toLedgerRow, type UsageEvent } from '../meter/events.js';

let built: { columns: number; sql: string } | undefined;

/** The one statement (over every registered kind's columns): the batch travels as a single jsonb parameter. */
export function insertSql(): string {
  const columns = ledgerColumns();
  if (built?.columns === columns.length) return built.sql;
  const recordType = columns.map(([name, type]) => `${name} ${type}`).join(', ');
  const target = columns.map(([name]) => (name === 'occurred_at_ms' ? 'occurred_at' : name)).join(', ');
  const source = columns.map(([name]) => (name === 'occurred_at_ms' ? 'to_timestamp(occurred_at_ms / 1000.0)' : name)).join(', ');
  const sql = `INSERT INTO usage_events (${target})
SELECT ${source} FROM jsonb_to_recordset($1::jsonb) AS x(${recordType})
ON CONFLICT (event_id) DO NOTHING`;
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
  const res = await db.query(insertSql(), [JSON.stringify(valid.map(toLedgerRow))]);
  return { inserted: res.rowCount ?? 0, invalid };
}
