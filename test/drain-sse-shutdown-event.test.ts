/**
 * Outcome: an LLM stream (SSE) still running when `server.drain_timeout_ms` runs
 * out ends with a final `event: argus.shutdown` (code ARGUS_DRAINING) and a clean
 * end of the chunked body, not a silent cut; its usage is metered, marked
 * partial; the spawned `proxy` exits 0.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../src/authenticate/index.js';
import { readSegment, segmentFiles } from '../src/meter/spool.js';
import { decodeBatch, JOB_NAMES } from '../src/meter/wire.js';
import type { UsageEvent } from '../src/meter/events.js';
import { createLogger } from '../src/observe/log.js';
import { startLlmProvider, type StandInProvider } from './support/llm-provider.js';
import { waitFor } from './support/raw.js';
import { startCli, writeConfig } from './support/spawn.js';

describe('drain deadline with a stream open', () => {
  let provider: StandInProvider;
  let release: () => void = () => undefined;
  before(async () => {
    const held = new Promise<void>((resolve) => (release = resolve));
    // Two events go out, then the provider holds the stream until the test ends.
    provider = await startLlmProvider({ pause: ({ index }) => (index === 2 ? held : undefined) });
  });
  after(async () => {
    release();
    await provider.close();
  });

  it('ends the SSE stream with an argus.shutdown event, meters it as partial, exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'argus-drain-sse-'));
    const key = generateApiKey('test');
    const keys = join(dir, 'keys.yaml');
    writeFileSync(
      keys,
      `- key_id: ${key.key_id}\n  sha256: ${key.sha256}\n  user_id: u_stream\n  tier: business\n  llm: { models: [gpt-4o-mini], model_tiers: [] }\n`,
    );
    const spoolDir = join(dir, 'spool');
    const cfg = writeConfig(
      `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nthreads: 1\n` +
        `server: { drain_delay_ms: 100, drain_timeout_ms: 1500 }\nupstream: { url: ${provider.url} }\n` +
        `auth: { api_keys: { file: ${keys} } }\nmetering: { spool_dir: ${spoolDir}, service: drain-test }\n` +
        `routes:\n  - path: /v1/chat/completions\n    auth: required\n    body_timeout_ms: 0\n    llm: { provider: openai }\n`,
    );
    const proc = startCli(['proxy', '--config', cfg]);
    const port = (await proc.waitForLog('proxy listening'))['port'] as number;

    let body = '';
    let ended = false;
    let failed: Error | undefined;
    const payload = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const finished = new Promise<number>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', 'x-api-key': key.key } },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            ended = true;
            resolve(res.statusCode ?? 0);
          });
          res.on('error', (err) => {
            failed = err;
            resolve(res.statusCode ?? 0);
          });
        },
      );
      req.on('error', (err) => {
        failed = err;
        resolve(0);
      });
      req.end(payload);
    });
    await waitFor(() => (body.match(/^data: /gm) ?? []).length >= 2, 15000, 'two events through the sidecar');

    proc.child.kill('SIGTERM');
    const status = await finished;
    const exit = await proc.exited;

    assert.equal(failed, undefined, `the stream ended cleanly, not with an error: ${String(failed)}`);
    assert.equal(status, 200);
    assert.ok(ended);
    const last = /event: argus\.shutdown\ndata: (.*)\n\n$/.exec(body);
    assert.ok(last, `the stream ends with the shutdown event:\n${body}`);
    assert.equal((JSON.parse(last[1]!) as { code: string }).code, 'ARGUS_DRAINING');
    assert.equal(exit.code, 0, proc.logs.join('\n'));
    assert.ok(
      proc.logs.some((l) => l.includes('drain timeout')),
      proc.logs.join('\n'),
    );

    // Standalone metering spools; the llm event of the cut stream is there, partial.
    const events: UsageEvent[] = [];
    const segDir = join(spoolDir, 't0');
    for (const file of segmentFiles(segDir)) {
      const seg = readSegment(segDir, file, createLogger('error', {}));
      for (const b of seg.batches) events.push(...(decodeBatch(JOB_NAMES[2], b.data) as UsageEvent[]));
    }
    const llm = events.find((e) => e.kind === 'llm') as (UsageEvent & { partial?: boolean; user_id?: string }) | undefined;
    assert.ok(llm, `an llm usage event was spooled: ${JSON.stringify(events)}`);
    assert.equal(llm.partial, true);
    assert.equal(llm.user_id, 'u_stream');
  });
});
