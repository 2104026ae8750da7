/**
 * The C fixed-rate generator (bench/openloop.c), built on first use with the
 * machine's C compiler into dist/bench/openloop, and run with the caller's CPU
 * affinity (bench/load.ts runs on core 0). See openloop.c for why it exists and what it measures.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OpenLoopOptions, OpenLoopResult } from './open-loop.js';

const SOURCE = fileURLToPath(new URL('../../bench/openloop.c', import.meta.url));
const BINARY = fileURLToPath(new URL('./openloop', import.meta.url));

/** Path of the built generator, or an Error saying why it cannot be built. */
export function buildOpenLoop(): string | Error {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  const cc = process.env['CC'] ?? 'cc';
  const out = spawnSync(cc, ['-O2', '-Wall', '-o', BINARY, SOURCE], { encoding: 'utf8' });
  if (out.error || out.status !== 0) return new Error(`cannot build ${SOURCE} with ${cc}: ${out.error?.message ?? out.stderr.trim()}`);
  return BINARY;
}

/** Run one fixed-rate GET load with the C generator. */
export function runOpenLoop(binary: string, o: OpenLoopOptions & { warmupS?: number }): OpenLoopResult {
  const url = new URL(o.url);
  if ((o.method ?? 'GET') !== 'GET') throw new Error('the C generator sends GET requests only');
  const headers = Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`);
  const args = [
    url.hostname,
    url.port || '80',
    `${url.pathname}${url.search}`,
    String(o.rate),
    String(o.connections),
    String(o.durationS),
    String(o.warmupS ?? 1),
    ...headers,
  ];
  const out = spawnSync(binary, args, { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`openloop failed (${out.status}): ${out.stderr.trim()}`);
  return JSON.parse(out.stdout) as OpenLoopResult;
}
