/**
 * `Idempotency-Key` on creates: the first request's answer is stored in the
 * same transaction as the change; a retry with the same key and body gets it
 * again (`replayed`), a different body under the same key gets 422
 * ARGUS_IDEMPOTENCY_KEY_REUSED. Keys are per actor and remembered
 * `control.idempotency_ttl_s`. Two concurrent requests with one key: the
 * second waits on the first's row lock and then replays its answer.
 * `redact` removes what must not be stored (a new API key is shown once).
 */
import { createHash } from 'node:crypto';
import type { Actor } from './actor.js';
import { fail } from './result.js';
import type { Mutation, Tx } from './tx.js';

export async function idempotent<T>(
  tx: Tx,
  actor: Actor,
  key: string | undefined,
  operation: string,
  request: unknown,
  ttlS: number,
  run: () => Promise<Mutation<T>>,
  redact: (value: T) => unknown = (v) => v,
): Promise<Mutation<T>> {
  if (key === undefined) return run();
  if (key.length === 0 || key.length > 255) return { result: fail('ARGUS_INVALID_REQUEST', 'Idempotency-Key: 1 to 255 characters') };
  const digest = createHash('sha256')
    .update(operation + '\n' + JSON.stringify(request ?? null))
    .digest('hex');
  await tx.query(`DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3)`, [actor.id, key, ttlS]);
  const claimed = await tx.query(
    `INSERT INTO idempotency_keys (actor, key, operation, request_sha256, status, response) VALUES ($1, $2, $3, $4, 0, 'null')
     ON CONFLICT (actor, key) DO NOTHING RETURNING key`,
    [actor.id, key, operation, digest],
  );
  if (claimed.rowCount === 0) {
    const prior = (
      await tx.query<{ operation: string; request_sha256: string; status: number; response: T }>(
        'SELECT operation, request_sha256, status, response FROM idempotency_keys WHERE actor = $1 AND key = $2',
        [actor.id, key],
      )
    ).rows[0];
    if (prior === undefined || prior.operation !== operation || prior.request_sha256 !== digest) {
      return { result: fail('ARGUS_IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request') };
    }
    return { result: { ok: true, value: prior.response, status: prior.status === 201 ? 201 : 200, replayed: true } };
  }
  const m = await run();
  if (m.result.ok) {
    await tx.query('UPDATE idempotency_keys SET status = $3, response = $4 WHERE actor = $1 AND key = $2', [
      actor.id,
      key,
      m.result.status,
      JSON.stringify(redact(m.result.value)),
    ]);
  }
  return m;
}
