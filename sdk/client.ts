/**
 * A thin TypeScript client for the Argus control plane API (docs/control-plane.md),
 * typed from the checked-in OpenAPI document (sdk/schema.ts, `npm run openapi`).
 *
 * Every call resolves to `{ data, error, status }` and never throws for an HTTP
 * or network failure: `error` is the API's envelope (`code`, `message`,
 * `request_id`), or `ARGUS_SDK_TIMEOUT` / `ARGUS_SDK_NETWORK` when no answer came.
 * Each attempt is bounded by `timeoutMs` (default 10 s). Retries (default 2, with
 * backoff and `Retry-After`) happen only for calls that are safe to repeat:
 * reads, PUT/DELETE, the read-only POSTs (validate, entitlement check), and
 * creates sent with an `idempotencyKey`; only on no answer, 429, 502, 503 and 504.
 */
import type { components, operations } from './schema.js';

type Schemas = components['schemas'];
type Query<O extends keyof operations> = operations[O]['parameters'] extends { query?: infer Q } ? NonNullable<Q> : never;

export interface ArgusError {
  readonly code: string;
  readonly message: string;
  readonly request_id?: string;
}

export type ArgusResult<T> = { data: T; error: null; status: number } | { data: null; error: ArgusError; status: number };

export interface ArgusClientOptions {
  /** e.g. `http://argus-control:8070` */
  readonly baseUrl: string;
  /** One credential, as the sidecar takes it: an API key, a JWT, or a signed session header. */
  readonly apiKey?: string;
  readonly token?: string;
  readonly session?: { readonly header?: string; readonly value: string };
  /** Per attempt, ms (default 10000). */
  readonly timeoutMs?: number;
  /** Extra attempts for retry-safe calls (default 2). */
  readonly retries?: number;
  readonly fetch?: typeof fetch;
}

/** Options of a create: an Idempotency-Key makes it retry-safe. */
export interface CreateOptions {
  readonly idempotencyKey?: string;
}

interface Call {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly query?: Record<string, unknown> | undefined;
  readonly body?: unknown;
  readonly idempotencyKey?: string | undefined;
  /** Safe to repeat although it is a POST (read-only). */
  readonly safe?: boolean;
}

const RETRY_STATUS = new Set([429, 502, 503, 504]);
const enc = encodeURIComponent;

