/**
 * AuthContext: who the caller is and what it may do, built once per credential
 * and cached. Sent upstream as the contract's `x-argus-*` headers.
 */
export type AuthMethod = 'jwt' | 'api_key' | 'session' | 'none';

export interface LlmEntitlements {
  /** Allowed model names; empty = any model in the allowed tiers. */
  readonly models: readonly string[];
  /** Allowed model tiers (economy, balanced, reasoning). */
  readonly model_tiers: readonly string[];
  readonly daily_token_budget?: number;
  readonly requests_per_minute?: number;
}

export interface TradingEntitlements {
  readonly exchanges: readonly string[];
  readonly order_types: readonly string[];
  readonly max_position_size_usd?: number;
  readonly daily_loss_limit_usd?: number;
  /** Most order value (USD) per UTC day; checked in Redis before an order is forwarded. */
  readonly max_daily_value_usd?: number;
  readonly paper_only: boolean;
  readonly realtime_symbols_limit?: number;
}

export interface AuthContext {
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
  readonly llm?: LlmEntitlements;
  readonly trading?: TradingEntitlements;
  /** Stripe customer id for billing, when known. */
  readonly stripe_customer?: string;
}
