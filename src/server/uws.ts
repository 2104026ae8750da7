/**
 * The only module that imports uWebSockets.js.
 *
 * The npm republish we use (`@trufflesuite/uws-js-unofficial`, uWS.js v20.30)
 * silently falls back to a pure-JS server when the native binding fails to load
 * (wrong Node ABI or glibc). That fallback is an order of magnitude slower and
 * behaves differently, so {@link loadUws} refuses it unless explicitly allowed.
 */
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';
import { StartupError } from '../startup.js';

export type {
  HttpRequest,
  HttpResponse,
  TemplatedApp,
  WebSocket,
  us_listen_socket,
  us_socket_context_t,
  RecognizedString,
  WebSocketBehavior,
} from 'uWebSockets.js';
export type UwsModule = typeof Uws;

const require = createRequire(import.meta.url);
let loaded: { mod: UwsModule; native: boolean } | undefined;

export interface LoadOptions {
  /** Accept the pure-JS fallback (tests of the refusal itself, exotic platforms). */
  allowJsFallback?: boolean;
  /**
   * Largest request header section uWS will parse, in bytes. uWS reads it once, from
   * the environment, when the binding loads; the sidecar enforces its own
   * (configurable, JSON-answering) limit below this hard ceiling.
   */
  headerCeilingBytes?: number;
}

/** Load uWS once per process, check that the native binding is in use, or throw. */
export function loadUws(opts: LoadOptions = {}): UwsModule {
  if (!loaded) {
    // uWS's HttpParser reads UWS_HTTP_MAX_HEADERS_SIZE when the binding loads
    // (default 4 KiB: too small for Cognito tokens). This is configuration of a
    // native library, written before load, not a config read.
    process.env.UWS_HTTP_MAX_HEADERS_SIZE = String(opts.headerCeilingBytes ?? 65536);
    const originalWarn = console.warn;
    let fallbackWarning = '';
    console.warn = (...args: unknown[]) => {
      fallbackWarning += args.map(String).join(' ') + '\n';
    };
    let mod: UwsModule;
    try {
      mod = require('uWebSockets.js') as UwsModule;
    } finally {
      console.warn = originalWarn;
    }
    loaded = { mod, native: isNative(mod) };
    if (!loaded.native && fallbackWarning) process.stderr.write(fallbackWarning);
  }
  if (!loaded.native && !opts.allowJsFallback) {
    throw new StartupError(
      'uWebSockets.js native binding did not load (the package fell back to its pure-JS server). ' +
        `Node ${process.version} ABI ${process.versions.modules} on ${process.platform}-${process.arch} needs a matching ` +
        'binaries/uws_<platform>_<arch>_<abi>.node and glibc. Run on Node 20 (glibc >= 2.36), or set ' +
        'server.allow_js_fallback: true to accept a much slower server.',
    );
  }
  return loaded.mod;
}

/** True when App is the C++ binding's function, not the JS fallback's class. */
export function isNative(mod: UwsModule): boolean {
  return typeof mod.App === 'function' && /\[native code\]/.test(Function.prototype.toString.call(mod.App));
}

/** Close a listen socket (stop accepting new connections). */
export function closeListenSocket(mod: UwsModule, socket: Uws.us_listen_socket): void {
  mod.us_listen_socket_close(socket);
}

/**
 * Listen on host:port. uWS sets SO_REUSEPORT on every listen socket unless told
 * `LIBUS_LISTEN_EXCLUSIVE_PORT`, and with it a second process on the same port
 * would silently take half the connections. `share` is for this sidecar's own
 * threads only (src/threads/main.ts checks the port is free first).
 * The native `listen(host, port, options, cb)` takes the options number after the
 * port (its typings list it only without a host).
 */
export function listenOnUws(
  mod: UwsModule,
  app: Uws.TemplatedApp,
  host: string,
  port: number,
  share: boolean,
  cb: (socket: Uws.us_listen_socket | false) => void,
): void {
  const options = share ? 0 : ((mod as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }).LIBUS_LISTEN_EXCLUSIVE_PORT ?? 1);
  (app.listen as unknown as (h: string, p: number, o: number, c: typeof cb) => void)(host, port, options, cb);
}

/**
 * Close the app's listen sockets and every connection it holds (uWS.js v20.30 has
 * `app.close()`, missing from its typings). Idle keep-alive connections get a FIN;
 * call it only once no request is in flight.
 */
export function closeApp(app: Uws.TemplatedApp): void {
  (app as unknown as { close(): void }).close();
}

export function listenPort(mod: UwsModule, socket: Uws.us_listen_socket): number {
  return mod.us_socket_local_port(socket as unknown as Uws.us_socket);
}

/** ArrayBuffer → string for uWS's address getters. */
export function textOf(buf: ArrayBuffer): string {
  return Buffer.from(buf).toString('latin1');
}
