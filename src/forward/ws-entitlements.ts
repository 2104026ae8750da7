/**
 * A WebSocket session's messages under the caller's current context: the upgrade
 * was authorized with the context of that moment, and a heartbeat may replace
 * `session.ctx` when the owner's record changes (ws-heartbeat.ts). The route's
 * policy (tier, features, scopes, role, extension admissions) is applied again
 * only when the context object changed, so a message on an unchanged session costs
 * one comparison. A refused message gets an error frame; the session stays open.
 */
import type { AuthContext } from '../request/principal.js';
import type { AuthorizeStage } from '../request/stages.js';
import type { CompiledRoute } from '../request/route.js';
import type { Denial } from '../errors.js';
import type { WsSession } from './websocket.js';
import { errorFrame } from './ws-frames.js';

/** The authorize stage (route policy for a context). */
export type RoutePolicy = AuthorizeStage;

export function createEntitlementCheck(opts: {
  readonly session: WsSession;
  readonly route: CompiledRoute;
  readonly authorize: RoutePolicy;
  readonly requestId: string;
}): (data: Buffer, isBinary: boolean) => string | null {
  const { session, route, requestId } = opts;
  let seen: AuthContext | null = session.ctx;
  let refusal: Denial | null = null;
  return function check() {
    const ctx = session.ctx;
    if (ctx !== seen) {
      seen = ctx;
      refusal = opts.authorize(ctx, route.cfg);
    }
    return refusal === null ? null : errorFrame(refusal, requestId);
  };
}
