/**
 * What uWS v20.30 does with malformed request heads before JavaScript sees them:
 * for each class, whether the request reaches a handler at all, what the client
 * gets, and how long the connection is held before uWS closes it.
 *
 * A bare uWS app (the same binding and header ceiling as the sidecar) answers 200
 * to anything delivered; every class is sent on its own connection, all at once,
 * and watched for up to BENCH_HOLD_CAP_MS (default 20000).
 *
 * Usage: node dist/bench/uws-held.js  → bench/results/<date>-<sha>/uws-held.{json,md}
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { closeListenSocket, listenPort, loadUws, type us_listen_socket } from '../src/server/uws.js';
import { writeResultFiles } from './results-dir.js';

const CAP_MS = Number(process.env['BENCH_HOLD_CAP_MS'] ?? 20000);
const H = 'Host: a\r\n';

/** [class, bytes]. Every head is otherwise valid and ends the request. */
export const HELD_CLASSES: ReadonlyArray<readonly [string, string]> = [
  ['obs-fold (header continuation line)', `GET /x HTTP/1.1\r\n${H}X-A: 1\r\n  folded\r\n\r\n`],
  ['bare CR in a header value', `GET /x HTTP/1.1\r\n${H}X-A: 1\r2\r\n\r\n`],
  ['NUL in a header value', `GET /x HTTP/1.1\r\n${H}X-A: 1\u00002\r\n\r\n`],
  ['space before the colon', `GET /x HTTP/1.1\r\n${H}X-A : 1\r\n\r\n`],
  ['"_" in a header name', `GET /x HTTP/1.1\r\n${H}X_A: 1\r\n\r\n`],
  ['empty header name', `GET /x HTTP/1.1\r\n${H}: 1\r\n\r\n`],
  ['header line without a colon', `GET /x HTTP/1.1\r\n${H}X-A 1\r\n\r\n`],
  ['absolute-form target', `GET http://a/x HTTP/1.1\r\n${H}\r\n`],
  ['asterisk-form target', `OPTIONS * HTTP/1.1\r\n${H}\r\n`],
  ['authority-form CONNECT', `CONNECT a:443 HTTP/1.1\r\n${H}\r\n`],
  ['target without a leading "/"', `GET x HTTP/1.1\r\n${H}\r\n`],
  ['control character (TAB) in the target', `GET /a\tb HTTP/1.1\r\n${H}\r\n`],
  ['control character (0x01) in the target', `GET /a\u0001b HTTP/1.1\r\n${H}\r\n`],
  ['missing Host', 'GET /x HTTP/1.1\r\n\r\n'],
  ['48 header lines', `GET /x HTTP/1.1\r\n${H}${Array.from({ length: 47 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`],
  ['HTTP/1.0', `GET /x HTTP/1.0\r\n${H}\r\n`],
  ['HTTP/2 version in a request line', `GET /x HTTP/2.0\r\n${H}\r\n`],
  ['bare LF line endings', `GET /x HTTP/1.1\n${H.replace('\r', '')}\n`],
  ['Content-Length with Transfer-Encoding', `POST /x HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`],
  ['non-numeric Content-Length', `POST /x HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\nabc`],
  ['Transfer-Encoding: identity', `POST /x HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\nabc`],
  ['chunk size with an extension', `POST /x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\n\r\n`],
  ['valid request (control)', `GET /x HTTP/1.1\r\n${H}\r\n`],
];

export interface HeldResult {
  readonly name: string;
  readonly delivered: boolean;
  /** Status line the client got, or "" for none. */
  readonly response: string;
  /** When the server closed the connection (ms after sending), or null: still open at the cap. */
  readonly closedAfterMs: number | null;
}

export async function measureHeld(capMs = CAP_MS): Promise<HeldResult[]> {
  const uws = loadUws();
  const app = uws.App();
  const delivered = new Set<string>();
  app.any('/*', (res, req) => {
    const id = req.getHeader('x-probe') || req.getUrl();
    delivered.add(id);
    res.onAborted(() => undefined);
    res.end('ok');
  });
  let listenSocket: us_listen_socket | undefined;
  const port = await new Promise<number>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(listenPort(uws, (listenSocket = s))) : reject(new Error('listen')))),
  );
  const results = await Promise.all(
    HELD_CLASSES.map(
      ([name, bytes], i) =>
        new Promise<HeldResult>((resolve) => {
          // Tag each request so a delivery is attributed (added as the first header: the class's defect stays intact).
          const tagged = bytes.replace(/\r?\n/, (eol) => `${eol}X-Probe: p${i}${eol}`);
          const started = Date.now();
          let out = '';
          const socket = net.connect(port, '127.0.0.1', () => socket.write(tagged, 'latin1'));
          const finish = (closedAfterMs: number | null) => {
            clearTimeout(timer);
            socket.destroy();
            resolve({ name, delivered: delivered.has(`p${i}`), response: /^HTTP\/1\.[01] \d{3}[^\r]*/.exec(out)?.[0] ?? '', closedAfterMs });
          };
          socket.on('data', (d) => (out += d.toString('latin1')));
          socket.on('error', () => undefined);
          socket.on('close', () => finish(Date.now() - started));
          const timer = setTimeout(() => finish(null), capMs);
        }),
    ),
  );
  if (listenSocket) closeListenSocket(uws, listenSocket);
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await measureHeld();
  const command = `node dist/bench/uws-held.js (BENCH_HOLD_CAP_MS=${CAP_MS})`;
  const md = [
    '# uws-held',
    '',
    '| class | reaches JS | client gets | connection closed after |',
    '|---|---|---|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.delivered ? 'yes' : 'no'} | ${r.response || 'nothing'} | ${r.closedAfterMs === null ? `held > ${CAP_MS} ms` : `${r.closedAfterMs} ms`} |`,
    ),
    '',
  ].join('\n');
  writeResultFiles('uws-held', command, {}, { rows }, md);
  process.stdout.write(md);
  process.exit(0);
}
