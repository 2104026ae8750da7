/**
 * The durable spool: append-only files holding batches the queue could not take
 * (Redis unreachable or slow), fsync'd per batch, replayed oldest first and
 * deleted only after every batch in the file was accepted by the queue.
 *
 * Format: one JSON line per batch, `{"id":"b_…","events":[…]}`. A line cut short
 * by a crash mid-write is skipped on replay (that batch was never acknowledged).
 * File names `<epoch ms>-<seq>.spool` sort in write order. One process owns a
 * directory: another process replaying the same files would delete them under it.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../observe/log.js';
import { isUsageEvent, type UsageEvent } from './events.js';

export interface SpoolBatch {
  readonly id: string;
  readonly events: UsageEvent[];
}

export interface Spool {
  /** Append one batch and fsync. Rejects with the fs error (ENOSPC, EDQUOT…): the caller drops, loudly. */
  append(batch: SpoolBatch): Promise<void>;
  /**
   * Append batches synchronously into a new file of their own (the overflow path
   * when memory is full); later `append`s start another file after it, so replay
   * order stays write order. Throws on fs errors.
   */
  appendSync(batches: readonly SpoolBatch[]): void;
  /** True while any spooled batch waits for replay. */
  pending(): boolean;
  /** Bytes held on disk. */
  bytes(): number;
  /**
   * Send every spooled batch, oldest first; a file is deleted after all its
   * batches were sent. Stops at (and rethrows) the first failed send: the file
   * stays and the next replay starts it over (re-sent batches are deduplicated
   * by job id and by the ledger). Only one replay runs at a time.
   */
  replay(send: (batch: SpoolBatch) => Promise<void>): Promise<number>;
  /** Close the open file. Idempotent. */
  close(): Promise<void>;
}

const FILE_RE = /^(\d+)-(\d+)\.spool$/;

export function openSpool(dir: string, opts: { fileBytes: number; log: Logger }): Spool {
  mkdirSync(dir, { recursive: true });
  const files: string[] = readdirSync(dir).filter((f) => FILE_RE.test(f)).sort(compareNames);
  const sizes = new Map<string, number>(files.map((f) => [f, statSync(join(dir, f)).size]));
  let seq = 0;
  let active: { name: string; handle: FileHandle; size: number } | null = null;
  let rotate = false;
  let tail: Promise<void> = Promise.resolve();
  let replaying: Promise<number> | null = null;
  let closing: Promise<void> | null = null;

  const newName = () => `${Date.now()}-${String(seq++).padStart(6, '0')}.spool`;
  const addFile = (name: string) => {
    files.push(name);
    sizes.set(name, 0);
  };
  const grow = (name: string, n: number) => sizes.set(name, (sizes.get(name) ?? 0) + n);

  async function closeActive(): Promise<void> {
    const a = active;
    active = null;
    if (a) await a.handle.close().catch(() => undefined);
  }

  async function write(line: string): Promise<void> {
    if (!active || active.size >= opts.fileBytes || rotate) {
      rotate = false;
      await closeActive();
      const name = newName();
      const handle = await open(join(dir, name), 'a');
      addFile(name);
      active = { name, handle, size: 0 };
    }
    const a = active;
    try {
      await a.handle.appendFile(line);
      await a.handle.sync();
    } catch (err) {
      // A partial line may now end the file: never append after it.
      if (active === a) await closeActive();
      throw err;
    }
    a.size += Buffer.byteLength(line);
    grow(a.name, Buffer.byteLength(line));
  }

  function append(batch: SpoolBatch): Promise<void> {
    const line = JSON.stringify(batch) + '\n';
    const p = tail.then(() => write(line));
    tail = p.catch(() => undefined);
    return p;
  }

  function appendSync(batches: readonly SpoolBatch[]): void {
    if (batches.length === 0) return;
    const line = batches.map((b) => JSON.stringify(b) + '\n').join('');
    const name = newName();
    rotate = true;
    const fd = openSync(join(dir, name), 'a');
    try {
      writeSync(fd, line);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    addFile(name);
    grow(name, Buffer.byteLength(line));
  }

  async function replayAll(send: (batch: SpoolBatch) => Promise<void>): Promise<number> {
    let n = 0;
    for (;;) {
      files.sort(compareNames);
      const name = files[0];
      if (name === undefined) return n;
      if (active?.name === name) {
        // Stop writing into the file we are about to consume; later batches start a new one.
        const p = tail.then(closeActive);
        tail = p;
        await p;
      }
      const text = await readFile(join(dir, name), 'utf8');
      for (const batch of parseLines(text, name, opts.log)) {
        await send(batch);
        n++;
      }
      await unlink(join(dir, name));
      files.splice(files.indexOf(name), 1);
      sizes.delete(name);
    }
  }

  return {
    append,
    appendSync,
    pending: () => files.length > 0,
    bytes: () => {
      let total = 0;
      for (const s of sizes.values()) total += s;
      return total;
    },
    replay(send) {
      if (replaying) return replaying;
      replaying = replayAll(send).finally(() => {
        replaying = null;
      });
      return replaying;
    },
    close() {
      closing ??= tail.then(closeActive);
      return closing;
    },
  };
}

function compareNames(a: string, b: string): number {
  const ma = FILE_RE.exec(a);
  const mb = FILE_RE.exec(b);
  const d = Number(ma?.[1] ?? 0) - Number(mb?.[1] ?? 0);
  return d !== 0 ? d : Number(ma?.[2] ?? 0) - Number(mb?.[2] ?? 0);
}

function parseLines(text: string, file: string, log: Logger): SpoolBatch[] {
  const out: SpoolBatch[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    try {
      const b = JSON.parse(line) as SpoolBatch;
      if (typeof b.id === 'string' && Array.isArray(b.events) && b.events.length > 0 && b.events.every(isUsageEvent)) {
        out.push(b);
        continue;
      }
    } catch {
      // fall through: a torn write from a crash
    }
    log.warn('spool: skipping unreadable line', { file, line: i + 1 });
  }
  return out;
}
