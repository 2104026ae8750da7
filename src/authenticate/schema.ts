/**
 * Config schema of the `auth:` section (keys: docs/configuration.md).
 *
 * Standalone API-key file (`auth.api_keys.file`, YAML or JSON): a list of key
 * records, or `{ keys: [...] }`. Each record:
 *
 * ```yaml
 * - key_id: key_demo1            # required, shown upstream as x-argus-key-id
 *   sha256: 9f86d0…              # required: hex SHA-256 of the full key (see hashApiKey)
 *   user_id: u_123               # required
 *   tier: professional           # required, a name from `tiers:`
 *   role: admin                  # optional
 *   scopes: [sibyl:read]         # optional, default []
 *   features: [predictions]      # optional, default []
 *   status: active               # optional: active (default) | revoked
 *   requests_per_minute: 5000    # optional per-key override of the tier rate
 *   <extension>: {…}             # optional: a product extension's entitlements (its entitlementSchema)
 * ```
 * The key itself never appears in the file; `generateApiKey()` returns key, key_id
 * and sha256 together. The file is read once at startup; a malformed file is a
 * configuration error naming the record.
 */
import { z } from 'zod';

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export const authSchema = z
  .object({
    jwt: z
      .object({
        /** JWKS endpoint (https://…/.well-known/jwks.json). Exactly one of jwks_url / jwks_file. */
        jwks_url: z.string().min(1).optional(),
        /** JWKS from a local file (re-read on every refresh). */
        jwks_file: z.string().min(1).optional(),
        issuer: z.string().min(1).optional(),
        /** Checked when set. Cognito access tokens carry no `aud`: use client_id instead. */
        audience: z.union([z.string(), z.array(z.string())]).optional(),
        /** Allowlist; HMAC algorithms and `none` can never be configured. */
        algorithms: z.array(z.enum(ALGORITHMS)).min(1).default(['RS256', 'ES256']),
        /** Clock skew tolerated on exp / nbf / iat, seconds. */
        leeway_s: z.number().int().nonnegative().default(30),
        /** Longest lifetime (exp − iat) accepted, seconds; tokens then need iat. Off by default (Cognito: 300–86400, default 3600). */
        max_lifetime_s: z.number().int().positive().optional(),
        /** Oldest token accepted (now − iat, plus leeway_s), seconds; tokens then need iat. Off by default. */
        max_token_age_s: z.number().int().positive().optional(),
        /** Cognito: required `token_use` claim (access | id) when set. */
        token_use: z.enum(['access', 'id']).optional(),
        /** Cognito: allowed `client_id` claim value(s) when set. */
        client_id: z.union([z.string(), z.array(z.string())]).optional(),
        /** Background JWKS refresh period. */
        refresh_ms: z.number().int().positive().default(300_000),
        /** After a failed fetch the last good key set keeps verifying new tokens this long (from its fetch). */
        max_stale_ms: z.number().int().positive().default(3_600_000),
        /** An unknown `kid` triggers at most one refetch per cooldown. */
        refetch_cooldown_ms: z.number().int().nonnegative().default(30_000),
        /** JWKS HTTP timeout. */
        fetch_timeout_ms: z.number().int().positive().default(2000),
        /** Cold verifications on a piscina pool of this many threads; 0 = inline on the event loop. */
        verify_threads: z.number().int().min(0).max(16).default(0),
        /** Where identity comes from when the user has no Redis record. */
        claims: z
          .object({
            tier: z.string().min(1).default('custom:tier'),
            role: z.string().min(1).default('custom:role'),
            /** Group list; a group named like a tier or "admin" sets tier/role when those claims are absent. */
            groups: z.string().min(1).default('cognito:groups'),
            features: z.string().min(1).default('custom:features'),
            /** Space-separated string (OAuth `scope`) or array (`scp`). */
            scope: z.string().min(1).default('scope'),
          })
          .strict()
          .default({}),
      })
      .strict()
      .refine((j) => (j.jwks_url === undefined) !== (j.jwks_file === undefined), {
        message: 'set exactly one of jwks_url or jwks_file',
      })
      .optional(),
    api_keys: z
      .object({
        header: z.string().min(1).default('x-api-key'),
        /** Standalone mode: a file of key records with SHA-256 digests (format above). */
        file: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    session: z
      .object({
        header: z.string().min(1).default('x-cognito-session'),
        /** Also accept the session from this cookie (the dashboard's); only when the request has no other credential. */
        cookie: z
          .string()
          .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a cookie name (RFC 6265 token)')
          .optional(),
        secret: z.string().min(16),
        /** Rotation: sessions signed with this secret are still accepted. */
        previous_secret: z.string().min(16).optional(),
        max_age_s: z.number().int().positive().default(3600),
      })
      .strict()
      .optional(),
    /** Tier given to authenticated callers whose credential names none (or an unknown one). */
    default_tier: z.string().min(1).default('explorer'),
    cache: z
      .object({
        /** A positive decision is re-checked after this long (never cached past the credential's exp). */
        ttl_ms: z.number().int().positive().default(5000),
        /** Unknown / invalid credentials are remembered this long. */
        negative_ttl_ms: z.number().int().positive().default(1000),
        max_entries: z.number().int().positive().default(100000),
        /** Routes with on_auth_unavailable: open serve positive decisions verified at most this long ago. */
        max_stale_ms: z.number().int().nonnegative().default(300_000),
        /** Longest credential string accepted (longer: 401 without parsing). */
        max_credential_bytes: z.number().int().min(256).max(65536).default(8192),
      })
      .strict()
      .default({}),
    /** Miss-storm protection: cold verifications (cache misses) are bounded. */
    cold: z
      .object({
        /** Cold verifications running at once; more wait in a queue. */
        max_concurrent: z.number().int().positive().default(64),
        /** Waiting cold verifications beyond this are refused (503 ARGUS_AUTH_OVERLOADED). */
        max_queue: z.number().int().nonnegative().default(1024),
        /** Failed cold verifications per client address per minute before 429 ARGUS_AUTH_THROTTLED; 0 = off. */
        client_failures_per_minute: z.number().int().nonnegative().default(600),
      })
      .strict()
      .default({}),
  })
  .strict();

export type AuthConfig = z.infer<typeof authSchema>;
export type JwtConfig = NonNullable<AuthConfig['jwt']>;
