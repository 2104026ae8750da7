/**
 * The kill switch as a service (the `revoke` CLI's semantics): record the
 * revocation in Postgres with its audit row, then write the deny state and
 * publish it (src/identity-admin/publish.ts): every sidecar refuses the user's
 * credentials issued until now, the session, or the key at once, and closes
 * their WebSocket sessions. A revoked key's row is marked and re-projected too.
 */
import type { KeyRow } from '../../identity-admin/keystore.js';
import type { RevocationInput } from '../api/schemas.js';
import { requireAdmin, type Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { ok, type Result } from './result.js';
import { audit, mutate } from './tx.js';
import { keyView } from './views.js';

export interface RevocationView {
  kind: 'user' | 'session' | 'key';
  id: string;
  at: number;
}

export async function revoke(deps: ServiceDeps, actor: Actor, input: RevocationInput): Promise<Result<RevocationView>> {
  const denied = requireAdmin(actor);
  if (denied) return denied;
  const at = deps.now() / 1000;
  return mutate(deps, async (tx) => {
    await tx.query(
      `INSERT INTO auth_revocations (kind, subject_id, revoked_at) VALUES ($1, $2, to_timestamp($3))
       ON CONFLICT (kind, subject_id) DO UPDATE SET revoked_at = GREATEST(auth_revocations.revoked_at, EXCLUDED.revoked_at)`,
      [input.kind, input.id, at],
    );
    const key =
      input.kind === 'key'
        ? (
            await tx.query<KeyRow>(
              `UPDATE api_keys SET status = 'revoked', revoked_at = COALESCE(revoked_at, now()), version = version + 1 WHERE key_id = $1 RETURNING *`,
              [input.id],
            )
          ).rows[0]
        : undefined;
    const view: RevocationView = { kind: input.kind, id: input.id, at };
    await audit(tx, actor, 'revocation.create', { kind: input.kind, id: input.id }, null, key ? { ...view, key: keyView(key) } : view);
    return { result: ok(view, 201), revocations: [view], changes: key ? [{ kind: 'key', row: key }] : [] };
  });
}
