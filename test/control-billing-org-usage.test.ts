/**
 * Acceptance (issue 25, usage loop for orgs) with real processes: a spawned
 * control process, a spawned `proxy` metering into BullMQ, a spawned
 * `argus-sidecar worker` (ledger and Stripe reporting, 60 s windows), the
 * Stripe stand-in.
 *
 * owner1 creates org o1 and an org API key; m1 is a member with their own key
 * and customer, owner1 has a personal customer too. Before the org has a
 * customer, the org key's usage is reported to no one (not to owner1, who
 * created the key) while m1's own usage of the same window is. The worker is
 * restarted; owner1 checks out Business for the org (signed webhook); more
 * usage. Then the org's customer has exactly the org key's requests, before and
 * after the binding; m1's customer has m1's own (key and JWT, while the org's
 * Business plan lifts m1); no identifier was sent twice across the restart.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBillingEnv, type BillingEnv } from './support/billing-env.js';
import { SESSION_SECRET, writeRaw } from './support/control.js';
import { get } from './support/http.js';
import { startIdentityUpstream, type IdentityUpstream } from './support/identity-upstream.js';
import { startJwksServer, type JwksServer } from './support/jwks-server.js';
import { rand, spawnWorker, tempDir, waitFor, type WorkerProcess } from './support/meter-env.js';
import { startCli, type StartedChild } from './support/spawn.js';

const METER = 'argus_requests';
const meters = { request: METER, llm: 'argus_llm_tokens', trading: 'argus_trading' };
const ISSUER = 'https://issuer.example';
const AUDIENCE = 'argus';
const urls = { success_url: 'https://app.example/ok', cancel_url: 'https://app.example/no' };

describe("an org key's usage reaches the org's Stripe customer", () => {
  let b: BillingEnv;
  let up: IdentityUpstream;
  let jwks: JwksServer;
  let proxy: StartedChild;
  let worker: WorkerProcess;
  let sidecar = '';
  const tmp = tempDir();

  before(async () => {
    up = await startIdentityUpstream();
    jwks = await startJwksServer();
    const metering = {
      enabled: true,
      queue: `usage-${rand()}`,
      spool_dir: join(tmp.dir, 'control'),
      flush_interval_ms: 5,
      worker: { admin: { host: '127.0.0.1', port: 0 } },
    };
    b = await startBillingEnv({ upstream: up.url, extra: { metering }, stripeExtra: { meters, window_s: 60, settle_s: 0, interval_ms: 100 } });
    const auth = { session: { secret: SESSION_SECRET }, jwt: { jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE }, cache: { ttl_ms: 60000 } };
    proxy = startCli(['proxy', '--config', writeRaw({ ...b.env.raw, auth, metering: { ...metering, spool_dir: join(tmp.dir, 'proxy') } })]);
    sidecar = `http://127.0.0.1:${(await proxy.waitForLog('proxy listening'))['port']}`;
    worker = spawnWorker(writeRaw(b.env.raw));
    await worker.started;
  });
  after(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    worker?.proc.kill('SIGTERM');
    await worker?.exited;
    await b?.stop();
    await up?.close();
    await jwks?.close();
    tmp.remove();
  });

  /** Requests answered 200 through the sidecar, per caller: what the ledger and Stripe must count. */
  const sent = { org: 0, m1: 0 };
  /** `n` requests through the sidecar as `who`, each answered 200; the last one's RateLimit-Policy. */
  async function calls(who: keyof typeof sent, n: number, headers: Record<string, string>): Promise<string> {
    let policy = '';
    for (let i = 0; i < n; i++) {
      const r = await get(`${sidecar}/v1/x`, headers);
      assert.equal(r.status, 200, r.body);
      sent[who]++;
      policy = String(r.headers['ratelimit-policy']);
    }
    return policy;
  }
  const ledger = async (where: string) =>
    (await b.env.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_events WHERE kind = 'request' AND ${where}`)).rows[0]!.n;
  const total = (customer: string) => b.stripe.totals().get(`${METER}/${customer}`);
  const diagnostics = (err: Error) => {
    throw new Error(`${err.message}\nworker: ${worker.stderr().slice(-2000)}\nstripe: ${JSON.stringify([...b.stripe.totals()])}`);
  };

  // Two 60 s Stripe windows (the shortest `stripe.window_s`) have to close in turn: about 2 minutes.
  it('before the binding: billed to no one; after: the org gets all of it once, the member their own', { timeout: 240_000 }, async () => {
    for (const id of ['owner1', 'm1']) assert.equal((await b.env.api('POST', '/v1/users', { body: { user_id: id, tier: 'explorer' } })).status, 201);
    const own1 = (await b.env.api('POST', '/v1/users/owner1/keys', { body: {} })).body.key as string;
    const m1Key = (await b.env.api('POST', '/v1/users/m1/keys', { body: {} })).body.key as string;
    assert.equal((await b.env.api('POST', '/v1/orgs', { key: own1, body: { org_id: 'o1', name: 'Org One' } })).status, 201);
    assert.equal((await b.env.api('POST', '/v1/orgs/o1/members', { key: own1, body: { user_id: 'm1', role: 'member' } })).status, 201);
    const orgKey = (await b.env.api('POST', '/v1/users/owner1/keys', { key: own1, body: { org_id: 'o1' } })).body.key as string;
    assert.ok(orgKey, 'an org key');
    const cusOwner1 = await b.bindCustomer({ user_id: 'owner1' });
    const cusM1 = await b.bindCustomer({ user_id: 'm1' });

    // Before the org has a customer.
    await calls('org', 4, { 'x-api-key': orgKey });
    await calls('m1', 2, { 'x-api-key': m1Key });
    await waitFor('6 ledger rows', async () => (await ledger('true')) === 6, 30000).catch(diagnostics);
    assert.equal(await ledger("org_id = 'o1' AND user_id = 'owner1'"), 4, "the org key's rows carry the org");
    // m1's window reported proves the worker went over the org's rows of the same window too.
    await waitFor("m1's first window reported", () => total(cusM1) === 2, 90000, 100).catch(diagnostics);
    assert.deepEqual([...b.stripe.totals().keys()], [`${METER}/${cusM1}`], 'nothing for owner1 (the key creator) or anyone else');
    assert.equal(await ledger("org_id = 'o1' AND reported_at IS NULL AND stripe_identifier IS NULL"), 4, 'the org rows wait, unclaimed');

    worker.proc.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
    worker = spawnWorker(writeRaw(b.env.raw));
    await worker.started;

    // The org admin checks out Business for the org; Stripe's signed webhook applies it.
    const co = await b.env.api('POST', '/v1/billing/checkout', { key: own1, body: { plan: 'business', org_id: 'o1', ...urls } });
    assert.equal(co.status, 201, JSON.stringify(co.body));
    const cusOrg = co.body.stripe_customer as string;
    assert.notEqual(cusOrg, cusOwner1);
    assert.equal((await b.stripe.billing.completeCheckout(co.body.session_id)).status, 200);
    await waitFor('the org key on business', async () => (await calls('org', 1, { 'x-api-key': orgKey })).startsWith('"business"'), 5000);
    await waitFor('m1 lifted to business', async () => (await calls('m1', 1, { 'x-api-key': m1Key })).startsWith('"business"'), 5000);

    // After the binding.
    await calls('org', 3, { 'x-api-key': orgKey });
    await calls('m1', 1, { 'x-api-key': m1Key });
    const now = Math.floor(Date.now() / 1000);
    const jwt = `Bearer ${jwks.sign({ sub: 'm1', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600 })}`;
    assert.match(await calls('m1', 1, { authorization: jwt }), /^"business"/, "m1's JWT is lifted by the org's plan too");

    const orgRows = sent.org;
    const m1Rows = sent.m1;
    await waitFor('every request in the ledger', async () => (await ledger('true')) === orgRows + m1Rows, 30000).catch(diagnostics);
    assert.deepEqual([await ledger("org_id = 'o1' AND user_id = 'owner1'"), await ledger("user_id = 'm1' AND org_id IS NULL")], [orgRows, m1Rows]);
    await waitFor(
      'the org and m1 billed for all their rows',
      // Stripe accepts before the worker marks the rows reported: wait for both.
      async () =>
        total(cusOrg) === (await ledger("org_id = 'o1'")) && total(cusM1) === (await ledger("user_id = 'm1'")) && (await ledger('reported_at IS NULL')) === 0,
      90000,
      100,
    ).catch(diagnostics);
    assert.equal(total(cusOrg), orgRows, "Σ meter events for the org's customer = the org key's requests, before and after the binding");
    assert.equal(total(cusM1), m1Rows, "m1's own credentials bill m1's customer, not the org's");
    assert.equal(total(cusOwner1), undefined, 'owner1 used only the org key: nothing billed to owner1');
    assert.equal(await ledger('reported_at IS NULL'), 0);
    assert.deepEqual(
      [...b.stripe.attempts.entries()].filter(([, n]) => n !== 1),
      [],
      'each meter event sent once, across the worker restart',
    );
    const reports = await b.env.db.pool.query<{ customer: string; v: number }>(
      'SELECT stripe_customer AS customer, sum(value)::int AS v FROM stripe_meter_reports WHERE accepted_at IS NOT NULL GROUP BY 1 ORDER BY 1',
    );
    assert.deepEqual(
      reports.rows.map((r) => ({ ...r })),
      [
        { customer: cusOrg, v: orgRows },
        { customer: cusM1, v: m1Rows },
      ].sort((x, y) => x.customer.localeCompare(y.customer)),
    );
  });
});
