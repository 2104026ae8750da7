/**
 * What each WebSocket session's client messages pass before the upstream:
 * per-connection and per-user message limits (the rate limiter's buckets, in
 * this sidecar), and on trading routes the trading gate (orders recognised,
 * checked against entitlements and the day's limits in Redis, metered).
 * Every authenticated session's messages are also held to the caller's current
 * entitlements (ws-entitlements.ts), which a heartbeat may narrow.
 * A refused message gets an error frame; the session stays open.
 */
import type { AuthContext } from '../authenticate/context.js';
import type { Config } from '../config.js';
import { deny } from '../errors.js';
import type { Logger } from '../observe/log.js';
import { limitPolicy, type RateLimiter, type Decision, type LimitPolicy } from '../ratelimit/index.js';
import type { CompiledRoute } from '../routes.js';
import type { TradingLedger } from '../trading/daily.js';
import { errorFrame } from '../trading/entitlements.js';
import type { TradingUsageEvent } from '../trading/events.js';
import { createTradingSession } from '../trading/session.js';
import { createMessageModelCheck } from '../llm/ws-models.js';
import { createEntitlementCheck } from './ws-entitlements.js';
import type { WsGate, WsSession } from './websocket.js';

export interface GateDeps {
  readonly cfg: Readonly<Config>;
  readonly limiter: RateLimiter;
  /** Absent (no Redis): trading routes refuse upgrades before a session exists. */
  readonly ledger?: TradingLedger;
  readonly emitTrading?: (event: TradingUsageEvent, ctx: AuthContext | null, requestId: string) => void;
  readonly log: Logger;
}

/** `eventKey`: the sidecar-chosen id usage event ids derive from (never the client's x-request-id). */
export type GateFactory = (session: WsSession, route: CompiledRoute, ctx: AuthContext | null, requestId: string, eventKey: string) => WsGate | undefined;

export function createGateFactory(deps: GateDeps): GateFactory {
  const policies = new Map<CompiledRoute, { conn?: LimitPolicy; user?: LimitPolicy }>();
  const model = deps.cfg.routes.some((r) => r.llm && r.websocket) ? createMessageModelCheck(deps.cfg.llm.model_tiers) : undefined;
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
    if (ctx) {
      gate.check = createEntitlementCheck({ session, route, tiers: deps.cfg.tiers, requestId, ...(route.cfg.llm && model ? { model } : {}) });
    }
    if (route.cfg.trading && ctx && deps.ledger) {
      gate.trading = createTradingSession({
        config: deps.cfg.trading,
        ledger: deps.ledger,
        ctx,
        requestId: eventKey,
        service: deps.cfg.metering.service,
        route: route.label,
        forward: (data, isBinary) => session.toUpstream(data, isBinary),
        reply: (frame) => session.toClient(frame),
        emit: (ev) => deps.emitTrading?.(ev, ctx, requestId),
        log: deps.log,
      });
    }
    return gate.limit || gate.check || gate.trading ? gate : undefined;
  };
}
