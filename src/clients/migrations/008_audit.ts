/**
 * `audit_log`: one row per control-plane mutation, written in the same
 * transaction as the change (src/control/services/tx.ts), naming the actor.
 * `idempotency_keys`: the stored answer to a create sent with an
 * `Idempotency-Key` header, per actor; a retry gets the same answer, a
 * different body under the same key is refused.
 */
export const sql = `
CREATE TABLE IF NOT EXISTS audit_log (
  id            bigserial PRIMARY KEY,
  actor         text NOT NULL,
  action        text NOT NULL,
  subject_kind  text NOT NULL,
  subject_id    text NOT NULL,
  before        jsonb,
  after         jsonb,
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_log_subject_idx ON audit_log (subject_kind, subject_id, at);
CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor, at);

CREATE TABLE IF NOT EXISTS idempotency_keys (
  actor          text NOT NULL,
  key            text NOT NULL,
  operation      text NOT NULL,
  request_sha256 text NOT NULL,
  status         integer NOT NULL,
  response       jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (actor, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON idempotency_keys (created_at);
`;
