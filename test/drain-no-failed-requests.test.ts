/**
 * Outcome: SIGTERM under keep-alive load fails no request. A spawned `proxy`
 * (one thread, then two) serves 8 keep-alive connections in closed loops; on
 * SIGTERM the admin port answers /readyz 503 while data requests are still
 * answered 200 by the upstream, every response from then on says
 * `Connection: close`, a request in flight when the listener closes is answered,
 * an idle keep-alive connection is closed without a byte, and the process exits 0.
 * The load client plays the load balancer: it keeps sending after readiness
 * turned 503 (endpoint removal takes time), then stops opening connections.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { get } from './support/http.js';
import { parseResponse, startKeepAliveLoad } from './support/keepalive-load.js';
import { waitFor } from './support/raw.js';
import { startCli, writeConfig } from './support/spawn.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

/** Open a connection, send one request, resolve with the socket and its parsed answer once complete. */
function firstRequest(port: number, path: string): Promise<{ socket: net.Socket; answer: Promise<NonNullable<ReturnType<typeof parseResponse>>> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      let buf = Buffer.alloc(0);
      const answer = new Promise<NonNullable<ReturnType<typeof parseResponse>>>((done, fail) => {
        const onData = (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          const parsed = parseResponse(buf);
          if (parsed) {
            socket.off('data', onData);
            done(parsed);
          }
        };
        socket.on('data', onData);
        socket.once('close', () => fail(new Error(`${path}: closed after ${buf.length} bytes`)));
      });
      answer.catch(() => undefined);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      resolve({ socket, answer });
    });
    socket.once('error', reject);
  });
}

describe('drain under keep-alive load', () => {
  let up: RecordingUpstream;
  before(async () => {
    up = await startUpstream();
  });
  after(() => up.close());

  for (const threads of [1, 2]) {
    it(`threads: ${threads}: SIGTERM fails no request, /readyz is 503 while requests are still served, exit 0`, async () => {
      const cfg = writeConfig(
        `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nthreads: ${threads}\nmetering: { enabled: false }\n` +
          `server: { drain_delay_ms: 3000, drain_timeout_ms: 20000 }\nupstream: { url: ${up.url} }\nroutes:\n  - path: /*\n    auth: none\n`,
      );
      const proc = startCli(['proxy', '--config', cfg]);
      const listening = await proc.waitForLog('proxy listening');
      const port = listening['port'] as number;
      const readyz = `http://127.0.0.1:${listening['admin_port'] as number}/readyz`;
      assert.equal((await get(readyz)).status, 200);

      // A keep-alive connection that served one request and then stays idle.
      const idle = await firstRequest(port, '/echo/idle');
      assert.equal((await idle.answer).status, 200);
      let idleBytes = 0;
      let idleError: Error | undefined;
      idle.socket.on('data', (d: Buffer) => (idleBytes += d.length));
      idle.socket.on('error', (err) => (idleError = err));
      const idleClosed = new Promise<void>((resolve) => idle.socket.once('close', () => resolve()));

      const load = startKeepAliveLoad(port, { connections: 8, path: '/echo' });
      const t0 = performance.now();
      await waitFor(() => load.answered() >= 600, 60000, '600 answers before SIGTERM');
      const rate = Math.round((load.answered() / (performance.now() - t0)) * 1000);

      proc.child.kill('SIGTERM');
      // Poll readiness in a tight loop: the admin port must answer (not refuse) and turn 503.
      let polls = 0;
      for (;;) {
        const r = await get(readyz);
        polls++;
        if (r.status === 503) break;
        assert.equal(r.status, 200);
      }
      load.markPhase();
      const atNotReady = load.answered();
      // Sent after readiness turned 503 and lasting past drain_delay_ms: in flight when the listener closes.
      const slow = await firstRequest(port, '/slow/4500');

      // The load balancer needs a while to drop the endpoint: requests keep coming meanwhile.
      await waitFor(() => load.answered() >= atNotReady + 300, 60000, '300 answers after readiness turned 503');
      const stillNotReady = await get(readyz);
      assert.equal(stillNotReady.status, 503, 'the admin port stays up and not ready during the drain');
      assert.match(stillNotReady.body, /"accepting":false/);
      load.stopSending();
      const report = await load.done;

      const slowAnswer = await slow.answer;
      assert.equal(slowAnswer.status, 200);
      assert.equal(slowAnswer.body, 'slow done');
      assert.equal(slowAnswer.headers['connection'], 'close');

      const exit = await proc.exited;
      await idleClosed;
      assert.deepEqual(report.failures, [], `failed requests (load ~${rate} rps before SIGTERM)`);
      const drainAnswers = report.answers.filter((a) => a.afterMark);
      assert.ok(drainAnswers.length >= 300, `answers during the drain: ${drainAnswers.length}`);
      for (const a of report.answers) {
        assert.equal(a.status, 200);
        assert.match(JSON.parse(a.body).url as string, /^\/echo\?i=\d+$/, 'a real upstream answer');
      }
      assert.ok(
        drainAnswers.every((a) => a.headers['connection'] === 'close'),
        'every response during the drain says Connection: close',
      );
      assert.equal(idleBytes, 0, 'the idle connection was closed without a response');
      assert.equal(idleError, undefined, 'the idle connection was closed, not reset');
      assert.equal(exit.code, 0, proc.logs.join('\n'));
      assert.ok(
        proc.logs.some((l) => l.includes('"msg":"stopped"') && l.includes('"drained":true')),
        proc.logs.join('\n'),
      );
      process.stdout.write(
        `# threads ${threads}: ~${rate} rps over 8 keep-alive connections, ${report.answers.length} answered, ${drainAnswers.length} during the drain, ${report.notSent} not sent, ${polls} /readyz polls to the first 503\n`,
      );
    });
  }
});