export function createArgusClient(opts: ArgusClientOptions) {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = opts.retries ?? 2;
  const base = opts.baseUrl.replace(/\/+$/, '');
  const auth: Record<string, string> = {};
  if (opts.apiKey !== undefined) auth['x-api-key'] = opts.apiKey;
  if (opts.token !== undefined) auth['authorization'] = `Bearer ${opts.token}`;
  if (opts.session !== undefined) auth[opts.session.header ?? 'x-cognito-session'] = opts.session.value;

  async function attempt<T>(c: Call): Promise<ArgusResult<T> & { retryAfterMs?: number }> {
    const url = new URL(base + c.path);
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...auth, accept: 'application/json' };
    if (c.body !== undefined) headers['content-type'] = 'application/json';
    if (c.idempotencyKey !== undefined) headers['idempotency-key'] = c.idempotencyKey;
    try {
      const res = await doFetch(url, {
        method: c.method,
        headers,
        ...(c.body !== undefined && { body: JSON.stringify(c.body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let json: unknown = null;
      try {
        json = text === '' ? null : JSON.parse(text);
      } catch {
        json = null;
      }
      if (res.ok) return { data: json as T, error: null, status: res.status };
      const e = (json as { error?: ArgusError } | null)?.error;
      const retryAfter = Number(res.headers.get('retry-after'));
      return {
        data: null,
        error: e && typeof e.code === 'string' ? e : { code: 'ARGUS_SDK_HTTP', message: `HTTP ${res.status}` },
        status: res.status,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 && { retryAfterMs: retryAfter * 1000 }),
      };
    } catch (err) {
      const timeout = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
      return {
        data: null,
        error: {
          code: timeout ? 'ARGUS_SDK_TIMEOUT' : 'ARGUS_SDK_NETWORK',
          message: timeout ? `no answer within ${timeoutMs} ms` : String((err as Error).message),
        },
        status: 0,
      };
    }
  }

  async function call<T>(c: Call): Promise<ArgusResult<T>> {
    const retrySafe = c.method === 'GET' || c.method === 'PUT' || c.method === 'DELETE' || c.safe === true || c.idempotencyKey !== undefined;
    for (let n = 0; ; n++) {
      const r = await attempt<T>(c);
      if (r.error === null || !retrySafe || n >= retries || !(r.status === 0 || RETRY_STATUS.has(r.status))) {
        const { retryAfterMs: _ignored, ...result } = r;
        return result as ArgusResult<T>;
      }
      const backoff = Math.min(r.retryAfterMs ?? 100 * 2 ** n * (1 + Math.random()), 5000);
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }

  return {
    auth: {
      validateToken: (body: Schemas['ValidateRequest']) => call<Schemas['ValidateResponse']>({ method: 'POST', path: '/v1/auth/validate', body, safe: true }),
      checkEntitlements: (body: Schemas['EntitlementsCheck']) =>
        call<Schemas['Entitlements']>({ method: 'POST', path: '/v1/entitlements/check', body, safe: true }),
      createSession: (body: Schemas['SessionCreate']) => call<Schemas['Session']>({ method: 'POST', path: '/v1/sessions', body }),
    },
    identity: {
      createUser: (body: Schemas['UserCreate'], o: CreateOptions = {}) =>
        call<Schemas['User']>({ method: 'POST', path: '/v1/users', body, idempotencyKey: o.idempotencyKey }),
      getUser: (userId: string) => call<Schemas['User']>({ method: 'GET', path: `/v1/users/${enc(userId)}` }),
      listUsers: (query: Query<'listUsers'> = {}) => call<Schemas['UserList']>({ method: 'GET', path: '/v1/users', query }),
      updateUser: (userId: string, body: Schemas['UserUpdate']) => call<Schemas['User']>({ method: 'PATCH', path: `/v1/users/${enc(userId)}`, body }),
      deleteUser: (userId: string) => call<Schemas['User']>({ method: 'DELETE', path: `/v1/users/${enc(userId)}` }),
      createApiKey: (userId: string, body: Schemas['ApiKeyCreate'] = {}, o: CreateOptions = {}) =>
        call<Schemas['ApiKeyCreated']>({ method: 'POST', path: `/v1/users/${enc(userId)}/keys`, body, idempotencyKey: o.idempotencyKey }),
      listApiKeys: (userId: string) => call<Schemas['ApiKeyList']>({ method: 'GET', path: `/v1/users/${enc(userId)}/keys` }),
      getApiKey: (keyId: string) => call<Schemas['ApiKey']>({ method: 'GET', path: `/v1/keys/${enc(keyId)}` }),
      revokeApiKey: (keyId: string) => call<Schemas['ApiKey']>({ method: 'DELETE', path: `/v1/keys/${enc(keyId)}` }),
      revoke: (body: Schemas['RevocationCreate']) => call<Schemas['Revocation']>({ method: 'POST', path: '/v1/revocations', body }),
      createOrg: (body: Schemas['OrgCreate'], o: CreateOptions = {}) =>
        call<Schemas['Org']>({ method: 'POST', path: '/v1/orgs', body, idempotencyKey: o.idempotencyKey }),
      getOrg: (orgId: string) => call<Schemas['Org']>({ method: 'GET', path: `/v1/orgs/${enc(orgId)}` }),
      updateOrg: (orgId: string, body: Schemas['OrgUpdate']) => call<Schemas['Org']>({ method: 'PATCH', path: `/v1/orgs/${enc(orgId)}`, body }),
      listOrgMembers: (orgId: string) => call<Schemas['MemberList']>({ method: 'GET', path: `/v1/orgs/${enc(orgId)}/members` }),
      addOrgMember: (orgId: string, body: Schemas['MemberAdd']) => call<Schemas['Member']>({ method: 'POST', path: `/v1/orgs/${enc(orgId)}/members`, body }),
      updateOrgMember: (orgId: string, userId: string, body: Schemas['MemberUpdate']) =>
        call<Schemas['Member']>({ method: 'PATCH', path: `/v1/orgs/${enc(orgId)}/members/${enc(userId)}`, body }),
      removeOrgMember: (orgId: string, userId: string) => call<Schemas['Member']>({ method: 'DELETE', path: `/v1/orgs/${enc(orgId)}/members/${enc(userId)}` }),
      createInvitation: (orgId: string, body: Schemas['InvitationCreate']) =>
        call<Schemas['InvitationCreated']>({ method: 'POST', path: `/v1/orgs/${enc(orgId)}/invitations`, body }),
      listInvitations: (orgId: string) => call<Schemas['InvitationList']>({ method: 'GET', path: `/v1/orgs/${enc(orgId)}/invitations` }),
      cancelInvitation: (orgId: string, invitationId: string) =>
        call<Schemas['Invitation']>({ method: 'DELETE', path: `/v1/orgs/${enc(orgId)}/invitations/${enc(invitationId)}` }),
      acceptInvitation: (token: string) => call<Schemas['Member']>({ method: 'POST', path: '/v1/invitations/accept', body: { token } }),
    },
    billing: {
      getUsage: (query: Query<'getUsage'> = {}) => call<Schemas['Usage']>({ method: 'GET', path: '/v1/usage', query }),
      /** The seeds' `create_checkout_session`: open `data.url` in the browser. Never retried (each call is a new session). */
      createCheckoutSession: (body: Schemas['CheckoutRequest']) => call<Schemas['CheckoutSession']>({ method: 'POST', path: '/v1/billing/checkout', body }),
      createPortalSession: (body: Schemas['PortalRequest']) => call<Schemas['PortalSession']>({ method: 'POST', path: '/v1/billing/portal', body }),
      /** The seeds' `get_subscription`. */
      getSubscription: (query: Query<'getSubscription'> = {}) => call<Schemas['Subscription']>({ method: 'GET', path: '/v1/billing/subscription', query }),
      /** Apply the subscription now (checkout success page); safe to retry: it re-reads Stripe's state. */
      syncSubscription: (body: Schemas['SyncRequest'] = {}) => call<Schemas['Subscription']>({ method: 'POST', path: '/v1/billing/sync', body, safe: true }),
      /** The seeds' `batch_record_usage` (and `record_usage`, `record_llm_usage`, `record_trading_usage` as one-event batches); safe to retry: event ids dedupe. */
      recordUsage: (body: Schemas['UsageEventsRequest']) =>
        call<Schemas['UsageEventsAccepted']>({ method: 'POST', path: '/v1/usage/events', body, safe: true }),
    },
    config: {
      listTiers: () => call<Schemas['Tiers']>({ method: 'GET', path: '/v1/config/tiers' }),
      listFeatures: () => call<Schemas['Features']>({ method: 'GET', path: '/v1/config/features' }),
      getRateLimits: () => call<Schemas['RateLimits']>({ method: 'GET', path: '/v1/config/rate-limits' }),
    },
    audit: {
      /** Auth events, oldest first; pass `next_cursor` back as `cursor` for the next page. An admin reads anyone's, a user their own. */
      listAuthEvents: (query: Query<'listAuthEvents'> = {}) => call<Schemas['AuthEventList']>({ method: 'GET', path: '/v1/auth-events', query }),
    },
    me: {
      get: () => call<Schemas['User']>({ method: 'GET', path: '/v1/me' }),
      getPreferences: () => call<Schemas['Preferences']>({ method: 'GET', path: '/v1/me/preferences' }),
      putPreferences: (body: Schemas['Preferences']) => call<Schemas['Preferences']>({ method: 'PUT', path: '/v1/me/preferences', body }),
      listApiKeys: () => call<Schemas['ApiKeyList']>({ method: 'GET', path: '/v1/me/keys' }),
      createApiKey: (body: Schemas['ApiKeyCreate'] = {}, o: CreateOptions = {}) =>
        call<Schemas['ApiKeyCreated']>({ method: 'POST', path: '/v1/me/keys', body, idempotencyKey: o.idempotencyKey }),
      revokeApiKey: (keyId: string) => call<Schemas['ApiKey']>({ method: 'DELETE', path: `/v1/me/keys/${enc(keyId)}` }),
    },
  };
}

export type ArgusClient = ReturnType<typeof createArgusClient>;
