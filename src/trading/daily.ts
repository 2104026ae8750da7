/**
 * Daily trading ledger in Redis: traded value and realized loss per user and UTC day.
 *
 * Keys: `<prefix>trading:<user>:<yyyymmdd>:value` (USD ordered today),
 * `…:loss` (USD lost today; negative = net gain) and, when reports carry ids,
 * `…:reports` (ids already counted). All expire two days after their last write.
 * On a Redis Cluster the user and day are a hash tag, `<prefix>trading:{<user>:<yyyymmdd>}:value`,
 * so each script's keys share a slot.
 *
 * One Lua script per order checks the loss limit, checks the value limit and
 * adds the order's value, atomically: concurrent orders on any number of
 * sidecars can never together exceed the limit. Fail closed: Redis unreachable,
 * slow or erroring → a 503-class ARGUS_DEPENDENCY_UNAVAILABLE denial. Never rejects.
 */
import { createHash } from 'node:crypto';
import { deny, type Denial } from '../errors.js';
import './errors.js';
import { closeRedis, createRedis, type Redis } from '../clients/redis.js';

const TTL_S = 2 * 24 * 3600;

// KEYS: value, loss. ARGV: value (may be 0), max value (-1: none), loss limit (-1: none), ttl.
// Returns {0, new value} | {1, value so far} (value limit) | {2, loss so far} (loss limit).
const RESERVE = `
local v = tonumber(ARGV[1])
local maxv = tonumber(ARGV[2])
local maxl = tonumber(ARGV[3])
if maxl >= 0 then
  local loss = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  if loss > 0 and loss >= maxl then return {2, tostring(loss)} end
end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if maxv >= 0 and cur + v > maxv + 1e-9 then return {1, tostring(cur)} end
if v <= 0 then return {0, tostring(cur)} end
local nv = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {0, nv}
`;

// KEYS: loss, reports. ARGV: loss delta or total, mode (delta|daily_total), report id ('' = none), ttl.
// Returns 1 when applied, 0 when the report id was already counted.
const PNL = `
local ttl = tonumber(ARGV[4])
if ARGV[3] ~= '' then
  if redis.call('SADD', KEYS[2], ARGV[3]) == 0 then return 0 end
  redis.call('EXPIRE', KEYS[2], ttl)
end
if ARGV[2] == 'delta' then
  redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ttl)
return 1
`;

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const SCRIPTS = { reserve: { body: RESERVE, sha: sha1(RESERVE) }, pnl: { body: PNL, sha: sha1(PNL) } };

/** Per-user daily limits for one order; undefined: no limit. */
export interface DailyLimits {
  readonly maxDailyValueUsd?: number;
  readonly dailyLossLimitUsd?: number;
}

export type Reservation =
  | {
      readonly ok: true /** Value ordered today including this order. */;
      readonly dayValueUsd: number /** Give the value back (the order was not sent after all). Never rejects. */;
      release(): Promise<void>;
    }
  | { readonly ok: false; readonly denial: Denial };

export interface TradingLedger {
  /**
   * Check the day's loss and value limits and add `valueUsd` to the day's value.
   * `valueUsd` undefined (value unknown): refused when a value limit applies, else only the loss limit is checked.
   */
  reserveOrder(userId: string, valueUsd: number | undefined, limits: DailyLimits): Promise<Reservation>;
  /** Record realized P&L from a position report (negative = loss). False when Redis failed or the id was seen. Never rejects. */
  recordPnl(userId: string, realizedPnlUsd: number, reportId?: string): Promise<boolean>;
  /** The day's totals (tests, admin). Throws when Redis fails. */
  totals(userId: string): Promise<{ valueUsd: number; lossUsd: number }>;
  /** Idempotent; closes the Redis connection only when the ledger opened it (url given). */
  close(): Promise<void>;
}

export interface TradingLedgerOptions {
  /** A connection (shared, not closed by the ledger) or a URL (the ledger opens and closes its own). */
  redis: Redis | string;
  /** Key prefix (config redis.key_prefix), e.g. "argus:". */
  prefix: string;
  /** Clock in ms (the day boundary is UTC midnight). Default Date.now. */
  now?: () => number;
  /** Longest wait for Redis before refusing. Default 500 ms. */
  timeoutMs?: number;
  /** How reports' P&L combine: `delta` sums them, `daily_total` replaces. Default delta. */
  pnlMode?: 'delta' | 'daily_total';
}

/** UTC day of `ms` as yyyymmdd. */
export function utcDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

