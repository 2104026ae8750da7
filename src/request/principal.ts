/**
 * AuthContext: who the caller is and what it may do, built once per credential
 * and cached. Sent upstream as the contract's `x-argus-*` headers.
 */
import type { ExtensionEntitlements } from '../extensions/slots.js';

export type AuthMethod = 'jwt' | 'api_key' | 'session' | 'none';

/**
 * Identity, plus the entitlements each product extension reads under its own
 * name (`ExtensionEntitlements`, src/extensions/slots.ts): the core copies them
 * from key and user records without looking inside.
 */
export interface AuthContext extends ExtensionEntitlements {
  readonly method: AuthMethod;
  readonly user_id: string;
  readonly tier: string;
  readonly role?: string;
  readonly features: readonly string[];
  readonly scopes: readonly string[];
  /** API key id when authenticated by key. */
  readonly key_id?: string;
  /** The org that owns the API key, when an org does (its record is the key's owner record). */
  readonly org_id?: string;
  /** Session id (session header `sid`, JWT `jti`/`origin_jti`/`sid`). */
  readonly session_id?: string;
  /** Unix seconds when the credential expires (JWT exp, session exp). */
  readonly expires_at?: number;
  /**
   * Unix seconds when the credential was issued (JWT iat, session iat, key creation).
   * `revoke --user` refuses every credential issued at or before the revocation.
   */
  readonly issued_at?: number;
  /** Per-subject override of the tier's requests per minute (enterprise custom). */
  readonly requests_per_minute?: number;
  /** Stripe customer id for billing, when known. */
  readonly stripe_customer?: string;
}
