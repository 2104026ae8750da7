/**
 * Outcome: with `auth.session.cookie` set, the sidecar's authenticator takes a
 * session from that cookie when the request carries no other credential
 * (among other cookies, quoted or not, in a split Cookie header); a header
 * credential wins over the cookie; the cookie twice is 401
 * ARGUS_AMBIGUOUS_CREDENTIALS; a bad cookie is 401 ARGUS_INVALID_SESSION.
 * Without the key, the cookie is not a credential. A bad cookie name exits 2.
 * Fuzz: 3,000 random Cookie headers (seeded) never throw, and the parser's
 * answer equals a plain reference split.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cookieValue } from '../src/authenticate/credentials.js';
import { createAuthenticator, generateApiKey, signSession, type AuthOutcome, type Authenticator } from '../src/authenticate/index.js';
import { Metrics } from '../src/observe/metrics.js';
import { SESSION_SECRET, head, makeConfig, quietLog, testClock } from './support/auth-harness.js';
import { prng } from './support/prng.js';

describe('the session in a cookie', () => {
  const clock = testClock();
  const dir = mkdtempSync(join(tmpdir(), 'argus-cookie-'));
  const key = generateApiKey();
  const file = join(dir, 'keys.yaml');
  let withCookie: Authenticator;
  let without: Authenticator;
  let cfg: ReturnType<typeof makeConfig>;
  const session = () => signSession({ sub: 'u_cookie', sid: 's_1', iat: clock.nowS(), exp: clock.nowS() + 600 }, SESSION_SECRET);

  before(async () => {
    writeFileSync(file, `- { key_id: ${key.key_id}, sha256: ${key.sha256}, user_id: u_key, tier: explorer }\n`);
    const make = (cookie: boolean) =>
      makeConfig({ auth: { api_keys: { file }, session: { secret: SESSION_SECRET, ...(cookie && { cookie: 'argus_session' }) } }, routes: [{ path: '/*' }] });
    cfg = make(true);
    const opts = { metrics: new Metrics({ defaultMetrics: false }), log: quietLog, now: clock.now };
    withCookie = await createAuthenticator(cfg, opts);
    without = await createAuthenticator(make(false), { ...opts, metrics: new Metrics({ defaultMetrics: false }) });
  });
  after(async () => {
    await withCookie?.close();
    await without?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (a: Authenticator, headers: Array<[string, string]>) => a.authenticate(head(headers), cfg.routes[0]!);
  const user = (o: AuthOutcome) => (o.ok ? (o.ctx?.user_id ?? null) : o.denial.code);

  test('the cookie alone, among others, quoted, or in a split header → the session', async () => {
    const v = session();
    assert.equal(user(await run(withCookie, [['cookie', `argus_session=${v}`]])), 'u_cookie');
    const o = await run(withCookie, [['cookie', `theme=dark; argus_session=${v}; other=1`]]);
    assert.equal(o.ok && o.ctx?.method, 'session');
    assert.equal(o.ok && o.ctx?.session_id, 's_1');
    assert.equal(user(await run(withCookie, [['cookie', `argus_session="${v}"`]])), 'u_cookie');
    assert.equal(
      user(
        await run(withCookie, [
          ['cookie', 'theme=dark'],
          ['cookie', `argus_session=${v}`],
        ]),
      ),
      'u_cookie',
    );
  });

  test('a header credential wins over the cookie', async () => {
    assert.equal(
      user(
        await run(withCookie, [
          ['x-api-key', key.key],
          ['cookie', `argus_session=${session()}`],
        ]),
      ),
      'u_key',
    );
  });

  test('the cookie twice → 401 ambiguous; a bad one → 401 invalid session; no cookie → no credential', async () => {
    const v = session();
    assert.equal(user(await run(withCookie, [['cookie', `argus_session=${v}; argus_session=${v}`]])), 'ARGUS_AMBIGUOUS_CREDENTIALS');
    assert.equal(user(await run(withCookie, [['cookie', `argus_session=${v.slice(0, -2)}xx`]])), 'ARGUS_INVALID_SESSION');
    assert.equal(user(await run(withCookie, [['cookie', 'argus_session=']])), 'ARGUS_INVALID_SESSION');
    assert.equal(user(await run(withCookie, [['cookie', 'theme=dark']])), 'ARGUS_UNAUTHENTICATED');
  });

  test('without auth.session.cookie the cookie is no credential', async () => {
    assert.equal(user(await run(without, [['cookie', `argus_session=${session()}`]])), 'ARGUS_UNAUTHENTICATED');
  });

  test('a cookie name that is not an RFC 6265 token is a config error naming the key', () => {
    assert.throws(() => makeConfig({ auth: { session: { secret: SESSION_SECRET, cookie: 'bad name;' } } }), /auth\.session\.cookie/);
  });

  test('fuzz: random Cookie headers never throw and parse like the reference split', async () => {
    const rand = prng(26);
    const parts = [
      'argus_session',
      'argus_sessio',
      'Argus_session',
      ' argus_session',
      'x',
      '=',
      ';',
      '; ',
      '"',
      ' ',
      '\t',
      ',',
      '%3B',
      'ak_live_x',
      'eyJ.a.b',
      session(),
    ];
    for (let i = 0; i < 3000; i++) {
      let h = '';
      const n = Math.floor(rand() * 12);
      for (let j = 0; j < n; j++) h += parts[Math.floor(rand() * parts.length)];
      const got = cookieValue(h, 'argus_session');
      const pairs = h.split(';').filter((p) => p.indexOf('=') > 0 && p.slice(0, p.indexOf('=')).trim() === 'argus_session');
      if (pairs.length === 0) assert.equal(got, undefined, h);
      else if (pairs.length > 1) assert.equal(typeof got, 'symbol', h);
      else {
        const raw = (pairs[0] ?? '').slice((pairs[0] ?? '').indexOf('=') + 1).trim();
        assert.equal(got, raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw, h);
      }
      if (i % 10 === 0) {
        const o = await run(withCookie, [['cookie', h]]);
        assert.ok(o.ok || o.denial.code.startsWith('ARGUS_'), h);
      }
    }
  });
});
