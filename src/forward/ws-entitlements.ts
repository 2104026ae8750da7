/**
 * A WebSocket session's messages under the caller's current entitlements: the
 * upgrade was authorized with the context of that moment, and a heartbeat may
 * replace `session.ctx` when the owner's record changes (ws-heartbeat.ts). The
 * route's policy (tier, features, scopes, role) is checked again only when the
 * context object changed, so a message on an unchanged session costs one
 * comparison; on `llm:` routes a message naming a model is checked too. A refused
 * message gets an error frame; the session stays open.
 */
import { authorize } from '../authorize/index.js';
import type { AuthContext } from '../authenticate/context.js';
import type { Config } from '../config.js';
import type { Denial } from '../errors.js';
import type { MessageModelCheck } from '../llm/ws-models.js';
import type { CompiledRoute } from '../routes.js';
import { errorFrame } from '../trading/entitlements.js';
import type { WsSession } from './websocket.js';

export function createEntitlementCheck(opts: {
  readonly session: WsSession;
  readonly route: CompiledRoute;
  readonly tiers: Config['tiers'];
  readonly requestId: string;
  /** Present on `llm:` routes. */
  readonly model?: MessageModelCheck;
}): (data: Buffer, isBinary: boolean) => string | null {
  const { session, route, requestId, model } = opts;
  let seen: AuthContext | null = session.ctx;
  let refusal: Denial | null = null;
  return function check(data, isBinary) {
    const ctx = session.ctx;
    if (ctx === null) return null;
    if (ctx !== seen) {
      seen = ctx;
      refusal = authorize(ctx, route.cfg, opts.tiers);
    }
    const denial = refusal ?? model?.(ctx, data, isBinary) ?? null;
    return denial === null ? null : errorFrame(denial, requestId);
  };
}
