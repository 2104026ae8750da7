/**
 * Sign-in identities (the dashboard, src/control/dashboard/): one row per
 * provider account (`google`, `github`) and the user it signs in as. The
 * provider's user id is the key, never the email: an email changes hands, a
 * provider id does not. `email` and `email_verified` are what the provider last
 * said; a new identity is linked to an existing user only through a verified
 * email (src/control/dashboard/identities.ts).
 */
export const sql = `
CREATE TABLE IF NOT EXISTS oauth_accounts (
  provider         text NOT NULL,
  provider_user_id text NOT NULL,
  user_id          text NOT NULL,
  email            text,
  email_verified   boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_login_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, provider_user_id)
);
CREATE INDEX IF NOT EXISTS oauth_accounts_user_idx ON oauth_accounts (user_id);
`;
