/**
 * Fuzz of the request head against the real uWS sidecar: seeded random mutations of
 * valid requests (method, target, Host, credentials, forged identity headers,
 * header syntax, framing headers and chunk sizes), sent as raw bytes over many
 * keep-alive connections at once, some with a canary pipelined behind them. For
 * every request the upstream saw, it must be exactly the request the sidecar judged:
 * the normalised path of what the client sent, the client's method, no forged
 * identity, the identity of the key the client sent (or none), `/admin` only for
 * the admin key. A request the sidecar refused never reaches the upstream, and
 * after a closing refusal nothing more on that connection is answered or forwarded.
 *
 * GATE_FUZZ_SEED replays a run (the seed is printed); GATE_FUZZ_N sets the count.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { normalisePath } from '../src/server/path.js';
import { FORGEABLE_IDENTITY_HEADERS, startGate, type Gate } from './support/gate.js';
import { prng } from './support/prng.js';
import type { RawSeen } from './support/raw-upstream.js';

const SEED = Number(process.env['GATE_FUZZ_SEED'] ?? Date.now() % 1e9);
const N = Number(process.env['GATE_FUZZ_N'] ?? 10000);
const WORKERS = 32;
const WAIT_MS = 400;

const rnd = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const chance = (p: number) => rnd() < p;

const STRIPPED = [...FORGEABLE_IDENTITY_HEADERS, 'X-Argus-User-Id', 'X-Argus-Role', 'x-ARGUS-tier'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'get', 'FOO'];
const PATHS = ['/pub/x', '/pub/a/b', '/admin/x', '/admin', '/pub', '/nowhere', '/pub/file.json', '/admin/a/b'];
const INSERTS = [
  '../',
  '..',
  './',
  '.',
  '%2e%2e/',
  '%2E./',
  '.%2e/',
  '/',
  '//',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '\\',
  ';',
  ';x=1',
  '..;/',
  '%00',
  '%0a',
  '%7f',
  '%',
  '%z1',
  '%4',
  '%41',
  '%61',
  '%7e',
  '%25',
  '%252e',
  '#f',
  'é',
  'admin/',
  '../admin/',
  '%2e%2e/admin/',
  'ADMIN',
  '\t',
  '\u0001',
];
const QUERIES = ['a=1', 'a=../admin', '%2f', 'x?y', '', 'next=/admin/x', '%00'];

interface Req {
  readonly id: string;
  readonly bytes: string;
  readonly method: string;
  readonly target: string;
  readonly host: string | undefined;
  readonly key: 'anonymous' | 'user' | 'admin';
  readonly body: string | undefined;
  readonly canary: string | undefined;
  /** A malformed header line was inserted (uWS may drop it and every line after it, Content-Length included). */
  readonly headerMutated: boolean;
}

function mutatePath(p: string): string {
  let out = p;
  for (let n = Math.floor(rnd() * 3); n > 0; n--) {
    const at = 1 + Math.floor(rnd() * out.length);
    out = out.slice(0, at) + pick(INSERTS) + out.slice(at);
  }
  if (chance(0.05)) out = out.replace(/[a-z]/, (c) => c.toUpperCase());
  if (chance(0.2)) out += `?${pick(QUERIES)}`;
  return out;
}

