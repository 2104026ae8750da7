/**
 * Claim the request body now: uWS delivers it only to handlers registered
 * synchronously. It buffers a little, then pauses the socket until forwarded.
 * A declared length over the route's limit is refused at once; a body that
 * grows past it later is refused through `onTooLarge`.
 */
import { deny, type Denial } from '../errors.js';
import type { Exchange } from '../request/exchange.js';
import type { CompiledRoute } from '../request/route.js';
import { RequestBody } from './body.js';
import { hasBody, type HeaderStats } from './hygiene.js';

export function claimBody(
  ex: Exchange,
  route: CompiledRoute,
  stats: HeaderStats,
  defaultMax: number,
  onTooLarge: (ex: Exchange, denial: Denial) => void,
): Denial | null {
  if (!hasBody(stats)) return null;
  const maxBody = route.cfg.max_body_bytes ?? defaultMax;
  if (stats.contentLength !== undefined && Number(stats.contentLength) > maxBody) return tooLarge(maxBody);
  ex.body = new RequestBody(ex.res, maxBody, () => onTooLarge(ex, tooLarge(maxBody)));
  return null;
}

function tooLarge(maxBody: number): Denial {
  return deny('ARGUS_PAYLOAD_TOO_LARGE', `request body exceeds ${maxBody} bytes`);
}
