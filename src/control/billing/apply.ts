/**
 * Apply Stripe's current subscription state to one owner, inside the caller's
 * transaction: lock the owner, re-read the customer's subscriptions from Stripe
 * (never the event payload), store them, decide the verdict
 * (src/billing/effective-tier.ts), write the owner's tier and entitlements when
 * they differ, and write one audit row when anything changed. For an org, each
 * member's `org_lift` (the highest org's entitlements, applied by the sidecar
 * when it outranks their own tier) follows.
 *
 * Returns the rows to project after the commit.
 */
import { ownerVerdict, type Entitlements, type SubscriptionState } from '../../billing/effective-tier.js';
import { planForLookupKey, type BillingConfig } from '../../billing/plans.js';
import type { Change } from '../../identity-admin/changes.js';
import type { OrgRow } from '../../identity-admin/orgstore.js';
import type { UserRow } from '../../identity-admin/userstore.js';
import { lockOwner, storeSubscriptions, type Queryable, type SubscriptionRow } from './store.js';
import type { Owner, StripeSubscription } from './stripe-api.js';

/** The owner columns billing writes (users and orgs share them). */
export interface OwnerRow {
  tier: string | null;
  features: string[] | null;
  llm: Record<string, unknown> | null;
  trading: Record<string, unknown> | null;
  plan?: string | null;
  version: string;
  [column: string]: unknown;
}

/** A committed user or org row to project (src/identity-admin/changes.ts). */
export type OwnerChange = Extract<Change, { kind: 'user' | 'org' }>;

export interface ApplyContext {
  readonly billing: BillingConfig;
  readonly rank: ReadonlyMap<string, number>;
  readonly now: Date;
  /** audit_log.actor: `stripe:<event id>`, `billing:sweeper`, or the calling user. */
  readonly actor: string;
  readonly action: string;
}

export type ApplyOutcome =
  | { readonly kind: 'no_owner' }
  | {
      readonly kind: 'applied';
      readonly changed: boolean;
      readonly tier: string | null;
      readonly plan: string | null;
      readonly changes: readonly OwnerChange[];
      readonly subscriptions: readonly SubscriptionRow[];
    };

/**
 * Lock `owner`, read `customer`'s subscriptions with `fetch` (Stripe, or the
 * stored rows for the sweeper), and apply them.
 */
export async function refreshOwner(
  q: Queryable,
  owner: Owner,
  customer: string,
  fetch: () => Promise<readonly StripeSubscription[]>,
  ctx: ApplyContext,
): Promise<ApplyOutcome> {
  const before = await lockOwner<OwnerRow>(q, owner);
  if (before === null) return { kind: 'no_owner' };
  // Read Stripe only while holding the owner's lock: two events for one owner apply in turn, the later one reading the later state.
  const subs = await fetch();
  const planOf = (key: string | null) => planForLookupKey(ctx.billing, key)?.name ?? null;
  const stored = await storeSubscriptions(q, owner, customer, subs, planOf, ctx.now);
  const nowS = Math.floor(ctx.now.getTime() / 1000);
  const verdict = ownerVerdict(stored.rows.map(stateOf), ctx.billing, ctx.rank, nowS);
  const changes: OwnerChange[] = [];
  let after: OwnerRow = before;
  if (verdict.kind !== 'unchanged' && differs(before, verdict.entitlements)) {
    after = await writeOwner(q, owner, verdict.entitlements);
    changes.push(owner.kind === 'user' ? { kind: 'user', row: after as unknown as UserRow } : { kind: 'org', row: after as unknown as OrgRow });
    if (owner.kind === 'org') changes.push(...(await refreshMemberLifts(q, owner.id, ctx.rank)));
  }
  const changed = changes.length > 0 || stored.changed;
  if (changed) {
    await q.query('INSERT INTO audit_log (actor, action, subject_kind, subject_id, before, after) VALUES ($1, $2, $3, $4, $5, $6)', [
      ctx.actor,
      ctx.action,
      owner.kind,
      owner.id,
      JSON.stringify(auditView(before)),
      JSON.stringify({ ...auditView(after), subscriptions: stored.rows.map((s) => ({ id: s.subscription_id, status: s.status, plan: s.plan })) }),
    ]);
  }
  return { kind: 'applied', changed, tier: after.tier, plan: (after.plan as string | null | undefined) ?? null, changes, subscriptions: stored.rows };
}

