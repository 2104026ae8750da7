/**
 * Outcome: `GET /v1/usage` aggregates the ledger (`usage_events`) by user, kind
 * and UTC day or month: event counts, summed quantity and LLM cost, filtered by
 * user, kind and time; a user reads only their own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startControlEnv, type ControlEnv } from './support/control.js';

describe('GET /v1/usage', () => {
  let env: ControlEnv;
  let u1Key: string;
  before(async () => {
    env = await startControlEnv();
    await env.api('POST', '/v1/users', { body: { user_id: 'u1' } });
    u1Key = (await env.api('POST', '/v1/users/u1/keys', { body: {} })).body.key;
    const rows: Array<[string, string, number, string, number | null]> = [
      ['u1', 'request', 1, '2026-11-30T23:59:00Z', null],
      ['u1', 'request', 1, '2026-12-01T00:00:01Z', null],
      ['u1', 'request', 1, '2026-12-01T10:00:00Z', null],
      ['u1', 'llm', 1500, '2026-12-01T11:00:00Z', 0.25],
      ['u1', 'llm', 500, '2026-12-02T11:00:00Z', 0.5],
      ['u2', 'request', 1, '2026-12-01T12:00:00Z', null],
    ];
    let n = 0;
    for (const [user, kind, quantity, at, cost] of rows) {
      await env.db.pool.query(
        `INSERT INTO usage_events (event_id, kind, user_id, service, route, request_id, quantity, occurred_at, cost_usd) VALUES ($1, $2, $3, 'sibyl', '/v1/*', $1, $4, $5, $6)`,
        [`ev${n++}`, kind, user, quantity, at, cost],
      );
    }
  });
  after(() => env?.stop());

  it('by day for one user', async () => {
    const r = await env.api('GET', '/v1/usage?user_id=u1&period=day');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.items.map((i: { kind: string; period_start: string; events: number; quantity: number; cost_usd: number | null }) => [
        i.kind,
        i.period_start.slice(0, 10),
        i.events,
        i.quantity,
        i.cost_usd,
      ]),
      [
        ['request', '2026-11-30', 1, 1, null],
        ['llm', '2026-12-01', 1, 1500, 0.25],
        ['request', '2026-12-01', 2, 2, null],
        ['llm', '2026-12-02', 1, 500, 0.5],
      ],
    );
  });

  it('by month, one kind, a time window', async () => {
    const r = await env.api('GET', '/v1/usage?user_id=u1&period=month&kind=llm&from=2026-12-01T00:00:00Z&to=2027-01-01T00:00:00Z');
    assert.deepEqual(r.body.items, [{ user_id: 'u1', kind: 'llm', period_start: '2026-12-01T00:00:00.000Z', events: 2, quantity: 2000, cost_usd: 0.75 }]);
  });

  it("a user gets their own by default and never another's", async () => {
    const mine = await env.api('GET', '/v1/usage?period=month', { key: u1Key });
    assert.ok(mine.body.items.every((i: { user_id: string }) => i.user_id === 'u1'));
    assert.equal((await env.api('GET', '/v1/usage?user_id=u2', { key: u1Key })).status, 403);
  });
});
