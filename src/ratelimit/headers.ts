/**
 * Response headers of draft-ietf-httpapi-ratelimit-headers (-08 and later):
 *
 *   RateLimit-Policy: "professional";q=1000;w=60
 *   RateLimit: "professional";r=97;t=1
 *   Retry-After: 3                      (only when limited, RFC 9110 §10.2.3)
 *
 * `q`/`w` are the policy's requests per window; `r` is how many requests would
 * pass right now (a token bucket holds at most burst + 1), `t` the seconds until
 * the bucket is full again. Sent on 2xx too so clients can pace themselves.
 */
import { deny, type Denial } from '../errors.js';
import type { LimitOutcome } from '../request/outcome.js';
import type { Decision } from './limiter.js';
import type { LimitPolicy } from './policy.js';

/** Flat `[name, value, name, value, …]` list for the response. */
export function rateLimitHeaders(policy: LimitPolicy, d: Decision): string[] {
  const c = constantsOf(policy);
  const out = [
    'RateLimit-Policy',
    Math.floor(d.limit) === c.limit ? c.policyValue : `${c.id};q=${Math.floor(d.limit)};w=${Math.ceil(policy.windowS)}`,
    'RateLimit',
    stateValue(c, d),
  ];
  if (!d.allowed) out.push('Retry-After', String(Math.max(1, Math.ceil(d.retryAfterS))));
  return out;
}

const POLICY_NAME = Buffer.from('RateLimit-Policy');
const STATE_NAME = Buffer.from('RateLimit');

/**
 * The headers of an admitted request, as the response writes them: the same as
 * {@link rateLimitHeaders}, with the parts that never change for a policy as
 * bytes (uWS copies bytes as they are; a string costs a UTF-8 conversion and a
 * malloc per header, on every response).
 */
export function admittedHeaders(policy: LimitPolicy, d: Decision): Array<string | Uint8Array> {
  const c = constantsOf(policy);
  // A degraded decision (the local share) names its own limit: the general form.
  if (Math.floor(d.limit) !== c.limit) return rateLimitHeaders(policy, d);
  return [POLICY_NAME, c.policyBytes, STATE_NAME, stateValue(c, d)];
}

/**
 * The outcome of an admitted request: {@link admittedHeaders} in a frozen
 * outcome, the same object for every request the policy admits with the same
 * `r` and `t` (no header list, value string or outcome made per request, and
 * the value as bytes). At most {@link MAX_ADMITTED} of them per policy; past
 * that, or for a degraded decision, a fresh one.
 */
export function admittedOutcome(policy: LimitPolicy, d: Decision): LimitOutcome {
  const c = constantsOf(policy);
  const r = Math.max(0, Math.floor(d.remaining));
  const t = Math.max(0, Math.ceil(d.resetS));
  if (Math.floor(d.limit) !== c.limit) return { ok: true, headers: admittedHeaders(policy, d) };
  if (t >= MAX_T) return fresh(c, r, t);
  // Indexed [t][r] (arrays: no hashing per request); a larger r (a big burst) by r × MAX_T + t in a Map.
  if (r < MAX_R) {
    const row = (c.admitted[t] ??= []);
    let o = row[r];
    if (o === undefined) {
      o = fresh(c, r, t);
      if (c.cached < MAX_ADMITTED) {
        row[r] = o;
        c.cached++;
      }
    }
    return o;
  }
  const key = r * MAX_T + t;
  let o = c.large.get(key);
  if (o === undefined) {
    o = fresh(c, r, t);
    if (c.cached < MAX_ADMITTED) {
      c.large.set(key, o);
      c.cached++;
    }
  }
  return o;
}

function fresh(c: PolicyConstants, r: number, t: number): LimitOutcome {
  return Object.freeze({ ok: true as const, headers: Object.freeze([POLICY_NAME, c.policyBytes, STATE_NAME, Buffer.from(`${c.id};r=${r};t=${t}`)]) });
}

/** Cached admitted outcomes per policy: a caller far below its limit uses one or two, one near it up to burst + 1 times the window's seconds. */
const MAX_ADMITTED = 256;
/** Outcomes with `t` this large or larger are built each time. */
const MAX_T = 64;
/** `r` below this: in the arrays. */
const MAX_R = 1024;

/** The RateLimit value: what would pass now and when the bucket is full again. */
function stateValue(c: PolicyConstants, d: Decision): string {
  return `${c.id};r=${Math.max(0, Math.floor(d.remaining))};t=${Math.max(0, Math.ceil(d.resetS))}`;
}

interface PolicyConstants {
  readonly id: string;
  readonly limit: number;
  readonly policyValue: string;
  readonly policyBytes: Uint8Array;
  /** Admitted outcomes by `t`, then `r` (see {@link admittedOutcome}). */
  readonly admitted: Array<Array<LimitOutcome | undefined> | undefined>;
  /** Admitted outcomes with r ≥ MAX_R, by r × MAX_T + t. */
  readonly large: Map<number, LimitOutcome>;
  /** How many {@link admitted} and {@link large} hold. */
  cached: number;
}

/** What a policy's headers always say, built once per policy object (tier policies are reused). */
const CONSTANTS = new WeakMap<LimitPolicy, PolicyConstants>();
function constantsOf(policy: LimitPolicy): PolicyConstants {
  let c = CONSTANTS.get(policy);
  if (c === undefined) {
    const id = sfString(policy.name);
    const limit = Math.floor(policy.limit);
    const policyValue = `${id};q=${limit};w=${Math.ceil(policy.windowS)}`;
    c = { id, limit, policyValue, policyBytes: Buffer.from(policyValue), admitted: [], large: new Map(), cached: 0 };
    CONSTANTS.set(policy, c);
  }
  return c;
}

/** The 429 denial for a refused check: code ARGUS_RATE_LIMITED with the headers above as pairs. */
export function limitedDenial(policy: LimitPolicy, d: Decision): Denial {
  const flat = rateLimitHeaders(policy, d);
  const headers: Array<readonly [string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) headers.push([flat[i]!, flat[i + 1]!]);
  return deny(
    'ARGUS_RATE_LIMITED',
    `rate limit exceeded: ${d.limit} requests per ${policy.windowS} s, retry in ${Math.max(1, Math.ceil(d.retryAfterS))} s`,
    headers,
  );
}

/** RFC 8941 sf-string: printable ASCII, `"` and `\` escaped; anything else dropped. */
function sfString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) continue;
    if (c === 0x22 || c === 0x5c) out += '\\';
    out += s[i];
  }
  return out + '"';
}
