/**
 * The spool: the sidecar's write-ahead log of usage. Every usage event is
 * written here (write(2), synchronously) before the response that produced it is
 * complete at the client; the queue only carries batches out of it. A segment
 * file is deleted only once every batch in it is known to be in the ledger (see
 * ./producer.ts for the acknowledgement) and every stream checkpoint in it was
 * superseded by its final event.
 *
 * Segment files `<epoch ms>-<seq>.spool` (write order), one JSON line per record:
 * - `{"b":"<batch id>","t":…,"s":[…],"c":[…],"r":[…],"x":[…]}`: rows appended to
 *   batch `b`, in the job format 2 encoding of ./wire.ts. A batch's lines
 *   concatenated (arrays appended) are its job data; a batch never spans two files.
 * - `{"p":{…event…}}`: a checkpoint of an event still being served (a stream): the
 *   latest one per event id counts, and the event's final record (in a batch)
 *   supersedes it. A sidecar restarted on this directory bills the latest
 *   checkpoint of every event that never got its final record.
 * - `{"id":"<batch id>","events":[…]}`: a whole batch of event objects (files
 *   written by versions before this log; read, never written).
 * A line cut short by a crash mid-write is skipped: its write never returned, so
 * the response it guarded was never completed.
 *
 * One process owns a directory (`<spool_dir>/t<thread>`).
 */
import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../observe/log.js';
import '../extensions/registry.js';
import { isUsageEvent, type UsageEvent } from './events.js';
import { encodeBatch, type RowsJobData } from './wire.js';

/** When the spool calls fdatasync: see docs/metering.md. */
export type SpoolFsync = 'none' | 'batch' | 'always';

/** A batch read back from the log. */
export interface LoggedBatch {
  readonly id: string;
  readonly file: string;
  readonly data: RowsJobData;
}

/** What a segment holds, as read back. */
export interface SegmentContents {
  readonly batches: LoggedBatch[];
  /** Latest checkpoint per event id, in the order first seen. */
  readonly checkpoints: Map<string, UsageEvent>;
}

const FILE_RE = /^(\d+)-(\d+)\.spool$/;

export function compareNames(a: string, b: string): number {
  const ma = FILE_RE.exec(a);
  const mb = FILE_RE.exec(b);
  const d = Number(ma?.[1] ?? 0) - Number(mb?.[1] ?? 0);
  return d !== 0 ? d : Number(ma?.[2] ?? 0) - Number(mb?.[2] ?? 0);
}

/** Segment files of a directory, oldest first. */
export function segmentFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => FILE_RE.test(f))
      .sort(compareNames);
  } catch {
    return [];
  }
}

type Mutable = { t: number; s: string[]; c: number[]; r: Array<string | number>; x?: UsageEvent[] };

/** Segment files read back since the process started (a test checks a backlog's re-send reads each once). */
export const segmentReads = { count: 0 };

/** Parse one segment file (unreadable lines are skipped with a warning). */

export function readSegment(dir: string, file: string, log: Logger): SegmentContents {
  segmentReads.count++;
  let text: string;
  try {
    text = readFileSync(join(dir, file), 'utf8');
  } catch {
    return { batches: [], checkpoints: new Map() };
  }
  const byId = new Map<string, Mutable>();
  const checkpoints = new Map<string, UsageEvent>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      log.warn('spool: skipping unreadable line', { file, line: i + 1 });
      continue;
    }
    if (typeof rec.b === 'string' && Array.isArray(rec.s) && Array.isArray(rec.c) && Array.isArray(rec.r)) {
      let m = byId.get(rec.b);
      if (!m) byId.set(rec.b, (m = { t: typeof rec.t === 'number' ? rec.t : 0, s: [], c: [], r: [] }));
      for (const v of rec.s as string[]) m.s.push(v);
      for (const v of rec.c as number[]) m.c.push(v);
      for (const v of rec.r as Array<string | number>) m.r.push(v);
      if (Array.isArray(rec.x)) (m.x ??= []).push(...(rec.x as UsageEvent[]).filter(isUsageEvent));
    } else if (rec.p !== undefined && isUsageEvent(rec.p)) {
      checkpoints.delete(rec.p.event_id);
      checkpoints.set(rec.p.event_id, rec.p);
    } else if (typeof rec.id === 'string' && Array.isArray(rec.events) && rec.events.length > 0 && rec.events.every(isUsageEvent)) {
      byId.set(rec.id, encodeBatch(rec.events as UsageEvent[], 2) as Mutable);
    } else {
      log.warn('spool: skipping unreadable line', { file, line: i + 1 });
    }
  }
  const batches: LoggedBatch[] = [];
  for (const [id, m] of byId) {
    const data: RowsJobData = m.x ? { t: m.t, s: m.s, c: m.c, r: m.r, x: m.x } : { t: m.t, s: m.s, c: m.c, r: m.r };
    if (m.r.length > 0 || (m.x?.length ?? 0) > 0) batches.push({ id, file, data });
  }
  return { batches, checkpoints };
}

