/**
 * Route policy and the forwarded path are the same path: every spelling of a path
 * is normalised once (src/server/path.ts), and the normalised path is what the
 * route table judges and what the upstream receives, byte for byte. Spellings that
 * cannot be normalised safely are 400 with a stable code and reach nothing.
 *
 * Table: path spellings × {anonymous, non-admin key, admin key} against `/pub/*`
 * (auth none) and `/admin/*` (role admin); the upstream records its request line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGate, type Gate } from './support/gate.js';
import { rawRequest } from './support/raw.js';

type Expect = string | { code: string };
/** [target as sent, the normalised target the upstream must see, or the refusal]. */
const TABLE: Array<[string, Expect]> = [
  ['/pub/x', '/pub/x'],
  ['/pub/../admin/x', '/admin/x'],
  ['/pub/%2e%2e/admin/x', '/admin/x'],
  ['/pub/%2E%2E/admin/x', '/admin/x'],
  ['/pub/.%2e/admin/x', '/admin/x'],
  ['/pub/%2E./admin/x', '/admin/x'],
  ['/pub/a/%2e%2e/%2e%2e/admin/z', '/admin/z'],
  ['/pub/x/../../admin/y', '/admin/y'],
  ['/pub/..%2fadmin/x', { code: 'ARGUS_PATH_ESCAPED_SLASH' }],
  ['/pub/..%2Fadmin/x', { code: 'ARGUS_PATH_ESCAPED_SLASH' }],
  ['/pub/..%5cadmin/x', { code: 'ARGUS_PATH_ESCAPED_SLASH' }],
  ['/pub/..%5Cadmin/x', { code: 'ARGUS_PATH_ESCAPED_SLASH' }],
  ['/pub%2fadmin', { code: 'ARGUS_PATH_ESCAPED_SLASH' }],
  ['/admin%2fx', { code: 'ARGUS_PATH_ESCAPED_SLASH' }],
  ['/admin%5cx', { code: 'ARGUS_PATH_ESCAPED_SLASH' }],
  ['/pub/..;/admin/x', { code: 'ARGUS_PATH_PARAMETER' }],
  ['/admin;x', { code: 'ARGUS_PATH_PARAMETER' }],
  ['/admin/x;jsessionid=1', { code: 'ARGUS_PATH_PARAMETER' }],
  ['/pub/..\\admin/x', { code: 'ARGUS_PATH_BACKSLASH' }],
  ['/pub\\x', { code: 'ARGUS_PATH_BACKSLASH' }],
  ['/admin%00', { code: 'ARGUS_PATH_CONTROL_CHAR' }],
  ['/pub/..%00/admin', { code: 'ARGUS_PATH_CONTROL_CHAR' }],
  ['/admin/%09', { code: 'ARGUS_PATH_CONTROL_CHAR' }],
  ['/pub/%0d%0aX-Injected:%201', { code: 'ARGUS_PATH_CONTROL_CHAR' }],
  ['/admin/%7f', { code: 'ARGUS_PATH_CONTROL_CHAR' }],
  ['/..', { code: 'ARGUS_PATH_ABOVE_ROOT' }],
  ['/pub/../../admin', { code: 'ARGUS_PATH_ABOVE_ROOT' }],
  ['/%2e%2e/admin', { code: 'ARGUS_PATH_ABOVE_ROOT' }],
  ['/pub/%zz', { code: 'ARGUS_PATH_INVALID_ENCODING' }],
  ['/pub/%2', { code: 'ARGUS_PATH_INVALID_ENCODING' }],
  ['/pub/%', { code: 'ARGUS_PATH_INVALID_ENCODING' }],
  ['/pub/x#frag', { code: 'ARGUS_PATH_INVALID' }],
  ['//admin/x', '/admin/x'],
  ['///admin//x', '/admin/x'],
  ['/pub//x', '/pub/x'],
  ['/ADMIN/x', { code: 'ARGUS_NOT_FOUND' }],
  ['/Admin/x', { code: 'ARGUS_NOT_FOUND' }],
  ['/%41DMIN/x', { code: 'ARGUS_NOT_FOUND' }],
  ['/%61dmin/x', '/admin/x'],
  ['/%61%64%6d%69%6e/x', '/admin/x'],
  ['/admin/./x', '/admin/x'],
  ['/admin/x/..', '/admin/'],
  ['/admin', '/admin'],
  ['/administrator', { code: 'ARGUS_NOT_FOUND' }],
  ['/pub/./x', '/pub/x'],
  ['/pub/.', '/pub/'],
  ['/pub/%2e', '/pub/'],
  ['/pub', '/pub'],
  ['/pub/x?a=../admin', '/pub/x?a=../admin'],
  ['/pub/x?%2f=..%5c', '/pub/x?%2f=..%5c'],
  ['/admin/x?/pub/', '/admin/x?/pub/'],
  ['/pub/%7euser', '/pub/~user'],
  ['/pub/a%20b', '/pub/a%20b'],
  ['/pub/a%3bb', '/pub/a%3Bb'],
  ['/pub/%252e%252e/admin', '/pub/%252e%252e/admin'],
  ['/pub/%c3%a9', '/pub/%C3%A9'],
  ['/pub/file.json', '/pub/file.json'],
  ['/pub/.well-known/x', '/pub/.well-known/x'],
];

