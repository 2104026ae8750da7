/**
 * Outcome: `argus-sidecar control` starts and stops like the other processes.
 * A config without `postgres` or with a bad `control.*` key exits 2 naming the
 * key; a taken admin port exits 1 naming `control.admin.port`; running, the
 * public listener answers /healthz, the admin port /readyz and /metrics (with
 * the control metrics); SIGTERM exits 0 after "control: stopped".
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { controlRaw, startControlEnv, writeRaw, type ControlEnv } from './support/control.js';
import { runCli } from './support/spawn.js';

describe('control process lifecycle', () => {
  let env: ControlEnv;
  before(async () => {
    env = await startControlEnv();
  });
  after(() => env?.stop());

  it('no postgres: exit 2 naming postgres.url', async () => {
    const raw = controlRaw({ pgUrl: 'x', prefix: 'p:' });
    delete raw['postgres'];
    const r = await runCli(['control', '--config', writeRaw(raw)]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /postgres\.url/);
  });

  it('a bad control key: exit 2 naming it', async () => {
    const raw = controlRaw({ pgUrl: 'x', prefix: 'p:' });
    const r = await runCli(['control', '--config', writeRaw({ ...raw, control: { reconcile_interval_ms: -1, listeners: {} } })]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /control: unknown key\(s\) "listeners"/);
    assert.match(r.stderr, /control\.reconcile_interval_ms/);
  });

  it('a taken admin port: exit 1 naming control.admin.port', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    try {
      const raw = env.raw as { control: Record<string, unknown> };
      const r = await runCli(['control', '--config', writeRaw({ ...raw, control: { ...raw.control, admin: { host: '127.0.0.1', port } } })]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /control\.admin\.port/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    } finally {
      holder.close();
    }
  });

  it('serves /healthz (public), /readyz and /metrics (admin)', async () => {
    assert.deepEqual(await (await fetch(`${env.publicUrl}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${env.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, { control: true, redis: true, auth: true });
    await env.api('GET', '/v1/me');
    const metrics = await (await fetch(`${env.adminUrl}/metrics`)).text();
    assert.match(metrics, /argus_control_requests_total\{operation="getMe",status="200"\} 1/);
    assert.match(metrics, /argus_control_request_duration_seconds_bucket/);
  });

  it('SIGTERM: stops and exits 0', async () => {
    env.proc.child.kill('SIGTERM');
    const exit = await env.proc.exited;
    assert.equal(exit.code, 0);
    assert.ok(env.proc.logs.some((l) => l.includes('"msg":"control: stopped"')));
  });
});
