/**
 * Stable error codes and the one table that maps them to HTTP statuses.
 *
 * Every denial the sidecar answers carries one of these codes in the contract's
 * body: `{"error":{"code":"…","message":"…","request_id":"…"}}`. Codes are part of
 * the user-facing contract: add new ones, never rename.
 */

export const ERROR_STATUS = {
  // request hygiene (foundation)
  ARGUS_BAD_REQUEST: 400,
  ARGUS_AMBIGUOUS_LENGTH: 400,
  ARGUS_BAD_CONTENT_LENGTH: 400,
  ARGUS_PAYLOAD_TOO_LARGE: 413,
  ARGUS_LENGTH_REQUIRED: 411,
  ARGUS_HEADERS_TOO_LARGE: 431,
  ARGUS_TOO_MANY_HEADERS: 431,
  ARGUS_NOT_FOUND: 404,
  ARGUS_METHOD_NOT_ALLOWED: 405,
  // WebSocket handshakes (src/forward/ws-handshake.ts)
  ARGUS_WS_BAD_HANDSHAKE: 400,
  ARGUS_WS_INVALID_KEY: 400,
  ARGUS_WS_UNSUPPORTED_VERSION: 426,
  ARGUS_WS_UPGRADE_REQUIRED: 426,
  ARGUS_WS_ORIGIN_FORBIDDEN: 403,
  // the request target and Host (src/server/path.ts, src/server/host.ts)
  ARGUS_PATH_INVALID: 400,
  ARGUS_PATH_INVALID_ENCODING: 400,
  ARGUS_PATH_ESCAPED_SLASH: 400,
  ARGUS_PATH_BACKSLASH: 400,
  ARGUS_PATH_CONTROL_CHAR: 400,
  ARGUS_PATH_ABOVE_ROOT: 400,
  ARGUS_PATH_PARAMETER: 400,
  ARGUS_BAD_HOST: 400,
  ARGUS_HOST_NOT_ALLOWED: 421,
  // authentication (401)
  ARGUS_UNAUTHENTICATED: 401,
  ARGUS_INVALID_TOKEN: 401,
  ARGUS_TOKEN_EXPIRED: 401,
  ARGUS_INVALID_API_KEY: 401,
  ARGUS_INVALID_SESSION: 401,
  ARGUS_SESSION_EXPIRED: 401,
  ARGUS_REVOKED: 401,
  ARGUS_AMBIGUOUS_CREDENTIALS: 401,
  ARGUS_CREDENTIAL_IN_QUERY: 401,
  ARGUS_UNSUPPORTED_AUTH_SCHEME: 401,
  ARGUS_CREDENTIAL_TOO_LARGE: 401,
  ARGUS_AMBIGUOUS_SIGNING_KEY: 401,
  ARGUS_INVALID_TOKEN_TIME: 401,
  ARGUS_TOKEN_LIFETIME_TOO_LONG: 401,
  ARGUS_TOKEN_TOO_OLD: 401,
  // authorization (403)
  ARGUS_FORBIDDEN: 403,
  ARGUS_TIER_REQUIRED: 403,
  ARGUS_FEATURE_REQUIRED: 403,
  ARGUS_SCOPE_REQUIRED: 403,
  ARGUS_ROLE_REQUIRED: 403,
  ARGUS_CORS_NOT_ALLOWED: 403,
  // limits
  ARGUS_RATE_LIMITED: 429,
  ARGUS_QUOTA_EXCEEDED: 429,
  ARGUS_AUTH_THROTTLED: 429,
  // upstream and dependencies
  ARGUS_UPSTREAM_UNAVAILABLE: 502,
  ARGUS_UPSTREAM_TIMEOUT: 504,
  ARGUS_AUTH_UNAVAILABLE: 503,
  ARGUS_AUTH_OVERLOADED: 503,
  ARGUS_DEPENDENCY_UNAVAILABLE: 503,
  ARGUS_DRAINING: 503,
  ARGUS_INTERNAL: 500,
  // control plane API (src/control/)
  ARGUS_INVALID_REQUEST: 400,
  ARGUS_CONFLICT: 409,
  ARGUS_IDEMPOTENCY_KEY_REUSED: 422,
  ARGUS_INVITATION_EXPIRED: 410,
  ARGUS_INVITATION_USED: 409,
  ARGUS_NOT_CONFIGURED: 501,
} as const;

/**
 * Codes a product extension contributes (declaration merging from its folder,
 * its `errors.ts`), registered at run time with {@link registerErrorCodes}.
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by each extension
export interface ExtensionErrorCodes {}

export type ErrorCode = keyof typeof ERROR_STATUS | keyof ExtensionErrorCodes;

/** The one table: the core's codes plus every registered extension's. */
const TABLE: Record<string, number> = { ...ERROR_STATUS };

/**
 * Add an extension's codes to the table (at module load of its `errors.ts`).
 * Registering a code again with the same status is a no-op; with another
 * status, or a core code, it throws (a bug: codes are a contract).
 */
export function registerErrorCodes<T extends Readonly<Record<string, number>>>(codes: T): T {
  for (const [code, status] of Object.entries(codes)) {
    const have = TABLE[code];
    if (have === status && !(code in ERROR_STATUS)) continue;
    if (have !== undefined) throw new Error(`error code ${code} is already registered (status ${have})`);
    TABLE[code] = status;
  }
  return codes;
}

/** Status line text for the statuses above (uWS wants "401 Unauthorized"). */
const STATUS_TEXT: Record<number, string> = {
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  410: '410 Gone',
  411: '411 Length Required',
  413: '413 Payload Too Large',
  422: '422 Unprocessable Content',
  421: '421 Misdirected Request',
  426: '426 Upgrade Required',
  429: '429 Too Many Requests',
  431: '431 Request Header Fields Too Large',
  500: '500 Internal Server Error',
  501: '501 Not Implemented',
  502: '502 Bad Gateway',
  503: '503 Service Unavailable',
  504: '504 Gateway Timeout',
};

export function statusOf(code: ErrorCode): number {
  const status = TABLE[code];
  if (status === undefined) throw new Error(`error code ${code} is not registered`);
  return status;
}

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Error`;
}

/** A denial: an expected outcome returned (not thrown) by a pipeline stage. */
export interface Denial {
  readonly code: ErrorCode;
  readonly message: string;
  /** Extra response headers (Retry-After, RateLimit, WWW-Authenticate…). */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

export function deny(code: ErrorCode, message: string, headers?: ReadonlyArray<readonly [string, string]>): Denial {
  return headers ? { code, message, headers } : { code, message };
}

/**
 * `x-should-retry` for a refusal (honoured by the official OpenAI and Anthropic
 * SDKs over their own status rules): `false` where retrying cannot help soon (any
 * 403; a used-up daily budget, whose truthful Retry-After is hours away), `true`
 * for rate limits, whose Retry-After is the real wait. Absent otherwise.
 */
export function shouldRetry(code: ErrorCode): 'true' | 'false' | undefined {
  if (code === 'ARGUS_QUOTA_EXCEEDED' || TABLE[code] === 403) return 'false';
  if (code === 'ARGUS_RATE_LIMITED') return 'true';
  return undefined;
}

/** The contract's JSON error body. */
export function errorBody(code: ErrorCode, message: string, requestId: string): string {
  return JSON.stringify({ error: { code, message, request_id: requestId } });
}

/** Thrown for invalid configuration or CLI usage; the CLI maps it to exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
