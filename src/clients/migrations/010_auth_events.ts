/**
 * The auth event log (docs/observability.md, "Auth events"): one row per refusal,
 * kill-switch WebSocket close, revocation and tier change, written by the worker
 * from the Redis Stream (src/billing/auth-events-consumer.ts).
 *
 * Partitioned by month on `occurred_at`, as an append-only log should be: old
 * months are detached or dropped whole, never deleted row by row, and a query
 * for a time range reads only its months. The worker creates the partitions of
 * the current and the next month (src/billing/auth-events-store.ts); the default
 * partition catches rows no monthly partition covers (a skewed clock), so an
 * insert never fails for want of one. The key includes `occurred_at` because a
 * partitioned table's unique keys must contain the partition key.
 */
export const sql = `
CREATE TABLE IF NOT EXISTS auth_events (
  event_id        text NOT NULL,
  occurred_at     timestamptz NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('refusal', 'ws_close', 'revocation', 'tier_change')),
  code            text NOT NULL,
  status          integer,
  user_id         text,
  credential_id   text,
  credential_kind text,
  route           text,
  sidecar         text NOT NULL,
  request_id      text,
  trace_id        text,
  span_id         text,
  detail          jsonb,
  inserted_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX IF NOT EXISTS auth_events_user_time ON auth_events (user_id, occurred_at);
CREATE INDEX IF NOT EXISTS auth_events_time ON auth_events (occurred_at);
CREATE TABLE IF NOT EXISTS auth_events_default PARTITION OF auth_events DEFAULT;
`;
