/**
 * What every dashboard handler gets: the service deps (with the sidecar's
 * authenticator), the dashboard's config, the sign-in providers and the keys
 * derived for CSRF tokens and the sign-in flow cookie. Hono's context carries
 * the signed-in session of account and admin pages.
 */
import type { Context } from 'hono';
import type { DashboardConfig } from '../../dashboard-schema.js';
import type { ApiDeps } from '../api/app.js';
import type { Providers } from './providers.js';
import type { SessionDeps, SignedInSession } from './session.js';

export interface Dash {
  readonly deps: ApiDeps & SessionDeps;
  readonly cfg: DashboardConfig;
  readonly providers: Providers;
  readonly csrfKey: Buffer;
  readonly flowKey: Buffer;
}

export type DashEnv = { Variables: { session: SignedInSession; csrf: string } };
export type DashContext = Context<DashEnv>;

/** An absolute URL on the dashboard's public origin. */
export function publicUrl(dash: Dash, path: string): string {
  return new URL(path, dash.cfg.public_url).href;
}
