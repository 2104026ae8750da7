/**
 * The stage interfaces the pipeline (src/pipeline.ts) calls, in data-path order.
 * Each stage is built by a factory in its own folder from its own config slice.
 */
import type { Denial } from '../errors.js';
import type { Exchange } from './exchange.js';
import type { RequestHead } from './head.js';
import type { AuthOutcome, LimitOutcome } from './outcome.js';
import type { AuthContext } from './principal.js';
import type { CompiledRoute, RouteConfig } from './route.js';

/** authenticate: who is calling (synchronous on a cache hit). */
export interface AuthStage {
  authenticate(head: RequestHead, route: RouteConfig): AuthOutcome | Promise<AuthOutcome>;
}

/** authorize: may this caller use this route (null: yes). */
export type AuthorizeStage = (ctx: AuthContext | null, route: RouteConfig) => Denial | null;

/** rate limit: take a token, or say when to come back. */
export type RateLimitStage = (ctx: AuthContext, route: CompiledRoute) => LimitOutcome | Promise<LimitOutcome>;

/** meter: record what was served, after the response (never on its critical path). */
export type MeterStage = (ex: Exchange, route: CompiledRoute, ctx: AuthContext | null) => void;
