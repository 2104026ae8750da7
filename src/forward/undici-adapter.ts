/**
 * undici's Pool behind the upstream handler interface (`upstream.client: undici`),
 * kept so the two clients can be compared in one benchmark run and as a
 * fallback. Translates undici's header object into the flat list the relay reads.
 */
import { Pool, type Dispatcher } from 'undici';
import type { H1Request, UpstreamController, UpstreamHandler } from './h1/exchange.js';

export class UndiciUpstream {
  private readonly pool: Pool;

  constructor(origin: string, opts: { connections: number; keepAliveTimeoutMs: number; headersTimeoutMs: number; bodyTimeoutMs: number }) {
    this.pool = new Pool(origin, { connections: opts.connections, pipelining: 1, keepAliveTimeout: opts.keepAliveTimeoutMs, headersTimeout: opts.headersTimeoutMs, bodyTimeout: opts.bodyTimeoutMs });
  }

  dispatch(req: H1Request, handler: UpstreamHandler): void {
    // undici frames the body itself and refuses a caller's Content-Length that disagrees.
    const headers: string[] = [];
    for (let i = 0; i < req.headers.length; i += 2) {
      const name = req.headers[i]!;
      if (name !== 'content-length' || !Buffer.isBuffer(req.body)) headers.push(name, req.headers[i + 1]!);
    }
    if (req.trusted) for (const x of req.trusted.list) headers.push(x);
    let controller: UpstreamController | undefined;
    const ctl = (c: Dispatcher.DispatchController): UpstreamController => (controller ??= { pause: () => c.pause(), resume: () => c.resume(), abort: (e) => c.abort(e) });
    this.pool.dispatch(
      { method: req.method, path: req.path, headers, body: req.body, headersTimeout: req.headersTimeoutMs ?? null, bodyTimeout: req.bodyTimeoutMs ?? null },
      {
        onRequestStart: (c) => handler.onRequestStart?.(ctl(c)),
        onResponseStart: (c, status, h) => {
          const flat: string[] = [];
          for (const name in h) {
            const v = h[name];
            if (Array.isArray(v)) for (const x of v) flat.push(name, x);
            else if (v !== undefined) flat.push(name, v);
          }
          handler.onResponseStart(ctl(c), status, flat);
        },
        onResponseData: (c, chunk) => handler.onResponseData(ctl(c), chunk),
        onResponseEnd: (c) => handler.onResponseEnd(ctl(c)),
        onResponseError: (c, err) => handler.onResponseError(ctl(c), err),
      },
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