function makeRequest(i: number, gate: Gate): Req {
  const id = `fz${SEED}-${i}`;
  const method = pick(METHODS);
  const target = chance(0.75) ? mutatePath(pick(PATHS)) : pick(PATHS);
  const key = pick(['anonymous', 'user', 'admin'] as const);
  const lines: string[] = [`X-Request-Id: ${id}`];
  let host: string | undefined = 'app.test';
  const h = rnd();
  if (h < 0.03) host = undefined;
  else if (h < 0.06) lines.push('Host: app.test', 'Host: other.test');
  else if (h < 0.08) host = '';
  else if (h < 0.1) host = 'user@evil.test';
  else if (h < 0.12) host = 'app.test:8080';
  if (host !== undefined) lines.push(`Host: ${host}`);
  if (key !== 'anonymous') lines.push(gate.ids[key].trimEnd());
  for (let n = chance(0.5) ? 1 + Math.floor(rnd() * 3) : 0; n > 0; n--) lines.push(`${pick(STRIPPED)}: forged-${i}`);
  const headerMutated = chance(0.06);
  if (headerMutated) {
    const m = pick([
      'X-A : 1',
      'X_A: 1',
      'X-A: 1\r\n  folded',
      'X-A: 1\r2',
      'X-A: 1\u00002',
      ': 1',
      'X-A 1',
      `X-Big: ${'b'.repeat(17000)}`,
      ...Array(1).fill(Array.from({ length: 45 }, (_, k) => `X-H${k}: v`).join('\r\n')),
    ]);
    lines.splice(1 + Math.floor(rnd() * lines.length), 0, m);
  }
  let body: string | undefined;
  let tail = '';
  const f = rnd();
  const payload = 'x'.repeat(1 + Math.floor(rnd() * 20));
  if (f < 0.25) {
    body = payload;
    lines.push(`Content-Length: ${payload.length}`);
    tail = payload;
  } else if (f < 0.45) {
    const [hdr, data] = pick<readonly [string, string]>([
      [`Content-Length: ${payload.length}\r\nContent-Length: ${payload.length + 1}`, payload],
      [`Content-Length: ${payload.length}\r\nContent-Length: ${payload.length}`, payload],
      [`Content-Length: ${payload.length}\r\nTransfer-Encoding: chunked`, `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`],
      ['Transfer-Encoding: chunked', `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`],
      ['Transfer-Encoding: chunked', ` ${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`],
      ['Transfer-Encoding: chunked', `${payload.length.toString(16)}\r\n${payload}!!\r\n0\r\n\r\n`],
      ['Transfer-Encoding: chunked', `${payload.length.toString(16)};x=1\r\n${payload}\r\n0\r\n\r\n`],
      ['Transfer-Encoding: xchunked', `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`],
      ['Transfer-Encoding: chunked, gzip', `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`],
      ['Transfer-Encoding: gzip, chunked', `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`],
      ['Transfer-Encoding: identity', payload],
      ['Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked', `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`],
      [`Content-Length: -${payload.length}`, payload],
      [`Content-Length: +${payload.length}`, payload],
      [`Content-Length: ${payload.length}a`, payload],
      [`Content-Length: ${payload.length - 1}`, payload],
      ['Content-Length: 5000', payload],
    ]);
    lines.push(hdr);
    tail = data;
  }
  const canary = chance(0.15) ? `${id}-canary` : undefined;
  const bytes =
    `${method} ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${tail}` +
    (canary ? `GET /pub/canary HTTP/1.1\r\nHost: app.test\r\nX-Request-Id: ${canary}\r\n\r\n` : '');
  return { id, bytes, method, target, host, key, body, canary, headerMutated };
}

interface Response {
  status: number;
  closing: boolean;
  refusal: boolean;
}

/** Parse whole responses off the front of `buf`; returns them and the rest. */
function parseResponses(buf: string, heads: boolean[]): { responses: Response[]; rest: string } {
  const responses: Response[] = [];
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = buf.slice(0, end);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    const cl = /\r\ncontent-length: (\d+)/i.exec(head);
    const isHead = heads[responses.length] === true;
    const len = isHead || !cl ? 0 : Number(cl[1]);
    if (buf.length < end + 4 + len) break;
    const body = buf.slice(end + 4, end + 4 + len);
    responses.push({ status, closing: /\r\nconnection: close/i.test(head), refusal: /"code":"ARGUS_/.test(body) || (isHead && status >= 400) });
    buf = buf.slice(end + 4 + len);
  }
  return { responses, rest: buf };
}

interface Outcome {
  readonly req: Req;
  readonly responses: Response[];
  readonly timedOut: boolean;
}

interface Conn {
  readonly socket: net.Socket;
  buf: string;
  closed: boolean;
  wake: (() => void) | undefined;
}

function connect(port: number): Promise<Conn> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const c: Conn = { socket, buf: '', closed: false, wake: undefined };
    socket.on('connect', () => resolve(c));
    socket.on('data', (d) => {
      c.buf += d.toString('latin1');
      c.wake?.();
    });
    const gone = () => {
      c.closed = true;
      c.wake?.();
      resolve(c);
    };
    socket.on('close', gone);
    socket.on('error', gone);
  });
}