/** The open segment being appended to. */
export interface SpoolWriter {
  /** Name of the file appends go to now (opens one if none is open). */
  readonly file: () => string;
  /** Name of the open file, '' when none is open. */
  readonly current: () => string;
  /** Bytes in the current file. */
  readonly size: () => number;
  /** write(2) the first `length` bytes of `bytes` to the current file (and fdatasync under `always`). Throws on fs errors. */
  append(bytes: Uint8Array, length: number): void;
  /** fdatasync the current file in the background (`batch`); resolves at once under `none`/`always`. */
  syncBatch(): Promise<void>;
  /** Start a new file for the next append. */
  rotate(): void;
  close(): void;
}

export function openSpoolWriter(dir: string, fsync: SpoolFsync): SpoolWriter {
  mkdirSync(dir, { recursive: true });
  let seq = 0;
  let fd = -1;
  let name = '';
  let size = 0;
  let lastStamp = 0;
  const open = () => {
    // Names sort in write order, also across a restart within the same millisecond.
    const stamp = Math.max(
      Date.now(),
      lastStamp,
      ...segmentFiles(dir)
        .slice(-1)
        .map((f) => Number(FILE_RE.exec(f)?.[1] ?? 0) + 1),
    );
    lastStamp = stamp;
    name = `${stamp}-${String(seq++).padStart(6, '0')}.spool`;
    fd = openSync(join(dir, name), 'a');
    size = 0;
  };
  return {
    file: () => {
      if (fd < 0) open();
      return name;
    },
    current: () => (fd >= 0 ? name : ''),
    size: () => (fd >= 0 ? size : 0),
    append(bytes, length) {
      if (fd < 0) open();
      try {
        let off = 0;
        // A short write (a signal, a nearly full disk) is finished, not taken for the whole line.
        while (off < length) off += writeSync(fd, bytes, off, length - off);
        if (fsync === 'always') fdatasyncSync(fd);
      } catch (err) {
        // A partial line may now end the file: never append after it.
        this.rotate();
        throw err;
      }
      size += length;
    },
    syncBatch() {
      if (fsync !== 'batch' || fd < 0) return Promise.resolve();
      const f = fd;
      return new Promise((resolve) => fdatasync(f, () => resolve()));
    },
    rotate() {
      if (fd >= 0) {
        const f = fd;
        fd = -1;
        // Under `batch`, a pending fdatasync may still use it: close after one turn.
        setImmediate(() => {
          try {
            closeSync(f);
          } catch {
            // already closed
          }
        });
      }
    },
    close() {
      if (fd >= 0) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
        fd = -1;
      }
    },
  };
}

/**
 * Delete a segment file, off the event-loop thread (libuv's pool): unlink(2) is not
 * cheap. ext4 frees the file's blocks inside it, and mounted with `discard` it waits
 * for the disk to discard them: 1.4–4.9 ms per 8 MB segment on the bench VM, seen
 * as the proxy thread asleep in blkdev_issue_discard (perf sched,
 * docs/operations.md). Resolves when the file is gone (or already was).
 */
export function removeSegment(dir: string, file: string): Promise<void> {
  return unlink(join(dir, file)).catch(() => undefined);
}

export function segmentBytes(dir: string, file: string): number {
  try {
    return statSync(join(dir, file)).size;
  } catch {
    return 0;
  }
}
