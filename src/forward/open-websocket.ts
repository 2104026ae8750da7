/**
 * The pipeline's last step for a WebSocket route: connect the upstream socket
 * (same path and query, the client's subprotocols, identity headers), then answer
 * the client's upgrade with the protocol the upstream chose.
 */
import type { AuthContext } from '../request/principal.js';
import type { RouteConfig } from '../request/route.js';
import type { ServerConfig } from '../server/schema.js';
import type { UpstreamConfig } from './upstream-schema.js';
import { deny } from '../errors.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { CompiledRoute } from '../request/route.js';
import type { Exchange } from '../request/exchange.js';
import type { UpgradeInfo } from '../server/http.js';
import { isProtocolCredential } from '../authenticate/credentials.js';
import { upstreamRequestHeaders } from './headers.js';
import { stripSet } from './strip.js';
import type { TrustedHeaders } from './h1/exchange.js';
import { parseUpstreamTarget, UNIX_HOST } from './h1/target.js';
import type { RelayFailure } from './relay.js';
import type { GateFactory } from './ws-gates.js';
import { connectUpstream, WsSession } from './websocket.js';
import type { RequestObserver } from '../observe/request-observer.js';

/** Handshake headers the `ws` client sets itself. */
const HANDSHAKE = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions', 'host']);

export interface OpenerDeps {
  /** Its config slice: the front's WebSocket limits and header rules, the upstream, the routes. */
  readonly cfg: { readonly server: ServerConfig; readonly upstream: UpstreamConfig; readonly routes: readonly RouteConfig[] };
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly identity: (ctx: AuthContext | null, opts?: { stale?: boolean }) => TrustedHeaders;
  readonly sessions: Set<WsSession>;
  readonly heartbeats: { watch(s: WsSession): void };
  /** Message limits and the extension's message gate for a new session. */
  readonly gateFor?: GateFactory;
  /** An extension of this route closes its sessions when re-validation is impossible. */
  readonly sessionsFailClosed: (route: CompiledRoute) => boolean;
  readonly onFailure: (kind: RelayFailure, err: Error) => void;
  /** Tracing: the upstream's traceparent. */
  readonly observe?: RequestObserver;
}

/** The subprotocol a browser offers next to `bearer.<token>` (answered when the upstream picks none). */
export const ARGUS_PROTOCOL = 'argus';

/** `query` without the parameter `name` in any spelling the credential extractor accepts (case, percent-encoding). */
function withoutParam(query: string, name: string): string {
  if (!query) return query;
  return query
    .split('&')
    .filter((part) => decodedName(part.split('=')[0]!) !== name)
    .join('&');
}

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

export function createWebSocketOpener(deps: OpenerDeps) {
  // The same client identity headers are removed from upgrades as from plain requests (src/forward/strip.ts).
  const tracer = deps.observe?.tracer;
  const traceHeaders = tracer ? ['traceparent', 'tracestate'] : [];
  const stripSets = deps.cfg.routes.map((r) => stripSet(deps.cfg.server, [...r.strip_request_headers, ...traceHeaders]));
  const target = parseUpstreamTarget(deps.cfg.upstream.url);
  // Over a Unix socket the URL only carries the path; `connectUpstream` dials the socket (Host: localhost).
  const socketPath = target.kind === 'unix' ? target.path : undefined;
  const base = socketPath !== undefined ? `ws://${UNIX_HOST}` : deps.cfg.upstream.url.replace(/^http/, 'ws').replace(/\/$/, '');
  return {
    open(ex: Exchange, route: CompiledRoute, ctx: AuthContext | null, up: UpgradeInfo): void {
      const head = ex.head;
      const flat = upstreamRequestHeaders(
        head.headers,
        {
          clientAddress: head.remoteAddress,
          proto: 'http',
          requestId: head.requestId,
          trustForwarded: deps.cfg.server.trust_forwarded,
          strip: stripSets[route.index]!,
        },
        deps.identity(ctx, ex.stale ? { stale: true } : undefined).list,
      );
      if (tracer && ex.trace) tracer.propagate(ex.trace, flat);
      const headers: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) {
        const name = flat[i]!;
        if (HANDSHAKE.has(name)) continue;
        headers[name] = headers[name] === undefined ? flat[i + 1]! : `${headers[name]}, ${flat[i + 1]!}`;
      }
      // A credential carried as a subprotocol (`bearer.<token>`) or in the query is the sidecar's, not the app's.
      // Browsers fail a handshake whose answer names none of the offered protocols, so a client
      // authenticating with `bearer.<token>` also offers `argus`; the sidecar answers with it when the
      // upstream chose none. Neither entry reaches the upstream.
      const offered = up.protocol
        ? up.protocol
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean)
        : [];
      const protocols = offered.filter((p) => !isProtocolCredential(p) && p !== ARGUS_PROTOCOL);
      const query = route.cfg.websocket?.query_token ? withoutParam(head.query, 'access_token') : head.query;
      const url = `${base}${head.path}${query ? `?${query}` : ''}`;
      const maxMessageBytes = route.cfg.websocket?.max_message_bytes ?? deps.cfg.server.ws_max_payload_bytes;
      connectUpstream(url, headers, protocols, deps.cfg.upstream.headers_timeout_ms, maxMessageBytes, socketPath).then(
        (upstream) => {
          if (ex.aborted) return void upstream.ws.terminate();
          const ws = route.cfg.websocket!;
          const policy = {
            heartbeatMs: ws.heartbeat_ms,
            unavailableGraceMs: ws.unavailable_grace_ms,
            failClosed: route.cfg.on_auth_unavailable === 'closed' || deps.sessionsFailClosed(route),
          };
          const session = new WsSession(
            upstream.ws,
            { maxBufferedBytes: deps.cfg.server.ws_max_buffered_bytes, maxMessageBytes },
            { route: route.label, requestId: head.requestId },
            ctx,
            policy,
          );
          session.gate = deps.gateFor?.(session, route, ctx, head.requestId, ex.eventKey());
          deps.sessions.add(session);
          if (ctx) deps.heartbeats.watch(session);
          deps.metrics.wsConnections.inc();
          session.onClose((code) => {
            deps.sessions.delete(session);
            deps.metrics.wsConnections.dec();
            deps.metrics.wsClosed.labels(String(code)).inc();
          });
          ex.started = true;
          ex.status = 101;
          const selected = upstream.protocol || (offered.includes(ARGUS_PROTOCOL) ? ARGUS_PROTOCOL : '');
          ex.res.cork(() => ex.res.upgrade({ session }, up.key, selected, up.extensions, up.context));
          ex.done();
        },
        (err: Error & { status?: number }) => {
          deps.onFailure(err.status ? 'other' : 'refused', err);
          ex.replyError(
            deny('ARGUS_UPSTREAM_UNAVAILABLE', err.status ? `the upstream refused the WebSocket (${err.status})` : 'the upstream could not be reached'),
          );
        },
      );
    },
  };
}
