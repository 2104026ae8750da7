/**
 * Reading the `auth_events` table (src/clients/migrations/010_auth_events.ts):
 * the one listing behind `argus-sidecar auth-events` and the control plane's
 * `GET /v1/auth-events`. Oldest first, filtered by user, kind and a time
 * window, a page at a time.
 *
 * Pages are keyset pages on (occurred_at, event_id), the table's order: the
 * cursor names the last row handed out, and the next page starts after it.
 * Every bound is on `occurred_at`, the partition key, so Postgres reads only the
 * months between the window's (or the cursor's) start and its end; an offset
 * would re-read every earlier row of the window on each page.
 */
import type pg from 'pg';

type Db = Pick<pg.Pool, 'query'>;

export const AUTH_EVENT_KINDS = ['refusal', 'ws_close', 'revocation', 'tier_change'] as const;

export interface AuthEventQuery {
  readonly user?: string | undefined;
  /** Inclusive, epoch ms. */
  readonly from?: number | undefined;
  /** Exclusive, epoch ms. */
  readonly to?: number | undefined;
  readonly kind?: string | undefined;
  /** Rows per page, at least 1. */
  readonly limit: number;
  /** A page's `next_cursor` (from {@link listAuthEvents}); start after that row. */
  readonly cursor?: string | undefined;
}

export interface AuthEventRow {
  readonly event_id: string;
  /** ISO 8601, UTC. */
  readonly occurred_at: string;
  readonly kind: string;
  readonly code: string;
  readonly status: number | null;
  readonly user_id: string | null;
  readonly credential_id: string | null;
  readonly credential_kind: string | null;
  readonly route: string | null;
  readonly sidecar: string;
  readonly request_id: string | null;
  readonly trace_id: string | null;
  readonly detail: Record<string, unknown> | null;
}

export interface AuthEventPage {
  readonly items: AuthEventRow[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly next_cursor: string | null;
}

interface Position {
  /** occurred_at to the microsecond, as Postgres prints it in UTC (a JS Date would drop the microseconds). */
  readonly at: string;
  readonly id: string;
}

const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** The cursor's position, or null when it is not one this module made (the caller answers 400). */
export function decodeAuthEventCursor(cursor: string): Position | null {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const bar = text.indexOf('|');
  if (bar < 0) return null;
  const at = text.slice(0, bar);
  const id = text.slice(bar + 1);
  return AT.test(at) && id.length > 0 ? { at, id } : null;
}

function encodeCursor(p: Position): string {
  return Buffer.from(`${p.at}|${p.id}`).toString('base64url');
}

/** One page of events, oldest first. Throws a TypeError on a cursor {@link decodeAuthEventCursor} rejects. */
export async function listAuthEvents(db: Db, q: AuthEventQuery): Promise<AuthEventPage> {
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => `$${args.push(v)}`;
  if (q.user !== undefined) where.push(`user_id = ${arg(q.user)}`);
  if (q.from !== undefined) where.push(`occurred_at >= to_timestamp(${arg(q.from / 1000)})`);
  if (q.to !== undefined) where.push(`occurred_at < to_timestamp(${arg(q.to / 1000)})`);
  if (q.kind !== undefined) where.push(`kind = ${arg(q.kind)}`);
  if (q.cursor !== undefined) {
    const p = decodeAuthEventCursor(q.cursor);
    if (p === null) throw new TypeError('cursor: not a cursor of this listing');
    const at = arg(p.at);
    // The plain bound lets the planner prune partitions; the row comparison breaks ties within one instant.
    where.push(`occurred_at >= ${at}::timestamptz AND (occurred_at, event_id) > (${at}::timestamptz, ${arg(p.id)})`);
  }
  const res = await db.query<Omit<AuthEventRow, 'occurred_at'> & { at: string }>(
    `SELECT event_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, kind, code, status, user_id,
            credential_id, credential_kind, route, sidecar, request_id, trace_id, detail
     FROM auth_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY occurred_at, event_id LIMIT ${arg(q.limit + 1)}`,
    args,
  );
  const rows = res.rows.slice(0, q.limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map(({ at, event_id, ...r }) => ({ event_id, occurred_at: new Date(at).toISOString(), ...r })),
    next_cursor: res.rows.length > q.limit && last ? encodeCursor({ at: last.at, id: last.event_id }) : null,
  };
}
