/**
 * `server.helper_thread_nice`: the sidecar's helper threads (V8's compiler
 * threads, libuv's pool) run at a lower CPU priority than its request threads, so
 * on a shared core they take the request threads' idle time, not whole slices of
 * it (src/server/helper-threads.ts). Read from /proc of the real CLI process:
 * the main thread and the `threads: N` workers stay at nice 0, the helpers go to
 * the configured value; 0 leaves every thread alone.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { startCli, writeConfig, type StartedChild } from './support/spawn.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

/** Nice value of every thread of `pid`, by thread id (field 19 of /proc/<pid>/task/<tid>/stat). */
function niceByThread(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), Number(fields[19 - 3]));
  }
  return out;
}

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/x', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

// Linux only, as the sidecar (per-thread nice, /proc).
describe('helper threads run below the request threads', () => {
  let up: RecordingUpstream;
  const started: StartedChild[] = [];
  after(async () => {
    for (const p of started) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    await up?.close();
  });

  async function sidecar(extra: string): Promise<{ pid: number; port: number }> {
    up ??= await startUpstream();
    // No drain delay: the processes stop at once when the tests end.
    const cfg = writeConfig(
      `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n${extra}\nupstream: { url: ${up.url} }\nmetering: { enabled: false }\nroutes:\n  - { path: /*, auth: none }\n`,
    );
    const p = startCli(['proxy', '--config', cfg]);
    started.push(p);
    const port = (await p.waitForLog('proxy listening'))['port'] as number;
    // Both request threads serve (connections are spread over them by the kernel).
    assert.deepEqual(new Set(await Promise.all(Array.from({ length: 16 }, () => get(port)))), new Set([200]));
    return { pid: p.child.pid!, port };
  }

  it('threads: 2 → main thread and both request threads at nice 0, the helpers at 10 (the default)', async () => {
    const { pid } = await sidecar('threads: 2\nserver: { drain_delay_ms: 0 }');
    const nice = niceByThread(pid);
    assert.equal(nice.get(pid), 0, 'the main thread');
    const at = (n: number) => [...nice.values()].filter((v) => v === n).length;
    // V8's platform workers (4) and libuv's pool (4) at least.
    assert.ok(at(10) >= 4, `helper threads at nice 10: ${at(10)} of ${nice.size}`);
    // The main thread and the two workers started after the helpers were lowered.
    assert.ok(at(0) >= 3, `threads at nice 0: ${at(0)} of ${nice.size}`);
    assert.equal(at(0) + at(10), nice.size, `no other nice value: ${[...nice.values()].join(',')}`);
  });

  it('server.helper_thread_nice: 0 leaves every thread at nice 0', async () => {
    const { pid } = await sidecar('threads: 1\nserver: { helper_thread_nice: 0, drain_delay_ms: 0 }');
    const nice = niceByThread(pid);
    assert.ok(nice.size >= 5, `threads: ${nice.size}`);
    assert.deepEqual(new Set(nice.values()), new Set([0]));
  });
});