/** Wait for `cond`, a state change of `c`, or the deadline. */
async function waitOn(c: Conn, deadline: number): Promise<void> {
  const left = deadline - Date.now();
  if (left <= 0) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, left);
    c.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
  c.wake = undefined;
}

/** One connection at a time per worker, reused while it stays open; each request waits for its answer(s). */
async function runWorker(port: number, reqs: Req[], outcomes: Outcome[]): Promise<void> {
  let c: Conn | undefined;
  for (const req of reqs) {
    if (!c || c.closed) c = await connect(port);
    const heads = [req.method === 'HEAD', false];
    const want = req.canary ? 2 : 1;
    c.socket.write(req.bytes, 'latin1');
    let parsed = parseResponses(c.buf, heads);
    const deadline = Date.now() + WAIT_MS;
    while (parsed.responses.length < want && !c.closed && !parsed.responses.some((r) => r.closing) && Date.now() < deadline) {
      await waitOn(c, deadline);
      parsed = parseResponses(c.buf, heads);
    }
    const timedOut = parsed.responses.length < want && !c.closed && !parsed.responses.some((r) => r.closing);
    if (parsed.responses.some((r) => r.closing)) {
      // After a closing answer the server must close: give it the rest of the wait to do so.
      const until = Date.now() + WAIT_MS;
      while (!c.closed && Date.now() < until) await waitOn(c, until);
      parsed = parseResponses(c.buf, heads);
    }
    outcomes.push({ req, responses: parsed.responses, timedOut });
    // Anything unanswered, extra or unparsed: start clean on a new connection.
    if (timedOut || parsed.rest !== '' || parsed.responses.length !== want || parsed.responses.some((r) => r.closing)) {
      c.socket.destroy();
      c = undefined;
    } else c.buf = parsed.rest;
  }
  c?.socket.destroy();
}

/** Does the upstream's request match what the sidecar had to judge from `req`? Returns a complaint or null. */
function judge(req: Req, seen: RawSeen): string | null {
  const q = req.target.indexOf('?');
  const rawPath = q < 0 ? req.target : req.target.slice(0, q);
  const query = q < 0 ? '' : req.target.slice(q + 1);
  const norm = normalisePath(rawPath, { mergeSlashes: true });
  if (typeof norm !== 'string') return `forwarded a path the sidecar refuses (${norm.code})`;
  const expectTarget = query ? `${norm}?${query}` : norm;
  if (seen.target !== expectTarget) return `upstream target ${JSON.stringify(seen.target)} != judged ${JSON.stringify(expectTarget)}`;
  if (/\/\/|\/\.\.?(\/|$)|%2f|%5c|[;\\\u0000-\u001f\u007f]/i.test(norm)) return `forwarded path is not normal: ${norm}`;
  if (seen.method !== req.method.toUpperCase()) return `method ${seen.method} != ${req.method}`;
  if (seen.method === 'TRACE' || seen.method === 'CONNECT') return `${seen.method} forwarded`;
  for (const [name, value] of Object.entries(seen.headers)) if (value.includes('forged')) return `forged header ${name} reached the upstream`;
  const user = seen.headers['x-argus-user-id'];
  const expectUser = req.key === 'admin' ? 'u_admin' : req.key === 'user' ? 'u_user' : undefined;
  if (user !== undefined && user !== expectUser) return `identity ${user} but the client sent ${req.key}`;
  if ((norm === '/admin' || norm.startsWith('/admin/')) && (seen.headers['x-argus-role'] !== 'admin' || req.key !== 'admin'))
    return `/admin served to ${req.key}`;
  if (seen.headers['x-forwarded-for'] !== '127.0.0.1') return `x-forwarded-for ${seen.headers['x-forwarded-for']}`;
  if (req.host !== undefined && seen.headers['x-forwarded-host'] !== req.host)
    return `x-forwarded-host ${seen.headers['x-forwarded-host']} != Host ${req.host}`;
  if (req.body !== undefined && !req.headerMutated && seen.body.toString('latin1') !== req.body)
    return `body ${JSON.stringify(seen.body.toString('latin1'))} != ${JSON.stringify(req.body)}`;
  return null;
}

