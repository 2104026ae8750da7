/**
 * `argus-sidecar demo` (`npm run demo`): the standalone quickstart. Starts the demo
 * app, writes a demo API key (its SHA-256 only) to a key file, starts the sidecar
 * in standalone mode (no Redis, no Postgres) in front of the app, and prints the
 * key and curl lines. Ctrl-C (SIGINT), SIGTERM, or the death of the parent process
 * (npm) drains and exits. Starts whole or exits 1 with one line naming the port.
 *
 * Options: --port (8080), --admin-port (9090), --app-port (3000), --dir (./var/demo);
 * port 0 picks a free one (the tests use that).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generateApiKey } from '../authenticate/index.js';
import { parseCommandArgs } from './args.js';
import { parseConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { startProxy } from '../lifecycle.js';
import { createLogger } from '../observe/log.js';
import { portFailure, StartupError } from '../startup.js';
import { startDemoUpstream } from '../demo/upstream.js';

export async function runDemoCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('demo', argv, {
    port: { type: 'string', default: '8080' },
    'admin-port': { type: 'string', default: '9090' },
    'app-port': { type: 'string', default: '3000' },
    dir: { type: 'string', default: './var/demo' },
  });
  const port = portOf('--port', values.port);
  const adminPort = portOf('--admin-port', values['admin-port']);
  const appPort = portOf('--app-port', values['app-port']);
  const dir = resolve(values.dir);
  mkdirSync(dir, { recursive: true });

  const app = await startDemoUpstream('127.0.0.1', appPort).catch((err: NodeJS.ErrnoException) => {
    throw portTaken('--app-port', 'the demo app', portFailure('app port', '127.0.0.1', appPort, err));
  });
  const key = generateApiKey('test');
  const keyFile = resolve(dir, 'keys.yaml');
  writeFileSync(
    keyFile,
    `# Demo API keys: digests only; the key itself was printed once.\n- key_id: ${key.key_id}\n  sha256: ${key.sha256}\n  user_id: demo-user\n  tier: professional\n  scopes: [demo:read]\n  features: [predictions]\n`,
  );

  const cfg = parseConfig({
    listen: { host: '127.0.0.1', port },
    threads: 1,
    // Interactive: Ctrl-C stops at once (no load balancer to wait for).
    server: { drain_delay_ms: 0, drain_timeout_ms: 5000 },
    admin: { host: '127.0.0.1', port: adminPort },
    upstream: { url: `http://127.0.0.1:${app.port}` },
    auth: { api_keys: { file: keyFile } },
    routes: [
      { path: '/healthz', auth: 'none' },
      { path: '/stream', auth: 'required', body_timeout_ms: 0 },
      { path: '/ws', auth: 'required', websocket: {} },
      { path: '/*', auth: 'required' },
    ],
    metering: { spool_dir: resolve(dir, 'spool'), service: 'demo' },
    log: { level: 'warn' },
  });
  const log = createLogger('warn', { component: 'demo' });
  const proxy = await startProxy(cfg, { log }).catch(async (err: Error) => {
    await app.close();
    if (!(err instanceof StartupError)) throw err;
    throw /^admin\.port/.test(err.message)
      ? portTaken('--admin-port', 'the admin port', err)
      : /listen\.port/.test(err.message)
        ? portTaken('--port', 'the sidecar', err)
        : err;
  });
  const base = `http://127.0.0.1:${proxy.port}`;
  process.stdout.write(
    [
      '',
      'Argus sidecar demo (standalone: no Redis, no Postgres)',
      `  sidecar  ${base}   admin http://127.0.0.1:${proxy.adminPort}   app http://127.0.0.1:${app.port}`,
      `  demo API key (shown once; only its SHA-256 is stored in ${keyFile}):`,
      `    ${key.key}`,
      '',
      'Try:',
      `  curl -i -H 'x-api-key: ${key.key}' ${base}/echo        # 200, the app sees x-argus-* identity`,
      `  curl -i ${base}/echo                                   # 401 ARGUS_UNAUTHENTICATED`,
      `  curl -N -H 'x-api-key: ${key.key}' ${base}/stream      # server-sent events, unbuffered`,
      `  node -e "const w=new (require('ws'))('ws://127.0.0.1:${proxy.port}/ws',{headers:{'x-api-key':'${key.key}'}});w.on('message',m=>{console.log(String(m));w.close()})"`,
      `  curl -s http://127.0.0.1:${proxy.adminPort}/metrics | grep argus_requests_total`,
      '',
      'Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    whenParentDies(done);
  });
  await proxy.stop();
  await app.close();
  process.exit(0);
}

/**
 * `npm run demo` puts npm (and maybe a shell) above this process; killing npm's
 * PID must not leave the demo holding its ports. Orphaned, this process is
 * re-parented (its ppid changes): that is the signal to stop too.
 */
function whenParentDies(done: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      done();
    }
  }, 250);
  timer.unref();
}

/** One line naming the port and the flag that moves it (`npm run demo -- FLAG 0`). */
function portTaken(flag: string, what: string, err: Error): StartupError {
  return new StartupError(`cannot start ${what}: ${err.message}; pick another port with ${flag} (npm run demo -- ${flag} 0 picks a free one)`);
}

function portOf(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag}: expected a port number, got ${JSON.stringify(value)}`);
  return n;
}
