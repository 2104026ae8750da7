/**
 * An upstream that records exactly what it received: each request's head as the
 * bytes on the wire (request line + header lines, latin1) and its body. It parses
 * just enough HTTP/1.1 to find request boundaries (Content-Length or chunked) and
 * answers every request `200 ok` on a keep-alive connection.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawSeen {
  /** "GET /path?q HTTP/1.1" exactly as received. */
  readonly requestLine: string;
  readonly method: string;
  readonly target: string;
  /** Header lines as received ("Name: value"). */
  readonly headerLines: string[];
  /** Lower-cased header names → values (repeats joined with ", "). */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface RawUpstream {
  readonly url: string;
  readonly seen: RawSeen[];
  close(): Promise<void>;
}

export async function startRawUpstream(): Promise<RawUpstream> {
  const seen: RawSeen[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const parsed = parseOne(buf);
        if (!parsed) return;
        buf = buf.subarray(parsed.used);
        seen.push(parsed.req);
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n${parsed.req.method === 'HEAD' ? '' : 'ok'}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function parseOne(buf: Buffer): { req: RawSeen; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const requestLine = lines[0]!;
  const [method = '', target = ''] = requestLine.split(' ');
  const headerLines = lines.slice(1);
  const headers: Record<string, string> = {};
  for (const l of headerLines) {
    const i = l.indexOf(':');
    const name = l.slice(0, i).toLowerCase();
    const value = l.slice(i + 1).trim();
    headers[name] = headers[name] !== undefined ? `${headers[name]}, ${value}` : value;
  }
  let pos = end + 4;
  let body = Buffer.alloc(0);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1'), 16);
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) {
        pos = lineEnd + 4;
        break;
      }
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      pos = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (buf.length < pos + n) return undefined;
    body = Buffer.from(buf.subarray(pos, pos + n));
    pos += n;
  }
  return { req: { requestLine, method, target, headerLines, headers, body }, used: pos };
}