describe(`request head fuzz (GATE_FUZZ_SEED=${SEED}, ${N} requests)`, () => {
  let gate: Gate;
  before(async () => {
    process.stdout.write(`# gate fuzz seed: GATE_FUZZ_SEED=${SEED}\n`);
    gate = await startGate({ server: { max_body_bytes: 1000 } });
  });
  after(() => gate.close());

  it('the upstream sees nothing, or exactly the request the sidecar judged', async () => {
    const reqs = Array.from({ length: N }, (_, i) => makeRequest(i, gate));
    const outcomes: Outcome[] = [];
    const per = Math.ceil(N / WORKERS);
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => runWorker(gate.proxy.port, reqs.slice(w * per, (w + 1) * per), outcomes)));
    // Let forwarded requests land (the upstream records on arrival).
    await new Promise((r) => setTimeout(r, 300));
    const byId = new Map<string, RawSeen[]>();
    for (const s of gate.up.seen) {
      const id = s.headers['x-request-id'] ?? '';
      byId.set(id, [...(byId.get(id) ?? []), s]);
    }
    const failures: string[] = [];
    const stats = { served: 0, refused: 0, closing: 0, unanswered: 0, canaries: 0 };
    for (const { req, responses, timedOut } of outcomes) {
      const fail = (why: string) => failures.push(`#${req.id}: ${why}\n    ${JSON.stringify(req.bytes.slice(0, 400))}`);
      const seen = byId.get(req.id) ?? [];
      if (seen.length > 1) fail(`upstream saw it ${seen.length} times`);
      for (const s of seen) {
        const complaint = judge(req, s);
        if (complaint) fail(complaint);
      }
      const first = responses[0];
      if (!first) {
        stats.unanswered++;
        if (!timedOut && seen.length > 0) fail('forwarded, yet the client got no answer and the connection closed');
      } else if (first.refusal) {
        stats.refused++;
        if (seen.length > 0) fail(`refused with ${first.status}, yet forwarded`);
      } else if (first.status === 200) {
        stats.served++;
        if (seen.length !== 1) fail('answered 200 without reaching the upstream');
      }
      if (first?.closing) {
        stats.closing++;
        if (responses.length > 1) fail(`answered ${responses.length} responses on a connection refused with close`);
      }
      if (req.canary) {
        const canarySeen = (byId.get(req.canary) ?? []).length > 0;
        if (canarySeen) stats.canaries++;
        if (canarySeen && (first === undefined || first.closing || (first.refusal && first.closing)))
          fail('the canary behind a closing refusal (or an unanswered request) reached the upstream');
        if (canarySeen && responses.length < 2 && !timedOut) fail('the canary reached the upstream but was not answered');
      }
    }
    process.stdout.write(`# gate fuzz: ${JSON.stringify(stats)}\n`);
    assert.equal(outcomes.length, N);
    assert.deepEqual(failures.slice(0, 20), [], `seed ${SEED}: ${failures.length} failures`);
    // The mix exercises every branch.
    assert.ok(stats.served > N / 20 && stats.refused > N / 20 && stats.closing > N / 50, JSON.stringify(stats));
  });
});
