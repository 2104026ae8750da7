/**
 * `GET /v1/features?user=ID&features=a,b,c` on the admin port: which of N
 * features a user has, in one call (the upstream asks; it is not public).
 * Answers `{"user":"ID","features":{"a":true,"b":false}}`; 400 on bad input,
 * 503 when the user store (Redis) is unreachable.
 */
import type { Authenticator } from '../authenticate/index.js';
import { send, type AdminRoute } from './server.js';

const MAX_FEATURES = 100;

export function featuresRoute(auth: Pick<Authenticator, 'features'>): AdminRoute {
  return async function batchFeatures(_req, url, res) {
    const user = url.searchParams.get('user') ?? '';
    const features = (url.searchParams.get('features') ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
    if (!user || features.length === 0 || features.length > MAX_FEATURES) {
      return send(res, 400, { error: { code: 'ARGUS_BAD_REQUEST', message: `need user and 1..${MAX_FEATURES} comma-separated features` } });
    }
    try {
      send(res, 200, { user, features: await auth.features(user, features) });
    } catch {
      send(res, 503, { error: { code: 'ARGUS_DEPENDENCY_UNAVAILABLE', message: 'the user store is unreachable' } });
    }
  };
}
