/**
 * L2: where key records, user records and deny state live for the proxy.
 *
 * Redis layout (prefix = `redis.key_prefix`, default `argus:`):
 * - `<prefix>auth:key:<sha256 hex>`       JSON key record (records.ts), written by `keys create`
 * - `<prefix>auth:user:<user_id>`         JSON user record, written by the control plane
 * - `<prefix>auth:org:<org_id>`           JSON org record (same format), written by the control plane
 * - `<prefix>auth:deny:user:<user_id>`    unix seconds: credentials issued at or before are refused
 * - `<prefix>auth:deny:session:<sid>`     unix seconds: the session is refused
 * - `<prefix>auth:deny:key:<key_id>`      unix seconds: the key is refused
 * - channel `<prefix>auth:revocations`    JSON `{kind, id, at}` published by `revoke` / `keys revoke`
 * - channel `<prefix>auth:changes`        JSON `{kind: user|org|key, id, version}` published by the control plane
 * - `<prefix>projection:epoch`            whether Redis still holds the projection (projection.ts)
 *
 * Every read also fetches the epoch (same round trip: one MGET, or on a Redis
 * Cluster one GET per key in parallel, since the keys live in different slots). Once this process has
 * seen a complete epoch (or `redis.require_projection` is set), a missing or incomplete
 * one means Redis lost its data: lookups report `projection` other than
 * `complete` and the authenticator answers 503 instead of trusting an absence.
 *
 * Standalone (no Redis) the store holds the key file's records in memory: a real
 * implementation with no deny state beyond a key record's own `status`.
 * Every method throws {@link StoreUnavailable} when the store cannot answer;
 * the caller applies the route's failure policy.
 */
import { getMany, type Redis } from '../clients/redis.js';
import { redisKeys, type Revocation } from './deny-state.js';
import { epochState, projectionKeys, type EpochState } from './projection.js';
import { keyRecordSchema, parseRecord, userRecordSchema, type KeyRecord, type UserRecord } from './records.js';

export { redisKeys, revocationCommands, SESSION_DENY_TTL_S, type Revocation, type RevocationKind } from './deny-state.js';

export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
}

export interface SubjectState {
  readonly user: UserRecord | null;
  /** The org's record, when an org id was asked for (an org-owned API key). */
  readonly org: UserRecord | null;
  /** Unix seconds of the latest `revoke --user`, or null. */
  readonly userRevokedAt: number | null;
  readonly sessionRevoked: boolean;
  readonly keyRevoked: boolean;
  /** What Redis can be trusted for: `complete` (all), `deny-ready` (deny state only), `missing` (nothing). */
  readonly projection: EpochState;
}

export interface KeyLookup {
  readonly rec: KeyRecord | null;
  readonly projection: EpochState;
}

export interface AuthStore {
  /** The key record for a digest, or null when unknown. */
  findKey(sha256: string): Promise<KeyLookup>;
  /** User record (and the org's, given `orgId`) and deny state in one round trip. */
  subject(userId: string, sessionId?: string, keyId?: string, orgId?: string): Promise<SubjectState>;
  readonly redis: Redis | null;
}

const NO_STATE: SubjectState = Object.freeze({ user: null, org: null, userRevokedAt: null, sessionRevoked: false, keyRevoked: false, projection: 'complete' });
const NO_KEY: KeyLookup = Object.freeze({ rec: null, projection: 'complete' });

export function createAuthStore(opts: {
  redis: Redis | null;
  prefix: string;
  fileKeys: Map<string, KeyRecord> | null;
  requireProjection?: boolean;
}): AuthStore {
  const { redis, fileKeys } = opts;
  const k = redisKeys(opts.prefix);
  const epochKey = projectionKeys(opts.prefix).epoch;
  let seenEpoch = opts.requireProjection === true;

  /**
   * The epoch's verdict; `complete` until this process has seen a complete one
   * (Redis without a projector, or a first projection still running, stays as before).
   */
  function projectionOf(epoch: string | null | undefined): EpochState {
    const state = epochState(epoch);
    if (state === 'complete') seenEpoch = true;
    return seenEpoch ? state : 'complete';
  }

  async function findKey(sha256: string): Promise<KeyLookup> {
    const fromFile = fileKeys?.get(sha256);
    if (fromFile !== undefined) return { rec: fromFile, projection: 'complete' };
    if (redis === null) return NO_KEY;
    let vals: Array<string | null>;
    try {
      vals = await getMany(redis, [k.key(sha256), epochKey]);
    } catch (err) {
      throw new StoreUnavailable(`redis: ${(err as Error).message}`, { cause: err });
    }
    return { rec: parseRecord(keyRecordSchema, vals[0]), projection: projectionOf(vals[1]) };
  }

  async function subject(userId: string, sessionId?: string, keyId?: string, orgId?: string): Promise<SubjectState> {
    if (redis === null) return NO_STATE;
    const names = [k.user(userId), k.deny('user', userId), epochKey];
    if (sessionId !== undefined) names.push(k.deny('session', sessionId));
    if (keyId !== undefined) names.push(k.deny('key', keyId));
    if (orgId !== undefined) names.push(k.org(orgId));
    let vals: Array<string | null>;
    try {
      vals = await getMany(redis, names);
    } catch (err) {
      throw new StoreUnavailable(`redis: ${(err as Error).message}`, { cause: err });
    }
    const userRevokedAt = vals[1] == null ? null : Number(vals[1]);
    let i = 3;
    const sessionRevoked = sessionId !== undefined && vals[i++] != null;
    const keyRevoked = keyId !== undefined && vals[i++] != null;
    return {
      user: parseRecord(userRecordSchema, vals[0]),
      org: orgId !== undefined ? parseRecord(userRecordSchema, vals[i]) : null,
      userRevokedAt: userRevokedAt !== null && Number.isFinite(userRevokedAt) ? userRevokedAt : userRevokedAt === null ? null : Infinity,
      sessionRevoked,
      keyRevoked,
      projection: projectionOf(vals[2]),
    };
  }

  return { findKey, subject, redis };
}

/** Parse a pub/sub message; null when malformed. */
export function parseRevocation(text: string): Revocation | null {
  try {
    const r = JSON.parse(text) as Partial<Revocation>;
    if ((r.kind === 'user' || r.kind === 'key' || r.kind === 'session') && typeof r.id === 'string' && r.id.length > 0) {
      return { kind: r.kind, id: r.id, at: typeof r.at === 'number' ? r.at : Date.now() / 1000 };
    }
  } catch {
    // fall through
  }
  return null;
}

/** A control-plane change (`<prefix>auth:changes`): whose records changed. */
export interface Change {
  readonly kind: 'user' | 'org' | 'key';
  readonly id: string;
  readonly version?: number;
}

/** Parse a change message; null when malformed. */
export function parseChange(text: string): Change | null {
  try {
    const c = JSON.parse(text) as Partial<Change>;
    if ((c.kind === 'user' || c.kind === 'org' || c.kind === 'key') && typeof c.id === 'string' && c.id.length > 0) {
      return { kind: c.kind, id: c.id, ...(typeof c.version === 'number' && { version: c.version }) };
    }
  } catch {
    // fall through
  }
  return null;
}
