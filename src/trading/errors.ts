/**
 * The trading extension's error codes, registered into the one table
 * (src/errors.ts). Message refusals are sent as WebSocket error frames; the
 * status classifies them.
 */
import { registerErrorCodes } from '../errors.js';

export const TRADING_ERRORS = registerErrorCodes({
  ARGUS_TRADING_NOT_ALLOWED: 403,
  ARGUS_TRADING_EXCHANGE_NOT_ALLOWED: 403,
  ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED: 403,
  ARGUS_TRADING_PAPER_ONLY: 403,
  ARGUS_TRADING_POSITION_LIMIT: 403,
  ARGUS_TRADING_DAILY_VALUE_LIMIT: 403,
  ARGUS_TRADING_DAILY_LOSS_LIMIT: 403,
  ARGUS_TRADING_ORDER_INVALID: 400,
} as const);

declare module '../errors.js' {
  interface ExtensionErrorCodes {
    ARGUS_TRADING_NOT_ALLOWED: 403;
    ARGUS_TRADING_EXCHANGE_NOT_ALLOWED: 403;
    ARGUS_TRADING_ORDER_TYPE_NOT_ALLOWED: 403;
    ARGUS_TRADING_PAPER_ONLY: 403;
    ARGUS_TRADING_POSITION_LIMIT: 403;
    ARGUS_TRADING_DAILY_VALUE_LIMIT: 403;
    ARGUS_TRADING_DAILY_LOSS_LIMIT: 403;
    ARGUS_TRADING_ORDER_INVALID: 400;
  }
}