const IDS = ['anonymous', 'user', 'admin'] as const;

/** What each identity must get for a normalised path. */
function expected(norm: Expect, id: (typeof IDS)[number]): { status: number; code?: string; upstream?: string } {
  if (typeof norm !== 'string') return { status: norm.code === 'ARGUS_NOT_FOUND' ? 404 : 400, code: norm.code };
  const path = norm.split('?')[0]!;
  if (path === '/pub' || path.startsWith('/pub/')) return { status: 200, upstream: norm };
  if (path === '/admin' || path.startsWith('/admin/')) {
    if (id === 'anonymous') return { status: 401, code: 'ARGUS_UNAUTHENTICATED' };
    if (id === 'user') return { status: 403, code: 'ARGUS_ROLE_REQUIRED' };
    return { status: 200, upstream: norm };
  }
  return { status: 404, code: 'ARGUS_NOT_FOUND' };
}

describe('path policy: the judged path is the forwarded path', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate();
  });
  after(() => gate.close());

  it(`has at least 40 spellings (${TABLE.length})`, () => assert.ok(TABLE.length >= 40));

  for (const [target, norm] of TABLE) {
    for (const id of IDS) {
      const want = expected(norm, id);
      const label = JSON.stringify(target);
      it(`${label} as ${id}: ${want.status}${want.upstream ? ` → upstream ${want.upstream}` : want.code ? ` ${want.code}, upstream untouched` : ''}`, async () => {
        const rid = `row-${Math.random().toString(36).slice(2)}`;
        const r = await rawRequest(
          gate.proxy.port,
          `GET ${target} HTTP/1.1\r\nHost: app.test\r\nX-Request-Id: ${rid}\r\n${gate.ids[id]}Connection: close\r\n\r\n`,
        );
        assert.equal(r.status, want.status, r.response.slice(0, 300));
        if (want.code) assert.match(r.response, new RegExp(`"code":"${want.code}"`));
        const seen = gate.up.seen.filter((s) => s.headers['x-request-id'] === rid);
        if (want.upstream) {
          assert.equal(seen.length, 1, 'upstream saw the request once');
          assert.equal(seen[0]!.requestLine, `GET ${want.upstream} HTTP/1.1`);
        } else assert.equal(seen.length, 0, `upstream must see nothing, saw ${seen[0]?.requestLine}`);
      });
    }
  }

  it('X-Original-URL, X-Rewrite-URL and X-Forwarded-Uri never influence routing (and are not forwarded)', async () => {
    const rid = `hdr-${Math.random().toString(36).slice(2)}`;
    const r = await rawRequest(
      gate.proxy.port,
      `GET /pub/x HTTP/1.1\r\nHost: app.test\r\nX-Request-Id: ${rid}\r\nX-Original-URL: /admin/x\r\nX-Rewrite-URL: /admin/x\r\nX-Forwarded-Uri: /admin/x\r\nX-Forwarded-Prefix: /admin\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 200);
    const seen = gate.up.seen.find((s) => s.headers['x-request-id'] === rid)!;
    assert.equal(seen.requestLine, 'GET /pub/x HTTP/1.1');
    for (const h of ['x-original-url', 'x-rewrite-url', 'x-forwarded-uri', 'x-forwarded-prefix']) assert.equal(seen.headers[h], undefined, `${h} forwarded`);
    const admin = await rawRequest(
      gate.proxy.port,
      `GET /admin/x HTTP/1.1\r\nHost: app.test\r\nX-Original-URL: /pub/x\r\nX-Rewrite-URL: /pub/x\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(admin.status, 401);
  });
});

