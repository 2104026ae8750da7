/**
 * Seeded fuzz of WebSocket handshakes against the real sidecar: valid upgrades
 * mutated in method, Upgrade, Connection, key, version, Origin and subprotocols.
 * Every answer is 101 exactly when the handshake is valid (RFC 6455 §4.2.1, the
 * route's Origin policy) and 400/403/426 otherwise; the recording upstream sees
 * exactly the valid ones, and never a refused one as plain HTTP.
 * FUZZ_SEED=… replays a run.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { prng } from './support/prng.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { waitFor } from './support/raw.js';
import { rawWs, startWsUpstream, type WsUpstream } from './support/ws-upstream.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20_2612);
const CASES = 400;

type Headers = Array<[string, string]>;

function mutate(rand: () => number, i: number): { method: string; path: string; headers: Headers; valid: boolean } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const key16 = randomBytes(16).toString('base64');
  let method = 'GET';
  let upgrade: string | null = 'websocket';
  let connection: string | null = 'Upgrade';
  let keys: string[] = [key16];
  let version: string | null = '13';
  let origin: string | null = null;
  let protocol: string | null = null;
  const n = 1 + Math.floor(rand() * 3);
  for (let m = 0; m < n; m++) {
    switch (Math.floor(rand() * 7)) {
      case 0:
        method = pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
        break;
      case 1:
        upgrade = pick(['websocket', 'WebSocket', 'WEBSOCKET', 'h2c', 'websocket, h2c', 'h2c, websocket', 'websockets', null]);
        break;
      case 2:
        connection = pick(['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'Upgrade, keep-alive', 'keep-alive', 'close', 'upgrades', null]);
        break;
      case 3:
        keys = pick([
          [key16],
          [],
          [randomBytes(8).toString('base64')],
          [randomBytes(18).toString('base64')],
          [randomBytes(15).toString('base64')],
          ['!!!!!!!!!!!!!!!!!!!!!!=='],
          [key16, randomBytes(16).toString('base64')],
          [key16.slice(0, 21) + 'B=='],
        ]);
        break;
      case 4:
        version = pick(['13', '8', '12', '14', '13, 8', 'x', null]);
        break;
      case 5:
        origin = pick([null, 'http://sidecar.test', 'https://sidecar.test', 'https://evil.test', 'null', 'https://sidecar.test.evil.test']);
        break;
      default:
        protocol = pick([null, 'a', 'a, b', 'chat.v1,chat.v2', 'a b', 'a;b']);
    }
  }
  const headers: Headers = [['host', 'sidecar.test']];
  if (upgrade !== null) headers.push(['upgrade', upgrade]);
  if (connection !== null) headers.push(['connection', connection]);
  for (const k of keys) headers.push(['sec-websocket-key', k]);
  if (version !== null) headers.push(['sec-websocket-version', version]);
  if (origin !== null) headers.push(['origin', origin]);
  if (protocol !== null) headers.push(['sec-websocket-protocol', protocol]);
  const tokens = (v: string | null) => (v ?? '').split(',').map((t) => t.trim().toLowerCase());
  const valid =
    method === 'GET' &&
    tokens(upgrade).includes('websocket') &&
    tokens(connection).includes('upgrade') &&
    keys.length === 1 &&
    Buffer.from(keys[0]!, 'base64').length === 16 &&
    /^[A-Za-z0-9+/]{22}==$/.test(keys[0]!) &&
    Buffer.from(keys[0]!, 'base64').toString('base64') === keys[0] &&
    version === '13' &&
    (origin === null || /^https?:\/\/sidecar\.test$/.test(origin)) &&
    (protocol === null || protocol.split(',').every((p) => /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/.test(p.trim())));
  return { method, path: `/ws/f${i}`, headers, valid };
}

describe(`WebSocket handshake fuzz (seed ${SEED}, ${CASES} cases)`, () => {
  let up: WsUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startWsUpstream();
    proxy = await startTestProxy({ upstream: { url: up.url }, routes: [{ path: '/ws/*', auth: 'none', websocket: {} }] });
  });
  after(async () => {
    await proxy.stop();
    await up.close();
  });

  it('answers 101 exactly to the valid handshakes, and only they reach the upstream', async () => {
    const rand = prng(SEED);
    const valid: string[] = [];
    const wrong: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const c = mutate(rand, i);
      const req = `${c.method} ${c.path} HTTP/1.1\r\n${c.headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
      const ws = await rawWs(proxy.port, req);
      const status = ws.status();
      ws.destroy();
      if (c.valid) valid.push(c.path);
      if (c.valid ? status !== 101 : ![400, 403, 426].includes(status)) wrong.push(`case ${i}: ${status} for ${JSON.stringify(c)}`);
    }
    assert.deepEqual(wrong, [], `seed ${SEED}`);
    assert.ok(valid.length > 20 && valid.length < CASES - 20, `the mix has both kinds (${valid.length} valid)`);
    await waitFor(() => up.upgrades.length >= valid.length, 10000, 'the valid upgrades upstream');
    assert.deepEqual(up.upgrades.map((u) => u.url).sort(), valid.sort());
    assert.equal(up.plain.length, 0, 'no handshake reached the upstream as plain HTTP');
  });
});
