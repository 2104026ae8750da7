/**
 * The one outcome shape every stage returns: ok with what the stage adds, or a
 * refusal carrying a {@link Denial} (a stable code, src/errors.ts). Expected
 * outcomes are values; only bugs and infrastructure faults throw. A stage that
 * only checks returns `Denial | null` (null: passed), the same refusal.
 */
import type { Denial } from '../errors.js';
import type { AuthContext } from './principal.js';

export type Refused = { readonly ok: false; readonly denial: Denial };

/** `T`: what an ok stage hands on (the principal, extra headers, a prepared request…). */
export type Outcome<T extends object = object> = ({ readonly ok: true } & T) | Refused;

/** authenticate: who is calling (null: anonymous); `stale`: served from cache while a dependency is down. */
export type AuthOutcome = Outcome<{ readonly ctx: AuthContext | null; readonly stale?: boolean }>;

/** rate limit: a token taken; headers to add to every response of this request. */
export type LimitOutcome = Outcome<{ readonly headers?: ReadonlyArray<string | Uint8Array> }>;