describe('path options: case-insensitive routes and merge_slashes', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate({
      server: { merge_slashes: false },
      routes: [
        { path: '/CI/*', auth: 'none', case_insensitive: true },
        { path: '/pub/*', auth: 'none' },
        { path: '/admin/*', auth: 'required', role: 'admin' },
      ],
    });
  });
  after(() => gate.close());

  const send = async (target: string) => {
    const rid = `opt-${Math.random().toString(36).slice(2)}`;
    const r = await rawRequest(gate.proxy.port, `GET ${target} HTTP/1.1\r\nHost: app.test\r\nX-Request-Id: ${rid}\r\nConnection: close\r\n\r\n`);
    return { status: r.status, seen: gate.up.seen.filter((s) => s.headers['x-request-id'] === rid).map((s) => s.target) };
  };

  it('a case_insensitive route matches any case and forwards the lower-cased path', async () => {
    assert.deepEqual(await send('/ci/Foo/BAR?Q=1'), { status: 200, seen: ['/ci/foo/bar?Q=1'] });
    assert.deepEqual(await send('/Ci/%41'), { status: 200, seen: ['/ci/a'] });
  });
  it('other routes stay case-sensitive', async () => {
    assert.deepEqual(await send('/PUB/x'), { status: 404, seen: [] });
  });
  it('merge_slashes: false keeps empty segments (and "//admin" matches no route)', async () => {
    assert.deepEqual(await send('/pub//x'), { status: 200, seen: ['/pub//x'] });
    assert.deepEqual(await send('//admin/x'), { status: 404, seen: [] });
    assert.deepEqual(await send('/pub//../x'), { status: 200, seen: ['/pub/x'] });
  });
});

describe('WebSocket upgrades are routed by the same normalised path', () => {
  let gate: Gate;
  before(async () => {
    gate = await startGate({
      routes: [
        { path: '/ws/*', auth: 'none', websocket: {} },
        { path: '/wsadmin/*', auth: 'required', role: 'admin', websocket: {} },
      ],
    });
  });
  after(() => gate.close());

  const upgrade = (target: string) =>
    rawRequest(
      gate.proxy.port,
      `GET ${target} HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );

  for (const target of ['/ws/../wsadmin/x', '/ws/%2e%2e/wsadmin/x', '//wsadmin/x', '/%77sadmin/x']) {
    it(`${target}: judged as /wsadmin/x (401 anonymous), nothing reaches the upstream`, async () => {
      const before = gate.up.seen.length;
      const r = await upgrade(target);
      assert.equal(r.status, 401, r.response.slice(0, 200));
      assert.equal(gate.up.seen.length, before);
    });
  }
  for (const [target, code] of [
    ['/ws/..%2fwsadmin/x', 'ARGUS_PATH_ESCAPED_SLASH'],
    ['/ws/..;/wsadmin/x', 'ARGUS_PATH_PARAMETER'],
    ['/ws/../../wsadmin', 'ARGUS_PATH_ABOVE_ROOT'],
  ] as const) {
    it(`${target}: 400 ${code}`, async () => {
      const r = await upgrade(target);
      assert.equal(r.status, 400);
      assert.match(r.response, new RegExp(code));
    });
  }
});