function stateOf(r: SubscriptionRow): SubscriptionState {
  return { status: r.status, lookup_key: r.price_lookup_key, past_due_since: r.past_due_since ? Math.floor(r.past_due_since.getTime() / 1000) : null };
}

/**
 * The owner tables' entitlement columns (migration 007_orgs, 005_users): where the
 * control plane stores each extension's entitlements. A plan's entitlements for
 * an extension without a column are not stored.
 */
const ENTITLEMENT_COLUMNS = ['llm', 'trading'] as const;

const column = (e: Entitlements, name: string): unknown => e.entitlements[name] ?? null;

async function writeOwner(q: Queryable, owner: Owner, e: Entitlements): Promise<OwnerRow> {
  const table = owner.kind === 'user' ? 'users' : 'orgs';
  const id = owner.kind === 'user' ? 'user_id' : 'org_id';
  const r = await q.query<OwnerRow>(
    `UPDATE ${table} SET tier = $2, features = $3, plan = $4, ${ENTITLEMENT_COLUMNS.map((c, i) => `${c} = $${i + 5}`).join(', ')},
       version = version + 1, updated_at = now() WHERE ${id} = $1 RETURNING *`,
    [owner.id, e.tier, [...e.features], e.plan, ...ENTITLEMENT_COLUMNS.map((c) => (column(e, c) === null ? null : JSON.stringify(column(e, c))))],
  );
  return r.rows[0]!;
}

/**
 * Recompute `org_lift` of every member of `orgId` (and only write those that
 * differ). Also what membership changes call for the one user they touch.
 */
export async function refreshMemberLifts(q: Queryable, orgId: string, rank: ReadonlyMap<string, number>, onlyUser?: string): Promise<OwnerChange[]> {
  const members =
    onlyUser !== undefined
      ? [onlyUser]
      : (await q.query<{ user_id: string }>('SELECT user_id FROM org_members WHERE org_id = $1 ORDER BY user_id', [orgId])).rows.map((r) => r.user_id);
  const out: OwnerChange[] = [];
  for (const userId of members) {
    const row = await liftUser(q, userId, rank);
    if (row !== null) out.push({ kind: 'user', row });
  }
  return out;
}

/** Set the user's `org_lift` to their highest-tier org's entitlements; the updated row, or null when nothing changed. */
export async function liftUser(q: Queryable, userId: string, rank: ReadonlyMap<string, number>): Promise<UserRow | null> {
  const orgs = (
    await q.query<{ org_id: string; tier: string | null; features: string[] | null; llm: unknown; trading: unknown }>(
      `SELECT o.org_id, o.tier, o.features, o.llm, o.trading FROM org_members m JOIN orgs o ON o.org_id = m.org_id
       WHERE m.user_id = $1 AND o.status = 'active' AND o.tier IS NOT NULL ORDER BY o.org_id`,
      [userId],
    )
  ).rows;
  let best: (typeof orgs)[number] | null = null;
  for (const o of orgs) if (best === null || (rank.get(o.tier!) ?? -1) > (rank.get(best.tier!) ?? -1)) best = o;
  const lift =
    best === null
      ? null
      : {
          org_id: best.org_id,
          tier: best.tier,
          features: best.features ?? [],
          ...(best.llm != null && { llm: best.llm }),
          ...(best.trading != null && { trading: best.trading }),
        };
  const cur = await q.query<{ org_lift: unknown }>("SELECT org_lift FROM users WHERE user_id = $1 AND status = 'active' FOR UPDATE", [userId]);
  if (cur.rows.length === 0 || canonical(cur.rows[0]!.org_lift ?? null) === canonical(lift)) return null;
  const r = await q.query<UserRow>('UPDATE users SET org_lift = $2, version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING *', [
    userId,
    lift === null ? null : JSON.stringify(lift),
  ]);
  return r.rows[0] ?? null;
}

function differs(row: OwnerRow, e: Entitlements): boolean {
  return (
    row.tier !== e.tier ||
    (row.plan ?? null) !== e.plan ||
    canonical(row.features ?? []) !== canonical(e.features) ||
    ENTITLEMENT_COLUMNS.some((c) => canonical(row[c] ?? null) !== canonical(column(e, c)))
  );
}

function auditView(r: OwnerRow) {
  return { tier: r.tier, plan: r.plan ?? null, features: r.features, llm: r.llm, trading: r.trading, version: Number(r.version) };
}

/** JSON with object keys sorted (jsonb does not keep key order). */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}
