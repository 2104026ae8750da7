/** The README's quickstart: `argus-sidecar demo` serves 200 with the printed key, 401 without, and stops on SIGINT. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { CLI } from './support/spawn.js';
import { waitFor } from './support/raw.js';
import { get } from './support/http.js';

describe('standalone demo', () => {
  it('prints a key that gets 200, gets 401 without it, streams, relays WebSockets, exits 0 on SIGINT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'argus-demo-'));
    // No redis/postgres in the demo config: it must not need them.
    const child = spawn(process.execPath, [CLI, 'demo', '--port', '0', '--admin-port', '0', '--app-port', '0', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor(() => out.includes('Ctrl-C to stop.'), 15000, 'demo to start');
    const key = /ak_test_[A-Za-z0-9]+/.exec(out)![0];
    const base = /sidecar {2}(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;

    const ok = await get(`${base}/echo`, { 'x-api-key': key });
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as { seen_by_app: Record<string, string> }).seen_by_app['x-argus-user-id'], 'demo-user');
    const denied = await get(`${base}/echo`);
    assert.equal(denied.status, 401);
    assert.equal((JSON.parse(denied.body) as { error: { code: string } }).error.code, 'ARGUS_UNAUTHENTICATED');
    const stream = await get(`${base}/stream`, { 'x-api-key': key });
    assert.equal(stream.body.match(/event: tick/g)?.length, 5);

    const ws = new WebSocket(base.replace('http', 'ws') + '/ws', { headers: { 'x-api-key': key } });
    const hello = await new Promise<string>((resolve, reject) => {
      ws.once('message', (m: Buffer) => resolve(m.toString()));
      ws.once('error', reject);
    });
    assert.deepEqual(JSON.parse(hello), { hello: 'demo-user' });
    ws.close();

    child.kill('SIGINT');
    assert.equal(await exited, 0);
  });
});
