/**
 * Did a change to a caller's trading entitlements take away something an open
 * session was admitted with? An exchange or order type removed, `paper_only`
 * turned on, a limit lowered or removed (the config default may be lower), or the
 * entitlement gone: the session is closed (4409) so the client reconnects under
 * the new limits. A widening never closes a session; it applies on reconnect.
 */
import type { TradingEntitlements } from './entitlement-schema.js';

type Limit = 'max_position_size_usd' | 'daily_loss_limit_usd' | 'max_daily_value_usd' | 'realtime_symbols_limit';
const LIMITS: readonly Limit[] = ['max_position_size_usd', 'daily_loss_limit_usd', 'max_daily_value_usd', 'realtime_symbols_limit'];

/** What was narrowed (for the close reason), or null when nothing was. */
export function tradingNarrowed(before: TradingEntitlements | undefined, after: TradingEntitlements | undefined): string | null {
  if (before === undefined) return null;
  if (after === undefined) return 'trading entitlements removed';
  const exchange = before.exchanges.find((x) => !after.exchanges.includes(x));
  if (exchange !== undefined) return `exchange ${exchange.slice(0, 40)} removed`;
  const orderType = before.order_types.find((x) => !after.order_types.includes(x));
  if (orderType !== undefined) return `order type ${orderType.slice(0, 40)} removed`;
  if (after.paper_only && !before.paper_only) return 'paper only';
  for (const limit of LIMITS) {
    const was = before[limit];
    const is = after[limit];
    if (was === is) continue;
    if (is === undefined || (was !== undefined && is < was)) return `${limit} lowered`;
  }
  return null;
}
