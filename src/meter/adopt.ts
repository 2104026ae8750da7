/**
 * Spool directories no running thread reads. Each proxy thread spools into
 * `<spool_dir>/t<index>` (index 0 … threads − 1, `spoolDirFor`). A sidecar
 * restarted with fewer threads, or over a spool an older release wrote (its
 * directories were named after worker thread ids: `t1`, `t2`, …), would leave
 * the usage in the other directories unsent forever. Thread 0 moves their
 * segments into its own directory before it recovers, so that usage is sent
 * (and deduplicated by the ledger, like any batch sent twice) as its own.
 *
 * Safe without locks: thread 0 starts alone (the main thread starts the next one
 * after it listens) and only touches directories whose index no thread of this
 * process will take.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../observe/log.js';
import { segmentFiles } from './spool.js';

const THREAD_DIR = /^t(\d+)$/;
const SEGMENT = /^(\d+)-(\d+)\.spool$/;

/** Move the segments of `root/t<k>` (k ≥ `threads`) into `own`; returns how many files moved. */
export function adoptOrphanSpools(root: string, own: string, threads: number, log: Logger): number {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return 0;
  }
  let moved = 0;
  for (const entry of entries) {
    const m = THREAD_DIR.exec(entry);
    if (!m || Number(m[1]) < threads) continue;
    const from = join(root, entry);
    const files = segmentFiles(from);
    if (files.length > 0) mkdirSync(own, { recursive: true });
    for (const file of files) {
      renameSync(join(from, file), join(own, freeName(own, file)));
      moved++;
    }
    try {
      rmdirSync(from);
    } catch {
      // not empty (a file that is no segment) or gone: left as it is
    }
    if (files.length > 0) log.warn('meter: adopted the spool of a thread that no longer runs', { from, into: own, files: files.length });
  }
  return moved;
}

/** `name`, or the same stamp with the next free sequence number when `dir` already holds it (order kept by stamp). */
function freeName(dir: string, name: string): string {
  const m = SEGMENT.exec(name);
  if (!m) return name;
  let seq = Number(m[2]);
  let candidate = name;
  while (existsSync(join(dir, candidate))) candidate = `${m[1]}-${String(++seq).padStart(6, '0')}.spool`;
  return candidate;
}
