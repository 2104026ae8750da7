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
}

export type VerifyVerdict =
  | { readonly ok: true; readonly payload: JWTPayload }
  | { readonly ok: false; readonly expired: boolean; readonly reason: string };

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
    if (err instanceof errors.JWTExpired) return { ok: false, expired: true, reason: 'exp' };
    return { ok: false, expired: false, reason: (err as { code?: string }).code ?? 'invalid' };
  }
  const nowS = nowMs / 1000;
  // jose checks iat only with maxTokenAge; a token issued in the future is forged or from a broken clock.
  if (payload.iat !== undefined && payload.iat > nowS + opts.leewayS) return { ok: false, expired: false, reason: 'iat' };
  if (opts.tokenUse !== undefined && payload['token_use'] !== opts.tokenUse) return { ok: false, expired: false, reason: 'token_use' };
  if (opts.clientIds !== undefined) {
    const cid = payload['client_id'];
    if (typeof cid !== 'string' || !opts.clientIds.includes(cid)) return { ok: false, expired: false, reason: 'client_id' };
  }
  return { ok: true, payload };
}
