/**
 * The authenticator used when no credential source is configured: `auth: none`
 * and `auth: optional` routes pass as anonymous, `auth: required` routes get 401.
 */
import { deny } from '../errors.js';
import type { AuthOutcome, AuthStage } from '../pipeline.js';

const ANONYMOUS: AuthOutcome = { ok: true, ctx: null };
const REQUIRED: AuthOutcome = {
  ok: false,
  denial: deny('ARGUS_UNAUTHENTICATED', 'this route requires a credential', [['www-authenticate', 'Bearer']]),
};

export const anonymousAuthenticator: AuthStage = {
  authenticate: (_head, route) => (route.auth === 'required' ? REQUIRED : ANONYMOUS),
};
