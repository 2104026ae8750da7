/**
 * One mutation = one transaction: the change, its audit row (naming the actor)
 * and, for creates with an `Idempotency-Key`, the stored answer commit together.
 * After the commit the revocations are published, then the changed rows are
 * projected into Redis and announced on the changes channel
 * (src/identity-admin/changes.ts). A projection that fails is logged and left to
 * the reconciler (src/control/reconciler.ts): the commit stands.
 */
import type { PoolClient } from 'pg';
import { publishRevocation } from '../../identity-admin/publish.js';
import { markProjected, projectChange, projectionOf, type Change } from '../../identity-admin/changes.js';
import type { Revocation } from '../../authenticate/deny-state.js';
import type { Actor } from './actor.js';
import type { ServiceDeps } from './deps.js';
import { fail, type Result } from './result.js';

export type Tx = PoolClient;

export interface Mutation<T> {
  readonly result: Result<T>;
  /** Rows to project after the commit. */
  readonly changes?: readonly Change[];
  /** Deny state to write and publish after the commit, before the projections. */
  readonly revocations?: readonly Revocation[];
}

/** Run `fn` in a transaction; commit when its result is ok, roll back otherwise. A unique violation is a 409. */
export async function mutate<T>(deps: ServiceDeps, fn: (tx: Tx) => Promise<Mutation<T>>): Promise<Result<T>> {
  const tx = await deps.pool.connect();
  let m: Mutation<T>;
  try {
    await tx.query('BEGIN');
    m = await fn(tx);
    await tx.query(m.result.ok ? 'COMMIT' : 'ROLLBACK');
  } catch (err) {
    await tx.query('ROLLBACK').catch(() => undefined);
    if ((err as { code?: string }).code === '23505')
      return fail('ARGUS_CONFLICT', `already exists (${(err as { constraint?: string }).constraint ?? 'unique'})`);
    throw err;
  } finally {
    tx.release();
  }
  if (m.result.ok) await afterCommit(deps, m.revocations ?? [], m.changes ?? []);
  return m.result;
}

/** Publish revocations, then project and announce each change; failures are left to the reconciler. */
export async function afterCommit(deps: ServiceDeps, revocations: readonly Revocation[], changes: readonly Change[]): Promise<void> {
  const redis = deps.redis;
  if (redis === null) return;
  for (const r of revocations) {
    try {
      await publishRevocation(redis, deps.prefix, r);
    } catch (err) {
      deps.log.error('control: could not publish a revocation (recorded in Postgres; the projection watch restores deny state)', { err, kind: r.kind });
    }
  }
  for (const c of changes) {
    try {
      await projectChange(redis, deps.prefix, c);
      await markProjected(deps.pool, projectionOf(deps.prefix, c).message);
      deps.onProjection?.('ok');
    } catch (err) {
      deps.onProjection?.('failed');
      deps.log.warn('control: projection failed after commit; the reconciler will retry', { err, kind: c.kind });
    }
  }
}

/** The audit row of a mutation, in its transaction. */
export async function audit(tx: Tx, actor: Actor, action: string, subject: { kind: string; id: string }, before: unknown, after: unknown): Promise<void> {
  await tx.query('INSERT INTO audit_log (actor, action, subject_kind, subject_id, before, after) VALUES ($1, $2, $3, $4, $5, $6)', [
    actor.id,
    action,
    subject.kind,
    subject.id,
    before === null || before === undefined ? null : JSON.stringify(before),
    after === null || after === undefined ? null : JSON.stringify(after),
  ]);
}
