/**
 * The request side of the Redis identity projection: the epoch key and what a
 * proxy may trust from it. The writer (re-projection from Postgres, the epoch's
 * phases and lock) is src/identity-admin/projection.ts.
 */
export type EpochPhase = 'deny' | 'keys' | 'users' | 'complete';

/** What a proxy may trust: everything, deny state only, or nothing projected. */
export type EpochState = 'complete' | 'deny-ready' | 'missing';

export function projectionKeys(prefix: string) {
  return { epoch: `${prefix}projection:epoch`, lock: `${prefix}projection:lock` };
}

/** Classify the epoch key's value (null: absent). Malformed counts as missing. */
export function epochState(text: string | null | undefined): EpochState {
  if (text === null || text === undefined) return 'missing';
  let phase: unknown;
  try {
    phase = (JSON.parse(text) as { phase?: unknown }).phase;
  } catch {
    return 'missing';
  }
  if (phase === 'complete') return 'complete';
  return phase === 'keys' || phase === 'users' ? 'deny-ready' : 'missing';
}
