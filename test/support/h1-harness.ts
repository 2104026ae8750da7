/**
 * For the upstream client's tests: a raw TCP upstream that records every request
 * it reads (head and body bytes) and answers with scripted bytes, and a helper
 * that runs one request through an H1Pool and collects what the handler saw.
 */
import net from 'node:net';
import { H1Pool, type H1PoolOptions } from '../../src/forward/h1/pool.js';
import type { H1Request, UpstreamController } from '../../src/forward/h1/exchange.js';

export interface SeenRequest {
  readonly connection: number;
  readonly head: string;
  body: Buffer;
}

/** What the script does with a request: bytes to write, then optionally close. */
export type Reply = { write?: string | Buffer | Array<string | Buffer>; close?: boolean; destroy?: boolean; delayMs?: number } | 'hang';

export interface ScriptedUpstream {
  readonly url: string;
  readonly seen: SeenRequest[];
  connections: number;
  /** Sockets currently open on the server side. */
  readonly open: Set<net.Socket>;
  close(): Promise<void>;
}

/**
 * `script(req, index)` answers each request once its head (and Content-Length
 * body, or chunked body up to the last chunk) has arrived.
 */
export async function scriptedUpstream(script: (req: SeenRequest, index: number) => Reply): Promise<ScriptedUpstream> {
  const seen: SeenRequest[] = [];
  const open = new Set<net.Socket>();
  const state = { connections: 0 };
  const server = net.createServer((socket) => {
    const id = ++state.connections;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.subarray(0, end).toString('latin1');
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
        let bodyEnd = end + 4;
        if (cl) {
          bodyEnd += Number(cl[1]);
          if (buf.length < bodyEnd) return;
        } else if (chunked) {
          const last = buf.indexOf('\r\n0\r\n\r\n', end);
          const first = buf.indexOf('0\r\n\r\n', end + 4);
          if (first === end + 4) bodyEnd = end + 9;
          else if (last === -1) return;
          else bodyEnd = last + 7;
        }
        const req: SeenRequest = { connection: id, head, body: Buffer.from(buf.subarray(end + 4, bodyEnd)) };
        buf = buf.subarray(bodyEnd);
        seen.push(req);
        const reply = script(req, seen.length - 1);
        if (reply === 'hang') continue;
        const act = () => {
          if (socket.destroyed) return;
          if (reply.destroy) return void socket.destroy();
          const parts = reply.write === undefined ? [] : Array.isArray(reply.write) ? reply.write : [reply.write];
          for (const p of parts) socket.write(p);
          if (reply.close) socket.end();
        };
        if (reply.delayMs) setTimeout(act, reply.delayMs);
        else act();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    get connections() {
      return state.connections;
    },
    open,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface Outcome {
  status: number;
  headers: string[];
  body: Buffer;
  /** Body chunks as delivered. */
  chunks: number;
  error: (Error & { code?: string }) | undefined;
  controller: UpstreamController | undefined;
}

/** Run one request and resolve when it ends (response end or error). `onChunk` may pause/abort. */
export function send(
  pool: H1Pool,
  req: Partial<H1Request> & { path: string },
  onChunk?: (c: UpstreamController, chunk: Buffer, o: Outcome) => void,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const o: Outcome = { status: 0, headers: [], body: Buffer.alloc(0), chunks: 0, error: undefined, controller: undefined };
    pool.dispatch(
      { method: 'GET', headers: [], body: null, ...req },
      {
        onRequestStart: (c) => (o.controller = c),
        onResponseStart: (_c, status, headers) => {
          o.status = status;
          o.headers = headers;
        },
        onResponseData: (c, chunk) => {
          parts.push(Buffer.from(chunk));
          o.chunks++;
          onChunk?.(c, chunk, o);
        },
        onResponseEnd: () => {
          o.body = Buffer.concat(parts);
          resolve(o);
        },
        onResponseError: (_c, err) => {
          o.body = Buffer.concat(parts);
          o.error = err;
          resolve(o);
        },
      },
    );
  });
}

export const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** Pools and upstreams made by {@link h1Fixture}'s setup, destroyed by its cleanup (call it from after()). */
export function h1Fixture(defaults: Partial<H1PoolOptions> = {}) {
  const pools: H1Pool[] = [];
  const ups: ScriptedUpstream[] = [];
  return {
    pools,
    ups,
    async setup(script: (req: SeenRequest, i: number) => Reply, opts: Partial<H1PoolOptions> = {}) {
      const up = await scriptedUpstream(script);
      const pool = new H1Pool({ url: up.url, connections: 8, keepAliveTimeoutMs: 4000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, ...defaults, ...opts });
      ups.push(up);
      pools.push(pool);
      return { up, pool };
    },
    async cleanup() {
      for (const p of pools) await p.destroy();
      for (const u of ups) await u.close();
    },
  };
}
