/**
 * API keys (stored only as SHA-256 digests) and the revocation log: the source of
 * truth that `keys` / `revoke` write and project into Redis.
 */
export const sql = `
CREATE TABLE IF NOT EXISTS api_keys (
  key_id              text PRIMARY KEY,
  sha256              text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  user_id             text NOT NULL,
  tier                text NOT NULL,
  role                text,
  scopes              text[] NOT NULL DEFAULT '{}',
  features            text[] NOT NULL DEFAULT '{}',
  requests_per_minute integer CHECK (requests_per_minute > 0),
  llm                 jsonb,
  trading             jsonb,
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  created_at          timestamptz NOT NULL DEFAULT now(),
  revoked_at          timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_user_id_idx ON api_keys (user_id);

CREATE TABLE IF NOT EXISTS auth_revocations (
  kind        text NOT NULL CHECK (kind IN ('user', 'session', 'key')),
  subject_id  text NOT NULL,
  revoked_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, subject_id)
);
`;