export function createTradingLedger(opts: TradingLedgerOptions): TradingLedger {
  const owned = typeof opts.redis === 'string';
  const redis: Redis = typeof opts.redis === 'string' ? createRedis(opts.redis) : opts.redis;
  const { prefix } = opts;
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 500;
  const pnlMode = opts.pnlMode ?? 'delta';
  if (!(timeoutMs > 0)) throw new Error('createTradingLedger: timeoutMs must be positive');
  let closing: Promise<void> | undefined;

  // A Redis Cluster runs a script only on keys of one slot: the user's day is the hash tag there.
  const keyOf = redis.isCluster
    ? (user: string, what: 'value' | 'loss' | 'reports') => `${prefix}trading:{${user}:${utcDay(now())}}:${what}`
    : (user: string, what: 'value' | 'loss' | 'reports') => `${prefix}trading:${user}:${utcDay(now())}:${what}`;
  const unavailable = () => deny('ARGUS_DEPENDENCY_UNAVAILABLE', 'trading limits cannot be checked right now; the order was not sent');

  async function reserveOrder(userId: string, valueUsd: number | undefined, limits: DailyLimits): Promise<Reservation> {
    const maxValue = limits.maxDailyValueUsd;
    if (valueUsd === undefined && maxValue !== undefined) {
      return { ok: false, denial: deny('ARGUS_TRADING_DAILY_VALUE_LIMIT', 'order value unknown (no price or value): cannot check the daily value limit') };
    }
    const value = valueUsd ?? 0;
    const valueKey = keyOf(userId, 'value');
    const lossKey = keyOf(userId, 'loss');
    const reply = await run('reserve', [valueKey, lossKey], [amount(value), limit(maxValue), limit(limits.dailyLossLimitUsd), String(TTL_S)]);
    if (!Array.isArray(reply)) return { ok: false, denial: unavailable() };
    const [status, figure] = reply as [number, string];
    if (status === 2)
      return {
        ok: false,
        denial: deny(
          'ARGUS_TRADING_DAILY_LOSS_LIMIT',
          `daily loss limit of ${usd(limits.dailyLossLimitUsd)} USD reached (lost ${usd(Number(figure))} USD today)`,
        ),
      };
    if (status === 1)
      return {
        ok: false,
        denial: deny(
          'ARGUS_TRADING_DAILY_VALUE_LIMIT',
          `order value ${usd(value)} USD would exceed the daily limit of ${usd(maxValue)} USD (${usd(Number(figure))} USD traded today)`,
        ),
      };
    let released = false;
    return {
      ok: true,
      dayValueUsd: Number(figure),
      async release() {
        if (released || value <= 0) return;
        released = true;
        await withTimeout(redis.incrbyfloat(valueKey, amount(-value))).catch(() => undefined);
      },
    };
  }

  async function recordPnl(userId: string, realizedPnlUsd: number, reportId?: string): Promise<boolean> {
    if (!Number.isFinite(realizedPnlUsd)) return false;
    // Stored as loss: a negative P&L adds to it.
    const reply = await run('pnl', [keyOf(userId, 'loss'), keyOf(userId, 'reports')], [amount(-realizedPnlUsd), pnlMode, reportId ?? '', String(TTL_S)]);
    return reply === 1;
  }

  async function totals(userId: string): Promise<{ valueUsd: number; lossUsd: number }> {
    const [v, l] = await redis.mget(keyOf(userId, 'value'), keyOf(userId, 'loss'));
    return { valueUsd: Number(v ?? 0), lossUsd: Number(l ?? 0) };
  }

  /** Run a script; undefined on any Redis failure or timeout (the callers fail closed). */
  async function run(name: keyof typeof SCRIPTS, keys: string[], argv: string[]): Promise<unknown> {
    if (redis.status !== 'ready') return undefined; // known down: refuse at once instead of waiting
    const s = SCRIPTS[name];
    try {
      return await withTimeout(
        (async () => {
          try {
            return await redis.evalsha(s.sha, keys.length, ...keys, ...argv);
          } catch (err) {
            // First use on this Redis (or after a restart/SCRIPT FLUSH): send the body once.
            if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
            return await redis.eval(s.body, keys.length, ...keys, ...argv);
          }
        })(),
      );
    } catch {
      return undefined;
    }
  }

  function withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref?.();
    });
    p.catch(() => undefined); // a late rejection after the timeout must not be unhandled
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  }

  function close(): Promise<void> {
    closing ??= owned ? closeRedis(redis) : Promise.resolve();
    return closing;
  }

  return { reserveOrder, recordPnl, totals, close };
}

/** Amounts travel as fixed-point strings: Redis INCRBYFLOAT and Lua tonumber read them exactly enough. */
function amount(x: number): string {
  return x.toFixed(6);
}

function limit(x: number | undefined): string {
  return x === undefined ? '-1' : amount(x);
}

function usd(x: number | undefined): string {
  return (x ?? 0).toFixed(2);
}
