/**
 * The trading product (Jane) as a route extension (src/extensions/contract.ts):
 * a route with `trading: true` requires a trading entitlement, fails closed
 * without Redis (the day's traded value and losses live there), and its
 * WebSocket sessions get the trading message gate (orders recognised, checked
 * against entitlements and the day's limits, metered as `trading` events).
 */
import { z } from 'zod';
import { deny } from '../errors.js';
import type { ExtensionDeps, ExtensionRuntime, RouteExtension } from '../extensions/contract.js';
import { createTradingLedger } from './daily.js';
import { tradingEntitlementSchema } from './entitlement-schema.js';
import { TRADING_ERRORS } from './errors.js';
import { tradingSchema, type TradingConfig } from './schema.js';
import { createTradingSession } from './session.js';
import { tradingReportedUsage, tradingLedgerEvent } from './usage-event.js';

declare module '../extensions/slots.js' {
  interface ExtensionConfigs {
    trading: TradingConfig;
  }
  interface ExtensionRouteConfigs {
    /** Trading route (usually a WebSocket): entitlement required, fail closed, orders checked. */
    trading: boolean;
  }
}

export const trading: RouteExtension = {
  name: 'trading',
  configSchema: tradingSchema.default({}),
  routeSchema: z.boolean().default(false),
  entitlementSchema: tradingEntitlementSchema,
  entitlementHelp: 'trading entitlements, e.g. \'{"exchanges":["binance"],"paper_only":true}\'',
  reportedUsage: tradingReportedUsage,
  errors: TRADING_ERRORS,
  usedBy: (route) => route.trading === true,
  failsClosed: true,
  sessionsFailClosed: true,
  authorize(ctx) {
    if (ctx.trading === undefined || ctx.trading.exchanges.length === 0) return deny('ARGUS_TRADING_NOT_ALLOWED', 'no trading entitlement for this account');
    return null;
  },
  start: startTrading,
};

const UNAVAILABLE = deny('ARGUS_DEPENDENCY_UNAVAILABLE', 'trading is unavailable: a dependency is down');

function startTrading(deps: ExtensionDeps): ExtensionRuntime {
  const cfg = deps.config as TradingConfig;
  const redis = deps.redis;
  const ledger = redis ? createTradingLedger({ redis, prefix: deps.keyPrefix, timeoutMs: cfg.redis_timeout_ms }) : undefined;
  const usage = deps.usage;
  return {
    // Fails closed: it needs Redis (the day's limits), so standalone sidecars refuse it too.
    ready: () => redis !== undefined && redis.status === 'ready',
    unavailable: UNAVAILABLE,
    gate(session, route, ctx, requestId, eventKey) {
      if (!ctx || !ledger) return undefined;
      return createTradingSession({
        config: cfg,
        ledger,
        ctx,
        requestId: eventKey,
        service: deps.service,
        route: route.label,
        forward: (data, isBinary) => session.toUpstream(data, isBinary),
        reply: (frame) => session.toClient(frame),
        emit: (ev) => usage?.record(tradingLedgerEvent(ev, ctx, requestId)),
        log: deps.log,
      });
    },
    close: () => ledger?.close(),
  };
}
