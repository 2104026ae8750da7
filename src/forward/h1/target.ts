/**
 * Where the upstream listens, from `upstream.url`: a TCP origin
 * (`http://127.0.0.1:3000`) or a Unix domain socket (`unix:/run/app/app.sock`,
 * an absolute path after `unix:`), as Envoy, HAProxy and nginx name one.
 *
 * Over a socket there is no host name to send: a request without a Host of its
 * own (the client's Host passes through) and a WebSocket handshake (the `ws`
 * client sets it) carry `Host: localhost`.
 */
import type net from 'node:net';

export type UpstreamTarget =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly hostHeader: string }
  | { readonly kind: 'unix'; readonly path: string; readonly hostHeader: string };

/** The Host sent over a socket when the request has none. */
export const UNIX_HOST = 'localhost';

/**
 * Parse `url` (`http://host[:port]` or `unix:/absolute/path`). A path after an
 * http origin is ignored. Throws an Error whose message says what was expected.
 */
export function parseUpstreamTarget(url: string): UpstreamTarget {
  if (url.startsWith('unix:')) {
    const path = url.slice('unix:'.length);
    if (!path.startsWith('/')) throw new Error(`expected unix:/absolute/path/to/app.sock, got ${JSON.stringify(url)}`);
    if (path.includes('\0')) throw new Error('a socket path cannot hold a NUL byte');
    // sockaddr_un.sun_path is 108 bytes on Linux, NUL included (unix(7)).
    if (Buffer.byteLength(path) > 107) throw new Error(`socket path is ${Buffer.byteLength(path)} bytes; Linux allows at most 107`);
    return { kind: 'unix', path, hostHeader: UNIX_HOST };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`expected http://host:port or unix:/path/to/app.sock, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:') throw new Error(`only http:// and unix: are supported, got ${parsed.protocol}`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return { kind: 'tcp', host, port: parsed.port ? Number(parsed.port) : 80, hostHeader: parsed.host };
}

/** Options for `net.connect` reaching `target`. */
export function connectOptions(target: UpstreamTarget): net.NetConnectOpts {
  return target.kind === 'unix' ? { path: target.path } : { host: target.host, port: target.port };
}
