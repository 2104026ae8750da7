/**
 * What each WebSocket session's client messages pass before the upstream:
 * per-connection and per-user message limits (the rate limiter's buckets, in
 * this sidecar), the route's policy against the caller's current context (which a
 * heartbeat may narrow: ws-entitlements.ts), then the message gate of the route's
 * extension, if it has one (src/extensions/contract.ts). A refused message gets an
 * error frame; the session stays open.
 */
import type { AuthContext } from '../request/principal.js';
import { deny } from '../errors.js';
import type { ExtensionRuntime } from '../extensions/contract.js';
import { limitPolicy, type RateLimiter, type Decision, type LimitPolicy } from '../ratelimit/index.js';
import type { CompiledRoute } from '../request/route.js';
import { createEntitlementCheck, type RoutePolicy } from './ws-entitlements.js';
import type { WsGate, WsSession } from './websocket.js';
import { errorFrame } from './ws-frames.js';

export interface GateDeps {
  readonly limiter: RateLimiter;
  /** The gating extension runtimes of each route (by route index), when any. */
  readonly extensionsOf: (route: CompiledRoute) => readonly ExtensionRuntime[];
  /** The route policy (authorize stage) re-applied when a heartbeat changed a session's context. */
  readonly authorize?: RoutePolicy;
}

/** `eventKey`: the sidecar-chosen id usage event ids derive from (never the client's x-request-id). */
export type GateFactory = (session: WsSession, route: CompiledRoute, ctx: AuthContext | null, requestId: string, eventKey: string) => WsGate | undefined;

export function createGateFactory(deps: GateDeps): GateFactory {
  const policies = new Map<CompiledRoute, { conn?: LimitPolicy; user?: LimitPolicy }>();
  const policiesOf = (route: CompiledRoute) => {
    let p = policies.get(route);
    if (!p) {
      const ws = route.cfg.websocket!;
      const mk = (name: string, limit: number | undefined) =>
        limit ? limitPolicy({ name: `ws.${name}`, tier: 'ws', routeClass: `ws:${route.label}:${name}`, limit, scope: 'local' }) : undefined;
      const conn = mk('connection', ws.messages_per_minute);
      const user = mk('user', ws.user_messages_per_minute);
      p = { ...(conn ? { conn } : {}), ...(user ? { user } : {}) };
      policies.set(route, p);
    }
    return p;
  };

  return function gateFor(session, route, ctx, requestId, eventKey) {
    const { conn, user } = policiesOf(route);
    const gate: { -readonly [K in keyof WsGate]: WsGate[K] } = {};
    if (conn || user) {
      const subject = ctx ? `u:${ctx.user_id}` : `a:${requestId}`;
      gate.limit = () => {
        const d = (conn && (deps.limiter.check(`c:${requestId}`, conn) as Decision)) || undefined;
        const refused = d && !d.allowed ? d : user ? (deps.limiter.check(subject, user) as Decision) : undefined;
        if (!refused || refused.allowed) return null;
        return errorFrame(deny('ARGUS_RATE_LIMITED', `too many messages; retry in ${Math.ceil(refused.retryAfterS)} s`), requestId);
      };
    }
    if (ctx && deps.authorize) gate.check = createEntitlementCheck({ session, route, authorize: deps.authorize, requestId });
    for (const ext of deps.extensionsOf(route)) {
      const messages = ext.gate?.(session, route, ctx, requestId, eventKey);
      if (messages) {
        gate.messages = messages;
        break;
      }
    }
    return gate.limit || gate.check || gate.messages ? gate : undefined;
  };
}
