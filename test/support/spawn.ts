/** Run the real CLI (`node dist/src/cli.js …`) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`argus-sidecar ${args.join(' ')} did not exit in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Write a config file into a fresh temp dir; returns its path. */
export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'argus-cfg-'));
  const file = join(dir, 'argus.yaml');
  writeFileSync(file, yaml);
  return file;
}

export interface StartedChild {
  readonly child: ChildProcess;
  readonly logs: string[];
  /** Resolves with the first log record whose msg matches. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start a long-running command (proxy, worker) and follow its JSON log lines. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): StartedChild {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const listeners: Array<() => void> = [];
  const onLine = (buf: Buffer) => {
    for (const line of buf.toString().split('\n')) if (line.trim()) logs.push(line);
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onLine);
  child.stderr!.on('data', onLine);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    logs,
    exited,
    waitForLog: (msg, timeoutMs = 15000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          for (const line of logs) {
            try {
              const rec = JSON.parse(line) as Record<string, unknown>;
              if (rec['msg'] === msg) return (resolve(rec), true);
            } catch {
              /* not JSON */
            }
          }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => reject(new Error(`no "${msg}" log within ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
        listeners.push(() => {
          if (check()) clearTimeout(timer);
        });
        void exited.then(() => {
          if (!check()) {
            clearTimeout(timer);
            reject(new Error(`process exited before "${msg}":\n${logs.join('\n')}`));
          }
        });
      }),
  };
}
