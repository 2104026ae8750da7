/**
 * Outcome: the demo starts whole or exits 1. A taken sidecar, admin or app port
 * gives one line naming the port and a flag that exists (no stack trace, no
 * half-started process left running); and the demo stops when the process that
 * started it dies (killing `npm run demo`'s npm leaves nothing on the ports).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from './support/raw.js';
import { CLI, runCli } from './support/spawn.js';

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

describe('demo: starts whole or exits 1', () => {
  for (const flag of ['--port', '--admin-port', '--app-port']) {
    it(`${flag} taken: one line naming the port and ${flag}, exit 1`, async () => {
      const other = net.createServer().listen(0, '127.0.0.1');
      await once(other, 'listening');
      const taken = (other.address() as net.AddressInfo).port;
      try {
        const args = { '--port': '0', '--admin-port': '0', '--app-port': '0', [flag]: String(taken) };
        const dir = mkdtempSync(join(tmpdir(), 'argus-demo-'));
        const r = await runCli(['demo', ...Object.entries(args).flat(), '--dir', dir]);
        assert.equal(r.code, 1, r.stderr);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, new RegExp(` ${taken} \\(127\\.0\\.0\\.1\\): address already in use`));
        assert.ok(lines[0]!.includes(`npm run demo -- ${flag} 0`), lines[0]);
      } finally {
        other.close();
      }
    });
  }

  it('stops, freeing its ports, when its parent process is killed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'argus-demo-'));
    // The parent plays npm: it starts the demo and is then SIGKILLed (no signal reaches the demo).
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `const c=require('child_process').spawn(process.execPath,${JSON.stringify([CLI, 'demo', '--port', '0', '--admin-port', '0', '--app-port', '0', '--dir', dir])},{stdio:['ignore','pipe','inherit']});console.log('pid '+c.pid);c.stdout.pipe(process.stdout);setInterval(()=>{},1000)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('Ctrl-C to stop.'), 20000, 'demo to start');
    const pid = Number(/pid (\d+)/.exec(out)![1]);
    const ports = [...out.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(ports.length >= 3);
    for (const p of new Set(ports)) assert.ok(await connects(p));

    parent.kill('SIGKILL');
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      await waitFor(() => !alive(), 15000, 'the orphaned demo to exit');
    } finally {
      if (alive()) process.kill(pid, 'SIGKILL');
    }
    for (const p of new Set(ports)) assert.equal(await connects(p), false, `port ${p} is free`);
  });
});
