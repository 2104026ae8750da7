/**
 * User records' Postgres home (issue: a Redis flush must never lose a tier).
 * Written by `argus-sidecar users set` (and later the control plane), projected
 * into Redis `<prefix>auth:user:<user_id>` in the format records.ts reads.
 * `version` grows by one on every write; `status = 'deleted'` removes the projection.
 */
export const sql = `
CREATE TABLE IF NOT EXISTS users (
  user_id             text PRIMARY KEY,
  tier                text,
  role                text,
  features            text[],
  scopes              text[],
  requests_per_minute integer CHECK (requests_per_minute > 0),
  llm                 jsonb,
  trading             jsonb,
  stripe_customer     text,
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
  version             bigint NOT NULL DEFAULT 1,
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS users_updated_at_idx ON users (updated_at);
`;
