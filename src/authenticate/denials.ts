/**
 * The authentication denials, built once: every 401 carries the contract's
 * `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3), 503s carry
 * `Retry-After`. Messages never echo the credential.
 */
import { deny, type Denial, type ErrorCode } from '../errors.js';

const WWW_AUTHENTICATE = Object.freeze([Object.freeze(['www-authenticate', 'Bearer error="invalid_token"'] as const)]);
const RETRY_1S = Object.freeze([Object.freeze(['retry-after', '1'] as const)]);

/** A 401 denial with the WWW-Authenticate header. */
export function unauthorized(code: ErrorCode, message: string): Denial {
  return Object.freeze(deny(code, message, WWW_AUTHENTICATE));
}

export const DENIED = Object.freeze({
  missing: unauthorized('ARGUS_UNAUTHENTICATED', 'authentication required'),
  twoAuthorization: unauthorized('ARGUS_AMBIGUOUS_CREDENTIALS', 'more than one Authorization header'),
  twoSameHeader: unauthorized('ARGUS_AMBIGUOUS_CREDENTIALS', 'a credential header is repeated'),
  twoCredentials: unauthorized('ARGUS_AMBIGUOUS_CREDENTIALS', 'more than one credential in the request'),
  inQuery: unauthorized('ARGUS_CREDENTIAL_IN_QUERY', 'credentials are not accepted in the query string'),
  scheme: unauthorized('ARGUS_UNSUPPORTED_AUTH_SCHEME', 'only the Bearer authorization scheme is accepted'),
  tooLarge: unauthorized('ARGUS_CREDENTIAL_TOO_LARGE', 'credential too large'),
  malformedToken: unauthorized('ARGUS_INVALID_TOKEN', 'malformed token'),
  invalidToken: unauthorized('ARGUS_INVALID_TOKEN', 'invalid token'),
  expiredToken: unauthorized('ARGUS_TOKEN_EXPIRED', 'token expired'),
  ambiguousKey: unauthorized('ARGUS_AMBIGUOUS_SIGNING_KEY', "the key set lists the token's kid more than once"),
  badTimeClaim: unauthorized('ARGUS_INVALID_TOKEN_TIME', 'exp, nbf and iat must be whole seconds within range'),
  missingIat: unauthorized('ARGUS_INVALID_TOKEN_TIME', 'the token has no iat'),
  lifetimeTooLong: unauthorized('ARGUS_TOKEN_LIFETIME_TOO_LONG', 'the token is valid for longer than allowed'),
  tooOld: unauthorized('ARGUS_TOKEN_TOO_OLD', 'the token was issued too long ago'),
  invalidKey: unauthorized('ARGUS_INVALID_API_KEY', 'invalid API key'),
  invalidSession: unauthorized('ARGUS_INVALID_SESSION', 'invalid session'),
  expiredSession: unauthorized('ARGUS_SESSION_EXPIRED', 'session expired'),
  revoked: unauthorized('ARGUS_REVOKED', 'credential revoked'),
  unavailable: Object.freeze(deny('ARGUS_AUTH_UNAVAILABLE', 'authentication is temporarily unavailable', RETRY_1S)),
  /** Redis lost the projection (projection.ts) and the worker is restoring it: never a 401 meanwhile. */
  projecting: Object.freeze(
    deny('ARGUS_DEPENDENCY_UNAVAILABLE', 'identity data is being restored; retry shortly', Object.freeze([Object.freeze(['retry-after', '2'] as const)])),
  ),
  overloaded: Object.freeze(deny('ARGUS_AUTH_OVERLOADED', 'too many credentials being verified', RETRY_1S)),
});

/** 429 for a client address that sent too many bad credentials. */
export function throttled(retryAfterS: number): Denial {
  return deny('ARGUS_AUTH_THROTTLED', 'too many failed authentications from this address', [['retry-after', String(Math.max(1, Math.ceil(retryAfterS)))]]);
}
