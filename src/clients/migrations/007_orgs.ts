/**
 * The control plane's identity tables (src/control/): profile columns on
 * `users`, `orgs` (entitlements like a user's), `org_members` with a role, and
 * `org_invitations` (the token stored only as its SHA-256; one pending
 * invitation per org and email). `api_keys.org_id` names the org a key belongs
 * to. `projected_version` on users, orgs and keys is the version last written to
 * Redis: the reconciler re-projects every row where it is behind `version`.
 */
export const sql = `
ALTER TABLE users ADD COLUMN IF NOT EXISTS email text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS name text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS preferences jsonb NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE users ADD COLUMN IF NOT EXISTS projected_version bigint NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX IF NOT EXISTS users_email_idx ON users (lower(email)) WHERE email IS NOT NULL AND status = 'active';
CREATE INDEX IF NOT EXISTS users_unprojected_idx ON users (user_id) WHERE projected_version < version;

CREATE TABLE IF NOT EXISTS orgs (
  org_id              text PRIMARY KEY,
  name                text NOT NULL,
  tier                text,
  features            text[],
  scopes              text[],
  requests_per_minute integer CHECK (requests_per_minute > 0),
  llm                 jsonb,
  trading             jsonb,
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
  version             bigint NOT NULL DEFAULT 1,
  projected_version   bigint NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orgs_unprojected_idx ON orgs (org_id) WHERE projected_version < version;

CREATE TABLE IF NOT EXISTS org_members (
  org_id      text NOT NULL REFERENCES orgs (org_id),
  user_id     text NOT NULL,
  role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX IF NOT EXISTS org_members_user_idx ON org_members (user_id);

CREATE TABLE IF NOT EXISTS org_invitations (
  invitation_id  text PRIMARY KEY,
  org_id         text NOT NULL REFERENCES orgs (org_id),
  email          text NOT NULL,
  role           text NOT NULL CHECK (role IN ('admin', 'member')),
  token_sha256   text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'cancelled', 'expired')),
  invited_by     text NOT NULL,
  accepted_by    text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  accepted_at    timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS org_invitations_pending_idx ON org_invitations (org_id, lower(email)) WHERE status = 'pending';

ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS org_id text;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS projected_version bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS api_keys_unprojected_idx ON api_keys (key_id) WHERE projected_version < version;
`;
