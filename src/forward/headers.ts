/**
 * Header rewriting between client and upstream, both directions.
 *
 * Hop-by-hop headers (RFC 9110 §7.6.1) never cross the proxy: Connection and every
 * header it names, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*.
 * Client-sent identity headers (`x-argus-*`, and `x_argus_*`, which some servers
 * normalise to the same name) are removed whatever their case, and so is every
 * header in `server.strip_request_headers` (X-User-Id, X-Real-IP, X-Original-URL,
 * Forwarded…): only the sidecar may assert identity to the upstream.
 * X-Forwarded-For/-Proto come from the sidecar's own view of the connection (a
 * client's are extended only with `server.trust_forwarded`); X-Forwarded-Host is
 * the Host header, which the pipeline has validated (exactly one, a valid authority).
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

/** Request headers the proxy sets itself or must not forward. */
const REQUEST_DROP = new Set([
  ...HOP_BY_HOP,
  // uWS already answered "100 Continue"; the upstream must not wait for the body a second time.
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'forwarded',
]);

/** Response headers the proxy must not copy (uWS writes Date and the framing itself). */
// x-request-id: the sidecar writes the request's own id on every response (src/forward/relay.ts).
const RESPONSE_DROP = new Set([...HOP_BY_HOP, 'content-length', 'date', 'x-request-id']);

/** True for x-argus-* / x_argus_* in any case (names from uWS are already lower-case). */
export function isIdentityHeader(lowerName: string): boolean {
  return (
    lowerName.length > 8 &&
    lowerName.charCodeAt(0) === 120 /* x */ &&
    (lowerName.startsWith('x-argus-') || lowerName.startsWith('x_argus_') || lowerName.startsWith('x-argus_') || lowerName.startsWith('x_argus-'))
  );
}

const SIMPLE_CONNECTION = new Set(['keep-alive', 'Keep-Alive', 'close', 'Close', '']);

/** Header names listed in Connection (comma-separated tokens), lower-cased. */
function connectionTokens(headers: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'connection') continue;
    const value = headers[i + 1] ?? '';
    // The usual values name nothing that is not already dropped: no Set, no split.
    if (SIMPLE_CONNECTION.has(value)) continue;
    for (const t of value.split(',')) {
      const name = t.trim().toLowerCase();
      // Host is end-to-end and validated (src/server/host.ts): a `Connection: host` must not
      // swap it for the upstream's own address on the way in (RFC 9110 §7.6.1).
      if (name && name !== 'host') (tokens ??= new Set()).add(name);
    }
  }
  return tokens;
}

export interface ForwardedInfo {
  readonly clientAddress: string;
  readonly proto: string;
  readonly requestId: string;
  /** Trust and extend an incoming X-Forwarded-For (only behind a trusted load balancer). */
  readonly trustForwarded: boolean;
  /** Lower-cased client headers never forwarded (server.strip_request_headers + the route's; src/forward/strip.ts). */
  readonly strip?: ReadonlySet<string>;
}

/**
 * Build the upstream request's header list (flat [name, value, …]) from the
 * client's, adding x-forwarded-* and x-request-id, then `extra` (identity headers).
 */
export function upstreamRequestHeaders(client: readonly string[], info: ForwardedInfo, extra: readonly string[] = []): string[] {
  const named = connectionTokens(client);
  const strip = info.strip;
  const out: string[] = [];
  let host = '';
  let priorXff = '';
  let priorProto = '';
  for (let i = 0; i < client.length; i += 2) {
    const name = client[i]!;
    const value = client[i + 1]!;
    if (name === 'host') host = value;
    else if (name === 'x-forwarded-for') priorXff = priorXff ? `${priorXff}, ${value}` : value;
    else if (name === 'x-forwarded-proto') priorProto = value;
    if (REQUEST_DROP.has(name) || name.startsWith('proxy-') || isIdentityHeader(name) || named?.has(name) || strip?.has(name)) continue;
    out.push(name, value);
  }
  const xff = info.trustForwarded && priorXff ? `${priorXff}, ${info.clientAddress}` : info.clientAddress;
  out.push('x-forwarded-for', xff, 'x-forwarded-proto', info.trustForwarded && priorProto ? priorProto : info.proto, 'x-request-id', info.requestId);
  if (host) out.push('x-forwarded-host', host);
  for (let i = 0; i < extra.length; i++) out.push(extra[i]!);
  return out;
}

/**
 * Filter an upstream response's headers (flat [lower-case name, value, …]) into
 * a flat list safe to send to the client. `strip` names extra headers to drop
 * (e.g. the upstream's x-argus-usage report, which the sidecar consumes).
 */
export function clientResponseHeaders(headers: readonly string[], strip?: ReadonlySet<string>): string[] {
  const named = connectionTokens(headers);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (RESPONSE_DROP.has(name) || name.startsWith('proxy-') || named?.has(name) || strip?.has(name)) continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}

/** The first value of header `lowerName` in a flat list, or undefined. */
export function headerValue(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === lowerName) return headers[i + 1];
  return undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A client's x-request-id is propagated only when it is well-formed (else the sidecar's own id is used). */
export function isWellFormedRequestId(value: string | undefined): value is string {
  return value !== undefined && REQUEST_ID.test(value);
}
