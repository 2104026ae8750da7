/**
 * A tiny HTTP round-robin balancer for replica tests: each request (not each
 * connection) goes to the next backend, so nothing sticks to one replica.
 * `hits` lists the backend index of every request in order.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobin {
  readonly url: string;
  readonly hits: number[];
  close(): Promise<void>;
}

export async function startRoundRobin(backends: readonly string[]): Promise<RoundRobin> {
  const hits: number[] = [];
  let next = 0;
  const server: Server = createServer((req, res) => {
    const i = next++ % backends.length;
    hits.push(i);
    const target = new URL(req.url ?? '/', backends[i]);
    const up = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
