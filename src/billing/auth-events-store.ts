/**
 * The `auth_events` table (src/clients/migrations/010_auth_events.ts): monthly
 * partitions and the idempotent batch insert (the worker's side); the listing both
 * readers share is src/billing/auth-events-list.ts.
 */
import type pg from 'pg';
import type { AuthEvent } from '../observe/auth-events.js';

type Db = Pick<pg.Pool, 'query'>;

/** `auth_events_y2026m12`: the partition holding month `m` (0-based) of year `y`. */
function partitionName(y: number, m: number): string {
  return `auth_events_y${y}m${String(m + 1).padStart(2, '0')}`;
}

/** First instant of the month `offset` months after the one holding `at` (UTC). */
function monthStart(at: number, offset: number): Date {
  const d = new Date(at);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));
}

/**
 * Create the partition of the month holding `at` if it is missing. Several
 * workers may race: a concurrent creation is not an error. Rows already in the
 * default partition for that month make it fail (Postgres refuses to attach
 * over them): logged by the caller, the rows stay readable there.
 */
export async function ensureMonthPartition(db: Db, at: number): Promise<string> {
  const from = monthStart(at, 0);
  const to = monthStart(at, 1);
  const name = partitionName(from.getUTCFullYear(), from.getUTCMonth());
  try {
    await db.query(`CREATE TABLE IF NOT EXISTS ${name} PARTITION OF auth_events FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`);
  } catch (err) {
    // 42P07 duplicate table / 23505 unique violation on the catalog: another worker made it in between.
    const code = (err as { code?: string }).code;
    if (code !== '42P07' && code !== '23505') throw err;
  }
  return name;
}

const COLUMNS = [
  ['event_id', 'text'],
  ['occurred_at_ms', 'double precision'],
  ['kind', 'text'],
  ['code', 'text'],
  ['status', 'integer'],
  ['user_id', 'text'],
  ['credential_id', 'text'],
  ['credential_kind', 'text'],
  ['route', 'text'],
  ['sidecar', 'text'],
  ['request_id', 'text'],
  ['trace_id', 'text'],
  ['span_id', 'text'],
  ['detail', 'jsonb'],
] as const;

const INSERT_SQL = `INSERT INTO auth_events (${COLUMNS.map(([c]) => (c === 'occurred_at_ms' ? 'occurred_at' : c)).join(', ')})
SELECT ${COLUMNS.map(([c]) => (c === 'occurred_at_ms' ? 'to_timestamp(occurred_at_ms / 1000.0)' : c)).join(', ')}
FROM jsonb_to_recordset($1::jsonb) AS x(${COLUMNS.map(([c, t]) => `${c} ${t}`).join(', ')})
ON CONFLICT (event_id, occurred_at) DO NOTHING`;

const KINDS = new Set(['refusal', 'ws_close', 'revocation', 'tier_change']);

/** An event as read from the stream: shape-checked (a bad entry is skipped, never retried forever). */
export function isAuthEvent(v: unknown): v is AuthEvent {
  const e = v as Partial<AuthEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.id === 'string' &&
    typeof e.code === 'string' &&
    typeof e.sidecar === 'string' &&
    typeof e.at === 'number' &&
    Number.isFinite(e.at) &&
    KINDS.has(e.kind as string)
  );
}

/** Insert a batch in one statement; duplicates (a redelivered entry) are skipped. Resolves with the rows written. */
export async function insertAuthEvents(db: Db, events: readonly AuthEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const rows = events.map((e) => ({
    event_id: e.id,
    occurred_at_ms: e.at,
    kind: e.kind,
    code: e.code,
    status: e.status ?? null,
    user_id: e.user_id ?? null,
    credential_id: e.credential_id ?? null,
    credential_kind: e.credential_kind ?? null,
    route: e.route ?? null,
    sidecar: e.sidecar,
    request_id: e.request_id ?? null,
    trace_id: e.trace_id ?? null,
    span_id: e.span_id ?? null,
    detail: e.detail ?? null,
  }));
  const res = await db.query(INSERT_SQL, [JSON.stringify(rows)]);
  return res.rowCount ?? 0;
}
