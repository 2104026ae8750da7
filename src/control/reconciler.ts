/**
 * The reconciler: every `control.reconcile_interval_ms` it re-projects rows
 * committed but not projected (`projected_version < version`: Redis was down,
 * or the process died between commit and projection), and every
 * `control.sweep_interval_ms` it compares every user, org and key projection
 * in Redis with Postgres and restores what is missing or older (someone
 * deleted keys, a partial data loss the epoch did not reveal). A Redis that
 * lost everything is the projection watch's (src/identity-admin/projection-watch.ts),
 * which the control process runs too. Each change it writes is published, so
 * sidecars evict what they cached.
 */
import { markProjected, projectChange, projectionOf, type Change, type ChangeKind } from '../identity-admin/changes.js';
import type { KeyRow } from '../identity-admin/keystore.js';
import type { OrgRow } from '../identity-admin/orgstore.js';
import type { UserRow } from '../identity-admin/userstore.js';
import type { ControlMetrics } from './metrics.js';
import type { ServiceDeps } from './services/deps.js';

const BATCH = 500;

const TABLES: ReadonlyArray<{ kind: ChangeKind; table: string; id: string }> = [
  { kind: 'user', table: 'users', id: 'user_id' },
  { kind: 'org', table: 'orgs', id: 'org_id' },
  { kind: 'key', table: 'api_keys', id: 'key_id' },
];

export interface Reconciler {
  /** One pass over unprojected rows; resolves with how many were projected. */
  reconcileOnce(): Promise<number>;
  /** One full comparison of Redis with Postgres; resolves with how many were restored. */
  sweepOnce(): Promise<number>;
  close(): Promise<void>;
}

const changeOf = (kind: ChangeKind, row: UserRow | OrgRow | KeyRow): Change => ({ kind, row }) as Change;

export function startReconciler(deps: ServiceDeps, opts: { intervalMs: number; sweepMs: number; metrics: ControlMetrics }): Reconciler {
  const redis = deps.redis;
  const log = deps.log.child({ component: 'reconciler' });

  async function project(kind: ChangeKind, rows: Array<UserRow | OrgRow | KeyRow>): Promise<number> {
    let n = 0;
    for (const row of rows) {
      const c = changeOf(kind, row);
      await projectChange(redis!, deps.prefix, c);
      await markProjected(deps.pool, projectionOf(deps.prefix, c).message);
      n++;
    }
    opts.metrics.reconciled(kind, n);
    return n;
  }

  async function reconcile(): Promise<number> {
    if (redis === null || redis.status !== 'ready') return 0;
    let total = 0;
    for (const t of TABLES) {
      const rows = (await deps.pool.query(`SELECT * FROM ${t.table} WHERE projected_version < version ORDER BY ${t.id} LIMIT ${BATCH}`)).rows;
      opts.metrics.behind(t.kind, rows.length);
      total += await project(t.kind, rows);
    }
    if (total > 0) log.info('reconciler: re-projected rows committed while Redis could not take them', { rows: total });
    return total;
  }

  /** Is Redis's copy (`text`) what Postgres says for this row? */
  function current(change: Change, text: string | null): boolean {
    const want = projectionOf(deps.prefix, change);
    if (want.value === '') return text === null;
    if (text === null) return false;
    if (change.kind === 'key') return text === want.value;
    try {
      return Number((JSON.parse(text) as { version?: unknown }).version) >= want.message.version;
    } catch {
      return false;
    }
  }

  async function sweep(): Promise<number> {
    if (redis === null || redis.status !== 'ready') return 0;
    let restored = 0;
    for (const t of TABLES) {
      let after = '';
      for (;;) {
        const rows = (await deps.pool.query(`SELECT * FROM ${t.table} WHERE ${t.id} > $1 ORDER BY ${t.id} LIMIT ${BATCH}`, [after])).rows;
        if (rows.length === 0) break;
        after = rows[rows.length - 1][t.id];
        const changes = rows.map((r) => changeOf(t.kind, r));
        const texts = await redis.mget(changes.map((c) => projectionOf(deps.prefix, c).key));
        const stale = rows.filter((_, i) => !current(changes[i]!, texts[i] ?? null));
        restored += await project(t.kind, stale);
      }
    }
    if (restored > 0) log.warn('reconciler: restored projections Redis had lost or held older', { rows: restored });
    return restored;
  }

  const reconcileOnce = single(reconcile, log);
  const sweepOnce = single(sweep, log);
  const timers = [setInterval(() => void reconcileOnce(), opts.intervalMs), setInterval(() => void sweepOnce(), opts.sweepMs)];
  for (const t of timers) t.unref();

  let closing: Promise<void> | null = null;
  return {
    reconcileOnce,
    sweepOnce,
    close() {
      closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        await Promise.allSettled([reconcileOnce(), sweepOnce()]);
      })();
      return closing;
    },
  };
}

/** One run at a time: a call while one runs gets its promise; a failure is logged and counts as 0. */
function single(fn: () => Promise<number>, log: ServiceDeps['log']): () => Promise<number> {
  let running: Promise<number> | null = null;
  return () =>
    (running ??= fn()
      .catch((err: unknown) => {
        log.warn('reconciler: pass failed; retrying on the next tick', { err });
        return 0;
      })
      .finally(() => {
        running = null;
      }));
}
