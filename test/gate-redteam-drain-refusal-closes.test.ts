/**
 * During a drain every response says `Connection: close`; a refusal answered then
 * really ends the connection (RFC 9112 §9.6: no further request is processed), so
 * a request pipelined behind it is never routed or forwarded. Before, the refusal
 * said close and the pipelined canary was still served (`[404, 200]`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGate, type Gate } from './support/gate.js';
import { rawRequest } from './support/raw.js';

describe('drain: a refusal that says Connection: close is the last answer on its connection', () => {
  let gate: Gate;
  let stopping: Promise<unknown>;
  before(async () => {
    gate = await startGate();
    // A long drain delay: the sidecar keeps serving (with Connection: close) while the cases run.
    stopping = gate.proxy.stop({ delayMs: 20_000, deadline: Date.now() + 25_000 });
  });
  after(async () => {
    await stopping;
    await gate.up.close();
  });

  const H = 'Host: a.test\r\n';
  for (const [name, first] of [
    ['404', `GET /nope HTTP/1.1\r\n${H}\r\n`],
    ['401', `GET /admin/x HTTP/1.1\r\n${H}\r\n`],
    ['405', `TRACE /pub/x HTTP/1.1\r\n${H}\r\n`],
    // HEAD refusals have no body to pad past uWS's cork buffer: the address is held instead.
    ['HEAD 404', `HEAD /nope HTTP/1.1\r\n${H}\r\n`],
    ['HEAD 401', `HEAD /admin/x HTTP/1.1\r\n${H}\r\n`],
  ] as const) {
    const status = Number(name.replace('HEAD ', ''));
    it(`${name} then a pipelined canary: one answer, then FIN; the canary reaches nothing`, async () => {
      const canary = `/pub/canary-${name.replace(' ', '-')}`;
      const r = await rawRequest(gate.proxy.port, `${first}GET ${canary} HTTP/1.1\r\n${H}\r\n`, 3000);
      const statuses = [...r.response.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
      assert.deepEqual(statuses, [status], r.response.slice(0, 300));
      assert.match(r.response, /connection: close/i);
      assert.ok(r.closed, 'the sidecar closed the connection');
      assert.equal(
        gate.up.seen.find((s) => s.target === canary),
        undefined,
        'the canary reached the upstream',
      );
    });
  }
});
