/**
 * Acceptance (issue 25): the usage loop is closed. u1 checks out (the control
 * process binds its Stripe customer), then a month of u1's usage recorded
 * through `POST /v1/usage/events` (request, llm and trading events, one batch
 * per day) goes through the control process's spool, BullMQ and a spawned
 * `argus-sidecar worker` into the ledger, and reaches the Stripe stand-in's
 * meter events for u1's customer with Σ per meter equal to the ledger's Σ. A
 * retried batch (same ids) is not counted twice. Recording needs role admin or
 * scope `argus:usage:write`; an event that names an org's API key (`key_id`)
 * is billed to the org's customer, and a key of another user is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBillingEnv, type BillingEnv } from './support/billing-env.js';
import { writeRaw } from './support/control.js';
import { rand, spawnWorker, tempDir, waitFor, type WorkerProcess } from './support/meter-env.js';

const meters = { request: 'argus_requests', llm: 'argus_llm_tokens', trading: 'argus_trading' };

describe('a month of usage reaches Stripe for the customer checkout bound', () => {
  let b: BillingEnv;
  let worker: WorkerProcess;
  const tmp = tempDir();
  before(async () => {
    const metering = {
      enabled: true,
      queue: `usage-${rand()}`,
      spool_dir: tmp.dir,
      flush_interval_ms: 5,
      worker: { admin: { host: '127.0.0.1', port: 0 } },
    };
    b = await startBillingEnv({ extra: { metering }, stripeExtra: { meters, window_s: 3600, settle_s: 0, interval_ms: 100 } });
    worker = spawnWorker(writeRaw(b.env.raw));
    await worker.started;
  });
  after(async () => {
    worker?.proc.kill('SIGTERM');
    await worker?.exited;
    await b?.stop();
    tmp.remove();
  });

  it('Σ meter events for u1’s customer = Σ ledger, per meter', async () => {
    assert.equal((await b.env.api('POST', '/v1/users', { body: { user_id: 'u1', tier: 'explorer' } })).status, 201);
    const key = (await b.env.api('POST', '/v1/users/u1/keys', { body: {} })).body.key as string;
    const co = await b.env.api('POST', '/v1/billing/checkout', {
      key,
      body: { plan: 'explorer', success_url: 'https://app.example/ok', cancel_url: 'https://app.example/no' },
    });
    assert.equal(co.status, 201);
    const customer = co.body.stripe_customer as string;

    // 30 days back from two hours ago (Stripe takes the past 35 days; every hour window is closed).
    const end = Date.now() - 2 * 3600_000;
    for (let day = 0; day < 30; day++) {
      const at = end - day * 86_400_000;
      const events = [
        { id: `d${day}-r`, kind: 'request', user_id: 'u1', quantity: 1 + (day % 4), occurred_at: at },
        { id: `d${day}-l`, kind: 'llm', user_id: 'u1', input_tokens: 100 + day, output_tokens: 20, provider: 'openai', model: 'gpt-4o-mini', occurred_at: at },
        {
          id: `d${day}-t`,
          kind: 'trading',
          user_id: 'u1',
          exchange: 'binance',
          symbol: 'BTCUSDT',
          quantity: 2,
          value_usd: 100,
          occurred_at: new Date(at).toISOString(),
        },
      ];
      const r = await b.env.api('POST', '/v1/usage/events', { body: { events } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      if (day === 7)
        assert.deepEqual((await b.env.api('POST', '/v1/usage/events', { body: { events } })).body.event_ids, r.body.event_ids, 'a retry: the same ids');
    }

    const ledger = async () =>
      new Map(
        (
          await b.env.db.pool.query<{ kind: string; n: string; q: string }>(
            "SELECT kind, count(*) AS n, sum(quantity) AS q FROM usage_events WHERE user_id = 'u1' GROUP BY kind",
          )
        ).rows.map((r) => [r.kind, { n: Number(r.n), q: Number(r.q) }]),
      );
    await waitFor('90 ledger rows', async () => [...(await ledger()).values()].reduce((s, x) => s + x.n, 0) === 90, 60000).catch((err: Error) => {
      throw new Error(`${err.message}\nworker: ${worker.stderr().slice(-2000)}\ncontrol: ${b.env.proc.logs.slice(-20).join('\n')}`);
    });
    const sums = await ledger();
    assert.deepEqual([sums.get('request')?.n, sums.get('llm')?.n, sums.get('trading')?.n], [30, 30, 30]);
    await waitFor(
      'Stripe totals equal to the ledger',
      () => {
        const t = b.stripe.totals();
        return (Object.entries(meters) as Array<[string, string]>).every(([kind, meter]) => t.get(`${meter}/${customer}`) === sums.get(kind)?.q);
      },
      60000,
      100,
    );
    const t = b.stripe.totals();
    assert.equal(t.get(`${meters.request}/${customer}`), 73);
    assert.equal(t.get(`${meters.llm}/${customer}`), 30 * 120 + 435);
    assert.equal(t.get(`${meters.trading}/${customer}`), 60);
    assert.deepEqual(b.stripe.rejectedValues, []);
  });
  it("scope argus:usage:write records; an org key's events go to the org's customer", async () => {
    for (const id of ['svc', 'ow']) assert.equal((await b.env.api('POST', '/v1/users', { body: { user_id: id, tier: 'explorer' } })).status, 201);
    const svc = (await b.env.api('POST', '/v1/users/svc/keys', { body: { scopes: ['argus:usage:write'] } })).body.key as string;
    const own = (await b.env.api('POST', '/v1/users/ow/keys', { body: {} })).body;
    assert.equal((await b.env.api('POST', '/v1/orgs', { key: own.key, body: { org_id: 'o9', name: 'Org Nine' } })).status, 201);
    const orgKeyId = (await b.env.api('POST', '/v1/users/ow/keys', { key: own.key, body: { org_id: 'o9' } })).body.api_key.key_id as string;
    const orgCustomer = await b.bindCustomer({ org_id: 'o9' });
    const at = Date.now() - 2 * 3600_000;
    const event = (id: string, key_id: string, quantity: number) => ({ id, kind: 'request', user_id: 'ow', key_id, quantity, occurred_at: at });

    const denied = await b.env.api('POST', '/v1/usage/events', { key: own.key, body: { events: [event('x', orgKeyId, 1)] } });
    assert.deepEqual([denied.status, denied.body.error.code], [403, 'ARGUS_FORBIDDEN']);
    const foreign = await b.env.api('POST', '/v1/usage/events', {
      key: svc,
      body: { events: [event('y', own.api_key.key_id, 1), { ...event('z', orgKeyId, 1), user_id: 'u1' }] },
    });
    assert.deepEqual([foreign.status, foreign.body.error.code], [400, 'ARGUS_INVALID_REQUEST'], "u1's event names ow's org key");
    const r = await b.env.api('POST', '/v1/usage/events', {
      key: svc,
      body: { events: [event('o-1', orgKeyId, 5), event('o-2', orgKeyId, 6), event('own-1', own.api_key.key_id, 7)] },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const reported = async () =>
      (await b.env.db.pool.query("SELECT count(*)::int AS n FROM usage_events WHERE user_id = 'ow' AND reported_at IS NOT NULL")).rows[0].n === 2;
    // Stripe accepts before the worker marks the rows: wait for both.
    await waitFor('the org billed 11', async () => b.stripe.totals().get(`${meters.request}/${orgCustomer}`) === 11 && (await reported()), 60000, 100).catch(
      (err: Error) => {
        throw new Error(`${err.message}\nworker: ${worker.stderr().slice(-2000)}`);
      },
    );
    const rows = await b.env.db.pool.query("SELECT request_id, org_id, reported_at IS NOT NULL AS reported FROM usage_events WHERE user_id = 'ow' ORDER BY 1");
    assert.deepEqual(
      rows.rows.map((x) => ({ ...x })),
      [
        { request_id: 'o-1', org_id: 'o9', reported: true },
        { request_id: 'o-2', org_id: 'o9', reported: true },
        { request_id: 'own-1', org_id: null, reported: false },
      ],
      "ow's own usage waits for ow's own customer",
    );
  });
});
