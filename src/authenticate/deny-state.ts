/**
 * Deny state as Redis commands, shared by every writer (`revoke`, `keys revoke`
 * through ioredis, the kill switch through the lean RESP client) so the keys,
 * values, TTLs and channel cannot drift apart. Imports nothing: the kill switch
 * loads it without ioredis or zod. Layout: see store.ts.
 */

export type RevocationKind = 'user' | 'key' | 'session';
export interface Revocation {
  readonly kind: RevocationKind;
  readonly id: string;
  /** Unix seconds of the revocation. */
  readonly at: number;
}

export function redisKeys(prefix: string) {
  return {
    key: (sha: string) => `${prefix}auth:key:${sha}`,
    user: (id: string) => `${prefix}auth:user:${id}`,
    org: (id: string) => `${prefix}auth:org:${id}`,
    deny: (kind: RevocationKind, id: string) => `${prefix}auth:deny:${kind}:${id}`,
    channel: `${prefix}auth:revocations`,
    /** JSON `{kind: user|org|key, id, version}` published by the control plane after each commit. */
    changes: `${prefix}auth:changes`,
  };
}

/** A command as its name and arguments, e.g. `['SET', key, value]`. */
export type RedisCommand = [name: string, ...args: string[]];

/** Deny state lives this long for sessions (they expire anyway); users and keys keep it. */
export const SESSION_DENY_TTL_S = 30 * 24 * 3600;

/**
 * The commands of one revocation, to run in one MULTI/EXEC: SET the deny key to
 * the unix seconds (sessions with a TTL), then PUBLISH `{kind, id, at}` on the
 * revocations channel. The PUBLISH reply is the number of sidecars reached.
 */
export function revocationCommands(prefix: string, r: Revocation): RedisCommand[] {
  const k = redisKeys(prefix);
  const set: RedisCommand = ['SET', k.deny(r.kind, r.id), String(r.at)];
  if (r.kind === 'session') set.push('EX', String(SESSION_DENY_TTL_S));
  return [set, ['PUBLISH', k.channel, JSON.stringify(r)]];
}
