/**
 * Outcome: the proxy never loads control-plane code. `argus-sidecar proxy`
 * runs under a module-load recorder (`node --import`, a resolve hook that logs
 * every module URL) and serves a request; then no module under src/control/,
 * no hono / @hono/*, no OpenAPI tooling (zod-to-openapi, openapi3-ts,
 * openapi-typescript, @readme/openapi-parser), no MCP SDK and no OAuth client
 * (openid-client, oauth4webapi: the dashboard's) was loaded. The same recorder
 * on `control` does see them (the recorder works).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { get } from './support/http.js';
import { startControlEnv, type ControlEnv } from './support/control.js';
import { CLI } from './support/spawn.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

const RECORDER = fileURLToPath(new URL('../../test/fixtures/load-recorder.mjs', import.meta.url));
const FORBIDDEN = [
  /\/src\/control\//,
  /\/node_modules\/hono\//,
  /\/node_modules\/@hono\//,
  /zod-to-openapi/,
  /openapi3-ts/,
  /openapi-typescript/,
  /openapi-parser/,
  /\/node_modules\/@modelcontextprotocol\//,
  /\/node_modules\/openid-client\//,
  /\/node_modules\/oauth4webapi\//,
];

function runRecorded(args: string[], logFile: string, until: (line: string) => boolean): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, ['--import', RECORDER, CLI, ...args], {
    env: { ...process.env, ARGUS_LOAD_LOG: logFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').some(until)) resolve(async () => void (child.kill('SIGTERM'), await new Promise((r) => child.once('exit', r))));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready:\n${out}`)));
  });
}

describe('the proxy loads no control-plane module', () => {
  let env: ControlEnv;
  let up: RecordingUpstream;
  const dir = mkdtempSync(join(tmpdir(), 'argus-loads-'));
  before(async () => {
    up = await startUpstream();
    env = await startControlEnv({ upstream: up.url });
  });
  after(async () => {
    await env?.stop();
    await up?.close();
  });

  it('proxy: none of src/control/, hono, OpenAPI tooling', async () => {
    const log = join(dir, 'proxy.log');
    let port = 0;
    const stop = await runRecorded(['proxy', '--config', env.configFile], log, (l) => {
      const m = /"msg":"proxy listening".*"port":(\d+)/.exec(l);
      if (m) port = Number(m[1]);
      return m !== null;
    });
    try {
      assert.equal((await get(`http://127.0.0.1:${port}/x`, { 'x-api-key': env.adminKey })).status, 200);
    } finally {
      await stop();
    }
    const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    assert.ok(
      loaded.some((u) => u.includes('/src/commands/proxy.js')),
      'the recorder saw the proxy load',
    );
    const bad = loaded.filter((u) => FORBIDDEN.some((re) => re.test(u)));
    assert.deepEqual(bad, []);
  });

  it('control: the recorder does see them', async () => {
    const log = join(dir, 'control.log');
    const raw = readFileSync(env.configFile, 'utf8');
    assert.ok(raw.length > 0);
    const stop = await runRecorded(['control', '--config', env.configFile], log, (l) => l.includes('"msg":"control: started"'));
    await stop();
    const loaded = readFileSync(log, 'utf8');
    assert.match(loaded, /\/src\/control\/main\.js/);
    assert.match(loaded, /node_modules\/hono\//);
    assert.match(loaded, /node_modules\/@modelcontextprotocol\/sdk\//);
  });
});
