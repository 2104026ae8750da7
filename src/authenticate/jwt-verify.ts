/**
 * Signature and claim checks for one JWT with an already-resolved key. Pure and
 * self-contained (jose only) so the same code runs inline and on the piscina pool
 * (verify-task.ts). Never throws for a bad token: returns a verdict.
 */
import { errors, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';

/** Structured-cloneable verification options (they cross the worker boundary). */
export interface ClaimOptions {
  readonly issuer?: string;
  readonly audience?: string | string[];
  readonly leewayS: number;
  readonly tokenUse?: 'access' | 'id';
  readonly clientIds?: string[];
  /** exp − iat may not exceed this (iat required). */
  readonly maxLifetimeS?: number;
  /** now − iat may not exceed this plus leeway (iat required). */
  readonly maxTokenAgeS?: number;
}

/**
 * Why a token was refused: `exp`, `time_claim` (exp/nbf/iat not a NumericDate in range),
 * `iat_missing`, `lifetime`, `token_age`, `iat` (in the future), `token_use`, `client_id`,
 * or jose's error code. jwt.ts maps the ones with their own denial.
 */
export type RefusalReason = string;

/**
 * NumericDate claims (RFC 7519 §2) the sidecar accepts: whole seconds from 0 to
 * 2^32 − 1 (year 2106). jose accepts any JSON number, so a float or an `exp` of
 * 1e308 (a token valid forever) would pass it.
 */
const MAX_NUMERIC_DATE = 2 ** 32 - 1;
const TIME_CLAIMS = ['exp', 'nbf', 'iat'] as const;

function badTimeClaims(p: Record<string, unknown>): boolean {
  for (const name of TIME_CLAIMS) {
    const v = p[name];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_NUMERIC_DATE)) return true;
  }
  return false;
}

export type VerifyVerdict =
  | { readonly ok: true; readonly payload: JWTPayload }
  | { readonly ok: false; readonly expired: boolean; readonly reason: RefusalReason };

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

/** Import a public JWK for one algorithm; throws on a key that does not fit the algorithm. */
export async function importPublicJwk(jwk: JWK, alg: string): Promise<VerifyKey> {
  // Only public members: a JWKS that (wrongly) publishes a private key must not yield a signing key.
  const { kty, n, e, crv, x, y } = jwk;
  const pub: JWK = { kty, ...(n !== undefined && { n, e }), ...(crv !== undefined && { crv }), ...(x !== undefined && { x }), ...(y !== undefined && { y }) };
  return importJWK(pub, alg);
}

export async function verifyWithKey(token: string, key: VerifyKey, alg: string, opts: ClaimOptions, nowMs: number): Promise<VerifyVerdict> {
  let payload: JWTPayload;
  try {
    const res = await jwtVerify(token, key, {
      algorithms: [alg],
      ...(opts.issuer !== undefined && { issuer: opts.issuer }),
      ...(opts.audience !== undefined && { audience: opts.audience }),
      clockTolerance: opts.leewayS,
      currentDate: new Date(nowMs),
      requiredClaims: ['exp'],
    });
    payload = res.payload;
  } catch (err) {
    // jose checks the signature first, then claim types: a string exp/nbf/iat is a time-claim refusal.
    if (err instanceof errors.JWTClaimValidationFailed && (TIME_CLAIMS as readonly string[]).includes(err.claim) && err.reason === 'invalid')
      return { ok: false, expired: false, reason: 'time_claim' };
    if (err instanceof errors.JWTExpired) return { ok: false, expired: true, reason: 'exp' };
    return { ok: false, expired: false, reason: (err as { code?: string }).code ?? 'invalid' };
  }
  if (badTimeClaims(payload)) return { ok: false, expired: false, reason: 'time_claim' };
  const nowS = nowMs / 1000;
  const { exp, iat } = payload as { exp: number; iat?: number };
  if ((opts.maxLifetimeS !== undefined || opts.maxTokenAgeS !== undefined) && iat === undefined) return { ok: false, expired: false, reason: 'iat_missing' };
  if (opts.maxLifetimeS !== undefined && exp - iat! > opts.maxLifetimeS) return { ok: false, expired: false, reason: 'lifetime' };
  if (opts.maxTokenAgeS !== undefined && nowS - iat! > opts.maxTokenAgeS + opts.leewayS) return { ok: false, expired: false, reason: 'token_age' };
  // jose checks iat only with maxTokenAge; a token issued in the future is forged or from a broken clock.
  if (payload.iat !== undefined && payload.iat > nowS + opts.leewayS) return { ok: false, expired: false, reason: 'iat' };
  if (opts.tokenUse !== undefined && payload['token_use'] !== opts.tokenUse) return { ok: false, expired: false, reason: 'token_use' };
  if (opts.clientIds !== undefined) {
    const cid = payload['client_id'];
    if (typeof cid !== 'string' || !opts.clientIds.includes(cid)) return { ok: false, expired: false, reason: 'client_id' };
  }
  return { ok: true, payload };
}
