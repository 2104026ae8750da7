// Config schema of `control.dashboard:` (keys: docs/configuration.md), the
// sign-in pages of `argus-sidecar control` (src/control/dashboard/). Outside
// src/control/ like control-schema.ts: validating a proxy's config loads no
// dashboard module.
import { z } from 'zod';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An https URL; plain http only on a loopback host (a local stand-in of the provider). */
const providerUrl = z
  .string()
  .url()
  .refine(
    (v) => {
      const u = new URL(v);
      return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname));
    },
    { message: 'must be https (http only on 127.0.0.1, localhost or [::1])' },
  );

const client = {
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
};

export const dashboardSchema = z
  .object({
    /** The dashboard's origin as browsers see it (`https://argus.example.com`): redirect URIs and Stripe return URLs start here. */
    public_url: providerUrl,
    /** Google sign-in (OpenID Connect, authorization code with PKCE); absent: no Google button. */
    google: z
      .object({
        /** Issuer; its `/.well-known/openid-configuration` names the endpoints and keys. */
        issuer: providerUrl.default('https://accounts.google.com'),
        ...client,
      })
      .strict()
      .optional(),
    /** GitHub sign-in (OAuth 2, authorization code with state and PKCE); absent: no GitHub button. */
    github: z
      .object({
        authorize_url: providerUrl.default('https://github.com/login/oauth/authorize'),
        token_url: providerUrl.default('https://github.com/login/oauth/access_token'),
        user_url: providerUrl.default('https://api.github.com/user'),
        emails_url: providerUrl.default('https://api.github.com/user/emails'),
        ...client,
      })
      .strict()
      .optional(),
    /** Tier of a user created by a first sign-in (default: `auth.default_tier`). */
    signup_tier: z.string().min(1).optional(),
  })
  .strict();

export type DashboardConfig = z.infer<typeof dashboardSchema>;

/** Checks across sections, as `[key, message]` pairs (empty when fine). */
export function dashboardProblems(cfg: {
  control: { dashboard?: DashboardConfig | undefined };
  auth: { session?: { cookie?: string | undefined } | undefined };
  tiers: Record<string, unknown>;
}): Array<[string, string]> {
  const d = cfg.control.dashboard;
  if (d === undefined) return [];
  const out: Array<[string, string]> = [];
  if (cfg.auth.session?.cookie === undefined) out.push(['auth.session.cookie', 'required by control.dashboard (the signed-in session lives in this cookie)']);
  if (d.signup_tier !== undefined && !(d.signup_tier in cfg.tiers)) out.push(['control.dashboard.signup_tier', `unknown tier "${d.signup_tier}"`]);
  return out;
}
