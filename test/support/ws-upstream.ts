/**
 * WebSocket test tools: an upstream that records everything it received (plain
 * HTTP requests, upgrades, messages, close codes), a raw-socket WebSocket client
 * for frames no library would send (unmasked, reserved bits, bad UTF-8, wrong
 * handshakes), and a `ws` client helper.
 *
 * Upstream behaviour by path:
 *   /ws/none…      picks no subprotocol (otherwise the first one offered)
 *   /ws/big?n=N    sends one binary message of N bytes right after opening
 *   anything else  echoes every message
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { waitFor } from './raw.js';

export interface SeenClose {
  readonly url: string;
  readonly code: number;
  readonly reason: string;
}

export interface WsUpstream {
  readonly url: string;
  /** Plain HTTP requests that reached the upstream (method, url). */
  readonly plain: Array<{ method: string; url: string }>;
  /** WebSocket upgrades that reached the upstream. */
  readonly upgrades: Array<{ url: string; headers: IncomingMessage['headers']; protocol: string }>;
  readonly messages: Array<{ url: string; data: Buffer; binary: boolean }>;
  readonly closes: SeenClose[];
  /** Everything the upstream saw, counted (0: nothing reached it). */
  seen(): number;
  close(): Promise<void>;
}

export async function startWsUpstream(): Promise<WsUpstream> {
  const plain: WsUpstream['plain'] = [];
  const upgrades: WsUpstream['upgrades'] = [];
  const messages: WsUpstream['messages'] = [];
  const closes: SeenClose[] = [];
  const server: Server = createServer((req, res) => {
    plain.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('plain http');
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (offered, req) => (req.url?.startsWith('/ws/none') ? false : ([...offered][0] ?? false)),
  });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const url = req.url ?? '';
      upgrades.push({ url, headers: req.headers, protocol: ws.protocol });
      ws.on('message', (data: Buffer, binary) => {
        messages.push({ url, data, binary });
        ws.send(data, { binary });
      });
      ws.on('close', (code, reason) => closes.push({ url, code, reason: reason.toString() }));
      ws.on('error', () => undefined);
      const big = /^\/ws\/big\?n=(\d+)/.exec(url);
      if (big) ws.send(Buffer.alloc(Number(big[1]), 7));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    plain,
    upgrades,
    messages,
    closes,
    seen: () => plain.length + upgrades.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A fresh, valid Sec-WebSocket-Key. */
export const wsKey = (): string => randomBytes(16).toString('base64');

/** One WebSocket frame as a client would (or should not) send it. */
export function frame(opcode: number, payload: Buffer | string, opts: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const p = Buffer.from(payload);
  const { fin = true, mask = true, rsv = 0 } = opts;
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (p.length < 126) head.push(m | p.length);
  else if (p.length < 65536) head.push(m | 126, p.length >> 8, p.length & 255);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((p.length >>> 24) & 255, (p.length >>> 16) & 255, (p.length >>> 8) & 255, p.length & 255);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), p]);
  const k = randomBytes(4);
  const masked = Buffer.alloc(p.length);
  for (let i = 0; i < p.length; i++) masked[i] = p[i]! ^ k[i % 4]!;
  return Buffer.concat([Buffer.from(head), k, masked]);
}

export interface ServerFrame {
  readonly opcode: number;
  readonly payload: Buffer;
  /** Close frames: the code (undefined when the frame has none). */
  readonly code?: number;
}

/** A raw TCP WebSocket client: the handshake as given, then bytes as given. */
export interface RawWs {
  /** The HTTP response head (status line and headers), once received. */
  readonly head: () => string;
  readonly status: () => number;
  /** Frames the server sent after the handshake. */
  readonly frames: () => ServerFrame[];
  readonly closed: () => boolean;
  write(bytes: Buffer | string): void;
  destroy(): void;
}

export async function rawWs(port: number, request: string): Promise<RawWs> {
  const socket = net.connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(request);
  const split = () => {
    const i = buf.indexOf('\r\n\r\n');
    return i < 0 ? undefined : i;
  };
  await waitFor(() => split() !== undefined || closed, 10000, 'a handshake response');
  return {
    head: () => buf.subarray(0, split() ?? buf.length).toString('latin1'),
    status: () => Number(/^HTTP\/1\.1 (\d{3})/.exec(buf.toString('latin1'))?.[1] ?? 0),
    frames: () => parseFrames(buf.subarray((split() ?? buf.length) + 4)),
    closed: () => closed,
    write: (bytes) => socket.write(bytes),
    destroy: () => socket.destroy(),
  };
}

function parseFrames(b: Buffer): ServerFrame[] {
  const out: ServerFrame[] = [];
  while (b.length >= 2) {
    const opcode = b[0]! & 15;
    let len = b[1]! & 127;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) break;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) break;
      len = Number(b.readBigUInt64BE(2));
      off = 10;
    }
    if (b.length < off + len) break;
    const payload = b.subarray(off, off + len);
    out.push(opcode === 8 && len >= 2 ? { opcode, payload: payload.subarray(2), code: payload.readUInt16BE(0) } : { opcode, payload });
    b = b.subarray(off + len);
  }
  return out;
}

/** A well-formed upgrade request, with headers replaced or removed (value null) as given. */
export function upgradeRequest(path: string, overrides: Record<string, string | null> = {}, method = 'GET'): string {
  const headers: Record<string, string | null> = {
    host: 'sidecar.test',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': wsKey(),
    'sec-websocket-version': '13',
    ...overrides,
  };
  const lines = Object.entries(headers)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([k, v]) => `${k}: ${v}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

export interface WsClient {
  readonly ws: WebSocket;
  readonly messages: Array<{ data: Buffer; binary: boolean }>;
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** Open a `ws` client; rejects with `status` when the handshake is refused. */
export function connectWs(url: string, protocols: string[] = [], opts: WebSocket.ClientOptions = {}): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { maxPayload: 64 * 1024 * 1024, ...opts });
    const messages: WsClient['messages'] = [];
    ws.on('message', (data: Buffer, binary) => messages.push({ data, binary }));
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.once('open', () => resolve({ ws, messages, closed }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode }));
    });
    ws.once('error', reject);
  });
}
