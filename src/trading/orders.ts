/**
 * Order recognition: one client message (a WebSocket text or binary frame) →
 * an order to check, another message to pass on, or an invalid message that
 * must not reach the upstream.
 *
 * Fail closed: a message the sidecar cannot judge (too large, not UTF-8, not a
 * JSON object, duplicate keys, an order with a missing or malformed field) is
 * `invalid`, never `other`. Only a well-formed JSON object whose type is not an
 * order type passes uninspected. Never throws.
 */
import type { TradingConfig } from './schema.js';
import { getPath, parseStrictJson, type Json, type JsonObject } from './json.js';

/** An order as the sidecar understood it. Strings are as sent (bounded); numbers finite. */
export interface Order {
  readonly exchange: string;
  readonly orderType: string;
  /** '' when the message has none. */
  readonly symbol: string;
  /** '' when the message has none. */
  readonly side: string;
  /** > 0. */
  readonly quantity: number;
  readonly price?: number;
  /** Value in USD: max(value_usd field, quantity × price); undefined when neither is known. */
  readonly valueUsd?: number;
  /** False only when the message says paper (or has no mode field and the default is paper). */
  readonly live: boolean;
  readonly clientOrderId?: string;
}

export type ParsedMessage = { kind: 'order'; order: Order } | { kind: 'other' } | { kind: 'invalid'; reason: string; clientOrderId?: string };

/** Largest amount (quantity, price or value) accepted: larger numbers lose cents in a double. */
export const MAX_AMOUNT = 1e15;
const MAX_TEXT = 128;
const DECIMAL = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode a frame as strict UTF-8 (a BOM is kept: it makes the text invalid JSON). Null when invalid. */
export function decodeUtf8(data: string | Uint8Array): string | null {
  if (typeof data === 'string') return data;
  try {
    return utf8.decode(data);
  } catch {
    return null;
  }
}

/**
 * Parse a client message into a JSON object, or a reason it cannot be judged.
 * `null` reason-less result means "not JSON and the config forwards non-JSON".
 */
export function parseMessageObject(data: string | Uint8Array, cfg: TradingConfig): { obj: JsonObject } | { reason: string } | null {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > cfg.max_message_bytes) return { reason: `message larger than ${cfg.max_message_bytes} bytes` };
  const text = decodeUtf8(data);
  if (text === null) return cfg.non_json === 'forward' ? null : { reason: 'message is not valid UTF-8' };
  const parsed = parseStrictJson(text);
  if (!parsed.ok) return cfg.non_json === 'forward' ? null : { reason: `message is not valid JSON: ${parsed.reason}` };
  if (!(parsed.value instanceof Map)) return cfg.non_json === 'forward' ? null : { reason: 'message is not a JSON object' };
  return { obj: parsed.value };
}

/** Does the value at `match.path` equal one of `match.values` (trimmed, case-insensitive)? */
export function matches(obj: JsonObject, match: { path: string; values: readonly string[] }): boolean {
  const v = getPath(obj, match.path);
  if (typeof v !== 'string') return false;
  const folded = v.trim().toLowerCase();
  return match.values.some((x) => x.trim().toLowerCase() === folded);
}

/**
 * Classify a client message.
 *
 * Non-JSON text passes as `other` only with `non_json: forward`, which also lets a
 * lenient upstream parser (comments, trailing commas) see orders the sidecar did not:
 * keep the default `reject` for any upstream that accepts orders.
 */
export function parseOrder(data: string | Uint8Array, cfg: TradingConfig): ParsedMessage {
  const msg = parseMessageObject(data, cfg);
  if (msg === null) return { kind: 'other' };
  if ('reason' in msg) return { kind: 'invalid', reason: msg.reason };
  const obj = msg.obj;
  const o = cfg.order;
  if (!matches(obj, o.match)) return { kind: 'other' };

  const rawId = getPath(obj, o.client_order_id);
  const clientOrderId = typeof rawId === 'string' ? rawId.slice(0, MAX_TEXT) : typeof rawId === 'number' && Number.isFinite(rawId) ? String(rawId) : undefined;
  const bad = (reason: string): ParsedMessage => (clientOrderId === undefined ? { kind: 'invalid', reason } : { kind: 'invalid', reason, clientOrderId });

  const exchange = text(obj, o.exchange, true);
  if (exchange === null) return bad(`order field "${o.exchange}" must be a non-empty string`);
  const orderType = text(obj, o.order_type, true);
  if (orderType === null) return bad(`order field "${o.order_type}" must be a non-empty string`);
  const symbol = text(obj, o.symbol, false);
  if (symbol === null) return bad(`order field "${o.symbol}" must be a string`);
  const side = text(obj, o.side, false);
  if (side === null) return bad(`order field "${o.side}" must be a string`);

  const quantity = amount(obj, o.quantity);
  if (quantity === null || quantity === undefined || quantity <= 0) return bad(`order field "${o.quantity}" must be a positive number up to ${MAX_AMOUNT}`);
  const price = amount(obj, o.price);
  if (price === null) return bad(`order field "${o.price}" must be a non-negative number up to ${MAX_AMOUNT}`);
  const stated = o.value_usd === undefined ? undefined : amount(obj, o.value_usd);
  if (stated === null) return bad(`order field "${o.value_usd}" must be a non-negative number up to ${MAX_AMOUNT}`);
  // The larger of the stated value and quantity × price: a client cannot understate its order.
  const computed = price === undefined ? undefined : quantity * price;
  const valueUsd = computed === undefined ? stated : stated === undefined ? computed : Math.max(stated, computed);
  if (valueUsd !== undefined && !(valueUsd <= MAX_AMOUNT)) return bad(`order value above ${MAX_AMOUNT} USD`);

  const live = isLive(obj, cfg);
  const order: Order = {
    exchange,
    orderType,
    symbol,
    side,
    quantity,
    live,
    ...(price !== undefined && { price }),
    ...(valueUsd !== undefined && { valueUsd }),
    ...(clientOrderId !== undefined && { clientOrderId }),
  };
  return { kind: 'order', order };
}

/** A string field: the string (bounded), '' when absent and optional, null when malformed. */
function text(obj: JsonObject, path: string, required: boolean): string | null {
  const v = getPath(obj, path);
  if (v === undefined || v === null) return required ? null : '';
  if (typeof v !== 'string' || v.length > MAX_TEXT) return null;
  if (required && v.trim() === '') return null;
  return v;
}

/** A non-negative amount as a JSON number or decimal string: undefined when absent, null when malformed. */
function amount(obj: JsonObject, path: string): number | undefined | null {
  const v: Json | undefined = getPath(obj, path);
  if (v === undefined || v === null) return undefined;
  let x: number;
  if (typeof v === 'number') x = v;
  else if (typeof v === 'string' && v.length <= 64 && DECIMAL.test(v.trim())) x = Number(v.trim());
  else return null;
  return Number.isFinite(x) && x >= 0 && x <= MAX_AMOUNT ? x : null;
}

/** Paper only when the mode field holds a paper value; anything else (unknown values included) is live. */
function isLive(obj: JsonObject, cfg: TradingConfig): boolean {
  const m = cfg.order.mode;
  const v = getPath(obj, m.path);
  if (v === undefined || v === null) return m.default === 'live';
  for (const p of m.paper) {
    if (typeof p === 'boolean' ? v === p : typeof v === 'string' && v.trim().toLowerCase() === p.trim().toLowerCase()) return false;
  }
  return true;
}
