/**
 * The Dockerfile's steps, performed by scripts/docker-sim.sh in a clean temporary
 * directory (no Docker engine here), produce a runtime tree that: loads the native
 * uWebSockets.js binding, holds production dependencies only, runs every command
 * from one entry point with the CLI's exit codes, and (once the proxy exists)
 * serves /healthz on the admin port and exits 0 on SIGTERM.
 * One build per run (~30 s: npm install from the local cache + tsc).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from './k8s-fixtures.js';

describe('docker-sim: the image build, without Docker', () => {
  let out: string;
  let app: string;
  let sim: ReturnType<typeof spawnSync>;
  before(() => {
    out = mkdtempSync(join(tmpdir(), 'argus-docker-sim-'));
    app = join(out, 'app');
    sim = spawnSync('bash', [join(REPO_ROOT, 'scripts/docker-sim.sh'), '--out', out], { encoding: 'utf8', timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  });
  after(() => {
    spawnSync('chmod', ['-R', 'u+w', out]);
    rmSync(out, { recursive: true, force: true });
  });

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(app, 'dist/src/cli.js'), ...args], {
      cwd: app,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
      timeout: 30_000,
    });

  it('builds and smoke-starts the image tree', () => {
    assert.equal(sim.status, 0, `docker-sim failed:\n${String(sim.stdout)}\n${String(sim.stderr)}`);
    assert.match(String(sim.stdout), /uWebSockets\.js native binding OK: uws_linux_x64_115\.node/);
    assert.match(String(sim.stdout), /docker-sim: smoke: migrate without --config exits 2/);
    assert.match(String(sim.stdout), new RegExp(`docker-sim: OK ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n?$`));
  });

  it('holds production dependencies and compiled code only', () => {
    const modules = readdirSync(join(app, 'node_modules'));
    // Only direct devDependencies that no runtime package needs (ajv is the MCP SDK's too).
    for (const dev of ['typescript', 'kubernetes-models', 'playwright-core', 'fast-json-patch', 'autocannon', 'openai']) {
      assert.ok(!modules.includes(dev), `devDependency ${dev} in the runtime tree`);
    }
    for (const prod of ['uWebSockets.js', 'undici', 'prom-client', 'zod', 'js-yaml', 'bullmq', 'ioredis', 'pg', '@modelcontextprotocol', 'openid-client']) {
      assert.ok(modules.includes(prod), `dependency ${prod} missing from the runtime tree`);
    }
    assert.deepEqual(readdirSync(join(app, 'node_modules/uWebSockets.js/binaries')), ['uws_linux_x64_115.node'], 'other platforms pruned');
    assert.ok(!existsSync(join(app, 'src')), 'no TypeScript sources');
    assert.ok(!existsSync(join(app, 'dist/test')), 'no compiled tests');
    assert.ok(existsSync(join(app, 'dist/src/cli.js')));
  });

  it('runs every command from one entry point with the CLI exit codes', () => {
    const help = cli('--help');
    assert.equal(help.status, 0, help.stderr);
    for (const command of ['proxy', 'migrate', 'inject-webhook']) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
    const migrate = cli('migrate');
    assert.equal(migrate.status, 2, migrate.stderr);
    assert.match(migrate.stderr, /--config FILE is required/);
    const webhook = cli('inject-webhook', '--config', join(out, 'missing.yaml'));
    assert.equal(webhook.status, 2, webhook.stderr);
    assert.match(webhook.stderr, /cannot read/);
    assert.equal(cli('no-such-command').status, 2);
  });

  it('starts the proxy, serves /healthz on the admin port and exits 0 on SIGTERM, once the proxy is built', async () => {
    if (!existsSync(join(app, 'dist/src/server/uws.js'))) {
      // Until the proxy core lands, the tree must still say so through the CLI.
      const proxy = cli('proxy');
      assert.notEqual(proxy.status, 0);
      assert.match(String(sim.stdout), /proxy start skipped/);
      return;
    }
    assert.match(String(sim.stdout), /docker-sim: smoke: proxy \/healthz 200/);
    const [port, admin] = [await freePort(), await freePort()];
    const config = join(out, 'test-proxy.yaml');
    writeFileSync(
      config,
      [
        `listen: { host: 127.0.0.1, port: ${port} }`,
        `admin: { host: 127.0.0.1, port: ${admin} }`,
        'upstream: { url: "http://127.0.0.1:9" }',
        'routes: [{ path: "/*", auth: none }]',
        `metering: { spool_dir: ${JSON.stringify(join(out, 'test-spool'))} }`,
        '',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [join(app, 'dist/src/cli.js'), 'proxy', '--config', config], {
      cwd: app,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      let status = 0;
      while (Date.now() < deadline && child.exitCode === null) {
        status = await get(admin, '/healthz');
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200, `proxy /healthz: ${status}\n${stderr}`);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      })
      .on('error', reject);
  });
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    request({ host: '127.0.0.1', port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', () => resolve(0))
      .on('timeout', function (this: { destroy(): void }) {
        this.destroy();
      })
      .end();
  });
}
