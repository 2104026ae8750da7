/**
 * Stages 1–2 of the data path: request hygiene (ambiguous framing, oversized
 * heads, Host), path normalisation, CORS preflights, then the first matching
 * route (404, or 405 with `Allow`) and the WebSocket handshake rules of
 * WebSocket routes. Returns the route, or a refusal (and whether the connection
 * must close), or `ANSWERED` when a preflight was answered here.
 */
import { deny, statusOf, type Denial } from '../errors.js';
import type { createCorsStage } from '../cors/stage.js';
import type { Exchange } from '../request/exchange.js';
import type { CompiledRoute, RouteMatch } from '../routes.js';
import { checkHandshake, checkOrigin, refusePlainRequest } from '../forward/ws-handshake.js';
import { checkHygiene, hasBody, type HeaderStats } from './hygiene.js';
import { allowedHostSet, checkHost } from './host.js';
import { normalisePath } from './path.js';
import type { ServerConfig } from './schema.js';

/** A refusal of the front: the denial, and whether the connection closes after it. */
export interface FrontRefusal {
  readonly denial: Denial;
  readonly close: boolean;
}

/** A CORS preflight was answered by the front: nothing more to do. */
export const ANSWERED = Symbol('answered');

export type FrontOutcome = CompiledRoute | FrontRefusal | typeof ANSWERED;

export function createFront(server: ServerConfig, matchRoute: (method: string, path: string) => RouteMatch, cors: ReturnType<typeof createCorsStage>) {
  const limits = {
    maxHeaderBytes: server.max_header_bytes,
    maxHeaders: server.max_headers,
    maxBodyBytes: server.max_body_bytes,
    chunkedBodies: server.chunked_request_bodies,
  };
  const pathOptions = { mergeSlashes: server.merge_slashes };
  const allowedHosts = allowedHostSet(server.allowed_hosts);

  /** `websocket`: the request is an upgrade. */
  return function front(ex: Exchange, stats: HeaderStats, websocket: boolean): FrontOutcome {
    const bad = checkHygiene(stats, limits) ?? checkHost(stats.hosts, stats.host, allowedHosts);
    if (bad) return { denial: bad, close: true };
    // One normalised path is matched, metered and forwarded (src/server/path.ts).
    const path = normalisePath(ex.head.path, pathOptions);
    if (typeof path !== 'string') return { denial: path, close: true };
    ex.head.path = path;
    // A CORS preflight for a route with `cors:` is answered here, before authentication.
    const preflight = websocket ? null : cors.preflight(ex);
    if (preflight === true) return ANSWERED;
    if (preflight) return { denial: preflight, close: false };
    const route = matchOf(ex, matchRoute(ex.head.method, path));
    if (!('cfg' in route)) return route;
    ex.head.path = route.caseInsensitive ? path.toLowerCase() : path;
    const refused = websocketRules(ex, route, stats, websocket);
    if (refused) return refused;
    ex.route = route;
    ex.routeLabel = route.label;
    cors.decorate(ex, route);
    return route;
  };
}

function matchOf(ex: Exchange, match: RouteMatch): CompiledRoute | FrontRefusal {
  if (match.route) return match.route;
  const denial = match.methodMismatch
    ? deny('ARGUS_METHOD_NOT_ALLOWED', `${ex.head.method} is not allowed here`, [['allow', match.allow!]])
    : deny('ARGUS_NOT_FOUND', 'no route matches this path');
  return { denial, close: false };
}

/** WebSocket routes: a valid RFC 6455 handshake from an allowed Origin, or nothing reaches the upstream. */
function websocketRules(ex: Exchange, route: CompiledRoute, stats: HeaderStats, websocket: boolean): FrontRefusal | null {
  if (websocket && !route.cfg.websocket) return { denial: deny('ARGUS_NOT_FOUND', 'no WebSocket route matches this path'), close: false };
  if (!route.cfg.websocket) return null;
  const bad = websocket ? (checkHandshake(ex.head) ?? checkOrigin(ex.head, route.cfg.websocket)) : refusePlainRequest(ex.head);
  return bad ? { denial: bad, close: statusOf(bad.code) === 400 || hasBody(stats) } : null;
}
