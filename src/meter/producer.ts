/**
 * The usage producer in the proxy: every usage event goes to the local spool
 * (./spool.ts) before the response that produced it is complete, and stays there
 * until the ledger is known to hold it.
 *
 * - `record` appends the event to the buffered batch (`BatchEncoder`, format 2
 *   rows); `checkpoint` notes a stream's usage so far (superseded by its final
 *   `record`). Neither writes at once: what was recorded in one event-loop turn
 *   goes to the spool in one write(2) at the end of the turn (setImmediate), and
 *   writes held with `afterSpooled` (the response's last bytes, see
 *   src/meter/durable.ts) run right after it. One write per turn, not per request:
 *   a write(2) costs ~3 µs of CPU here, more than the whole budget of a request.
 * - Every `flush_interval_ms` (or at `batch_max_events`) the batch is cut and sent
 *   to BullMQ (job id = batch id). The queue is a transport, not the only copy.
 * - Acknowledgement: a batch's job reaches BullMQ's completed state only after
 *   the billing worker's INSERT committed (src/billing/billing-worker.ts), so the
 *   producer polls the states of the jobs it sent (every `ack_interval_ms`):
 *   `completed` → acknowledged; unknown to Redis (Redis lost it: restarted empty,
 *   failed over, or the completed job aged out) → sent again (the ledger's ON
 *   CONFLICT absorbs a duplicate); still held (waiting, active, delayed, failed) → wait.
 *   One Redis call per poll for all of them (src/meter/queue.ts, JOB_STATES_LUA). A segment
 *   file is deleted once every batch in it is acknowledged and every checkpoint
 *   in it was superseded.
 * - A producer started on a spool directory with files (a crash, a restart) reads
 *   them, bills the latest checkpoint of every stream that never finished (one
 *   batch of partial events, written to the spool first), and treats every batch
 *   as sent-but-unacknowledged: the job states decide what is sent again.
 *
 * Memory: batches waiting to be sent keep their data in memory up to
 * `max_buffer_events`; past it the oldest are read back from the spool when sent.
 * If the spool write fails (disk full), events still travel through the queue but
 * are not crash-safe: metric `argus_usage_events_total{outcome="unspooled"}`, an
 * error log and `ready() === false`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { MeteringSlice } from './slice.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import { batchIdFor, type UsageEvent } from './events.js';
import { JsonBytes } from './json-bytes.js';
import { meterMetrics } from './metrics.js';
import { createUsageQueue, type UsageQueue } from './queue.js';
import { adoptOrphanSpools } from './adopt.js';
import { openSpoolWriter, readSegment, removeSegment, segmentBytes, segmentFiles, type LoggedBatch } from './spool.js';
import { BatchEncoder, decodeBatch, encodeBatch, JOB_NAMES, type RowsJobData } from './wire.js';

/** Events per addBulk call at most (see pump). */
const MAX_EVENTS_PER_ADD = 1000;
/** Job states polled per ack round at most. */
const MAX_ACK_CHECKS = 2000;

export interface Meter {
  /**
   * Never throws: the event joins the buffered batch; it is spooled at the end of this event-loop turn.
   * `idDerived`: the caller knows `ev.event_id` is `ev_<request_id>.request` (the encoder then never reads the id).
   */
  record(ev: UsageEvent, idDerived?: boolean): void;
  /** A stream's usage so far (spooled like `record`); the event's `record` supersedes it. */
  checkpoint(ev: UsageEvent): void;
  /** Something recorded is not in the spool yet. */
  dirty(): boolean;
  /** Run `fn` (or `fn.spooled()`) once everything recorded so far is in the spool (at the end of this turn; in order). */
  afterSpooled(fn: SpoolWaiter): void;
  /** Spool, cut and send the buffered batch now. Resolves when it was handed to the queue (or the send failed). */
  flush(): Promise<void>;
  /** False once closed, or while the disk refuses spool writes. */
  readonly ready: () => boolean;
  /** Idempotent; spools and sends what is buffered (SIGTERM path), then closes Redis and the spool. */
  close(): Promise<void>;
}

/** What waits for the turn's spool write: a closure, or an object (a held response, without a closure of its own). */
export type SpoolWaiter = (() => void) | { spooled(): void };

/**
 * The spool directory of a proxy thread: `<metering.spool_dir>/t<index>`, index 0 … threads − 1
 * (one owner per directory; the same names whatever worker thread ids a start gets).
 */
export function spoolDirFor(cfg: MeteringSlice, thread = 0): string {
  return join(cfg.metering.spool_dir, `t${thread}`);
}

/** Which of the sidecar's threads a meter serves (default: the only one). */
export interface MeterThread {
  readonly index: number;
  readonly count: number;
}

type State = 'unsent' | 'sent';

interface Batch {
  readonly id: string;
  /** Segment file holding it ('' when the spool write failed). */
  readonly file: string;
  readonly size: number;
  /** Job data (format 2, JSON text as UTF-8 bytes, off the V8 heap: see BatchEncoder.jsonBytes) while held in memory; null: read it back from the spool. */
  data: Buffer | null;
  state: State;
  sentAt: number;
  /** Times handed to the queue (by this process or, for recovered batches, at least once before). */
  sends: number;
  /** Not polled again before this (epoch ms): a job still waiting is asked about less and less often. */
  nextCheck: number;
  /** ms to wait after the next poll that finds the job still pending. */
  backoff: number;
}

/** Longest pause between two polls of a job still waiting in the queue (and at most 16 × ack_interval_ms). */
const MAX_ACK_BACKOFF_MS = 30000;

interface Segment {
  readonly batches: Set<string>;
  /** Checkpoints whose latest record is in this file and whose event has no final record yet. */
  open: number;
  /** Bytes in the file (counted as written: the spool gauge asks no stat(2) of the disk). */
  bytes: number;
}

/**
 * Create the producer. `cfg.redis` absent → standalone: every batch stays in the
 * spool (a later process with Redis sends it). `metering.enabled: false` → a
 * meter that records nothing.
 */
export function createMeter(
  cfg: MeteringSlice,
  deps: {
    metrics: Metrics;
    log: Logger;
    /** Reserved: event times come from the caller. */
    now?: () => number;
    /** Thread 0 also adopts the spools of threads that no longer run (./adopt.ts). */
    thread?: MeterThread;
  },
): Meter {
  const m = cfg.metering;
  if (!m.enabled) return disabledMeter();
  const log = deps.log.child({ component: 'meter' });
  const mm = meterMetrics(deps.metrics);
  const thread = deps.thread ?? { index: 0, count: 1 };
  const dir = spoolDirFor(cfg, thread.index);
  if (thread.index === 0) adoptOrphanSpools(m.spool_dir, dir, thread.count, log);
  const writer = openSpoolWriter(dir, m.spool_fsync);
  // On every (re)connect, ask about every sent batch at once: a Redis that restarted may have lost them.
  const onReady = () => {
    for (const b of batches.values()) b.nextCheck = 0;
    void ackRound();
  };
  const queue: UsageQueue | null = cfg.redis ? createUsageQueue(cfg, cfg.redis, { log, metrics: deps.metrics, onReady }) : null;

  const batches = new Map<string, Batch>();
  const segments = new Map<string, Segment>();
  /** Event id → segment of its latest checkpoint, while the event has no final record. */
  const openCheckpoints = new Map<string, string>();
  let buffer = new BatchEncoder(2);
  /** The buffered batch's job id (see `record`): its first event's, this process's nonce and a counter. */
  let bufferId = '';
  const batchNonce = randomBytes(4).toString('hex');
  let batchSeq = 0;
  /** The turn's spool line(s), built in place and written with one write(2) (reused: no garbage per turn). */
  const line = new JsonBytes(4096);
  /** Segment the buffered batch's lines are in ('' before its first line). */
  let bufferFile = '';
  let checkpointLines: string[] = [];
  let checkpointIds: string[] = [];
  /** Final events recorded this turn for which a checkpoint is open. */
  let finals: string[] = [];
  let waiters: SpoolWaiter[] = [];
  let scheduled = false;
  let inMemory = 0;
  let timer: NodeJS.Timeout | null = null;
  let pumping: Promise<void> | null = null;
  let acking: Promise<void> | null = null;
  let diskFull = false;
  /** The buffered batch's line could not be written: it travels unspooled (see cut). */
  let bufferBroken = false;
  let degraded = false;
  let closed = false;
  let closing: Promise<void> | null = null;

  const segmentOf = (file: string): Segment => {
    let s = segments.get(file);
    if (!s) segments.set(file, (s = { batches: new Set(), open: 0, bytes: 0 }));
    return s;
  };
  const gauges = () => {
    let bytes = 0;
    for (const s of segments.values()) bytes += s.bytes;
    mm.spoolBytes.set(bytes);
  };
  /** Segment deletions still running (close waits for them: a clean stop leaves the directory as it says). */
  const removing = new Set<Promise<void>>();

  recover();
  const ackTimer = queue ? setInterval(() => void ackRound(), m.ack_interval_ms) : null;
  ackTimer?.unref();
  const removeBufferSource = mm.addBufferSource(() => buffer.size + inMemory);
  if (!queue) log.info('meter: standalone (no redis): usage events are spooled until a process with Redis sends them', { spool_dir: dir });

  /** Read what an earlier process left in the spool directory. */
  function recover(): void {
    const files = segmentFiles(dir);
    if (files.length === 0) return;
    const found: LoggedBatch[] = [];
    const checkpoints = new Map<string, UsageEvent>();
    for (const f of files) {
      const c = readSegment(dir, f, log);
      found.push(...c.batches);
      for (const [id, ev] of c.checkpoints) {
        checkpoints.delete(id);
        checkpoints.set(id, ev);
      }
      segmentOf(f).bytes = segmentBytes(dir, f);
    }
    const seen = new Set<string>();
    for (const b of found) {
      if (seen.has(b.id)) continue;
      seen.add(b.id);
      const size = b.data.r.length / 9 + (b.data.x?.length ?? 0);
      batches.set(b.id, { id: b.id, file: b.file, size, data: null, state: 'sent', sentAt: 0, sends: 1, nextCheck: 0, backoff: 0 });
      segmentOf(b.file).batches.add(b.id);
      if (checkpoints.size > 0) for (const e of decodeBatch(JOB_NAMES[2], b.data)) checkpoints.delete((e as UsageEvent).event_id);
    }
    // Streams cut by the crash: their latest checkpoint is what was delivered. One batch, spooled before the old files can go.
    const orphans = [...checkpoints.values()];
    if (orphans.length > 0) {
      const id = `${batchIdFor(orphans[0]!.event_id)}.p`;
      if (!batches.has(id)) {
        const enc = new BatchEncoder(2);
        for (const e of orphans) enc.add(e);
        line.len = 0;
        enc.spoolLineTo(id, line);
        writer.append(line.buf, line.len);
        const file = writer.file();
        segmentOf(file).bytes += line.len;
        batches.set(id, { id, file, size: enc.size, data: enc.jsonBytes(), state: 'unsent', sentAt: 0, sends: 0, nextCheck: 0, backoff: 0 });
        inMemory += enc.size;
        segmentOf(file).batches.add(id);
        writer.rotate();
      }
    }
    for (const f of files) maybeRemove(f);
    log.info('meter: spool recovered', { files: files.length, batches: batches.size, partial_events: orphans.length });
    gauges();
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(spoolTurn);
  }

  function record(ev: UsageEvent, idDerived = false): void {
    // The batch's job id is fixed by its first event and made unique to this batch: two
    // batches that start with the same event (a client re-sending usage through
    // `POST /v1/usage/events` next to new events) must not share a job id, or the queue
    // keeps the first and drops the second's other events. Replays read the id from the spool.
    if (buffer.size === 0) bufferId = `${batchIdFor(ev.event_id)}~${batchNonce}${(batchSeq++).toString(36)}`;
    buffer.add(ev, idDerived);
    if (openCheckpoints.size > 0 && openCheckpoints.has(ev.event_id)) finals.push(ev.event_id);
    schedule();
    if (buffer.size >= m.batch_max_events) {
      void flush();
    } else if (!timer && !closed) {
      timer = setTimeout(() => void flush(), m.flush_interval_ms);
    }
  }

  function checkpoint(ev: UsageEvent): void {
    checkpointLines.push(JSON.stringify({ p: ev }) + '\n');
    checkpointIds.push(ev.event_id);
    schedule();
  }

  /** Write what this turn recorded, then release the held writes. */
  function spoolTurn(): void {
    scheduled = false;
    spoolNow();
    const run = waiters;
    if (run.length > 0) waiters = [];
    for (const fn of run) {
      try {
        if (typeof fn === 'function') fn();
        else fn.spooled();
      } catch (err) {
        log.error('meter: a held response write failed', { err });
      }
    }
    if (buffer.size >= m.batch_max_events) void flush();
  }

  function spoolNow(): void {
    const batchId = buffer.size > 0 && !bufferBroken ? bufferId : '';
    line.len = 0;
    if (batchId) buffer.spoolLineTo(batchId, line);
    for (const cp of checkpointLines) line.utf8(cp);
    const cps = checkpointIds;
    const fin = finals;
    if (checkpointLines.length > 0) {
      checkpointLines = [];
      checkpointIds = [];
    }
    if (fin.length > 0) finals = [];
    if (line.len === 0) return;
    let file = '';
    try {
      file = writer.file();
      writer.append(line.buf, line.len);
      segmentOf(file).bytes += line.len;
      mm.spoolWrites.inc();
      if (diskFull) log.info('meter: spool writable again');
      diskFull = false;
    } catch (err) {
      if (!diskFull)
        log.error('meter: USAGE EVENTS NOT SPOOLED: spool write failed (they still go to the queue, but a crash now loses them)', { err, spool_dir: dir });
      diskFull = true;
      file = '';
      if (batchId) bufferBroken = true;
    }
    if (batchId && bufferFile === '' && file) bufferFile = file;
    if (file) {
      for (const id of cps) {
        const prev = openCheckpoints.get(id);
        if (prev === file) continue;
        if (prev !== undefined) release(prev);
        openCheckpoints.set(id, file);
        segmentOf(file).open++;
      }
    }
    for (const id of fin) {
      const prev = openCheckpoints.get(id);
      if (prev === undefined) continue;
      openCheckpoints.delete(id);
      release(prev);
    }
  }

  function release(file: string): void {
    const s = segments.get(file);
    if (s) {
      s.open--;
      maybeRemove(file);
    }
  }

  function maybeRemove(file: string): void {
    const s = segments.get(file);
    if (!s || s.batches.size > 0 || s.open > 0 || file === bufferFile) return;
    if (file === writer.current()) {
      // The open file: done with it only when nothing is waiting to be written into it.
      if (scheduled || buffer.size > 0) return;
      writer.rotate();
    }
    segments.delete(file);
    const p = removeSegment(dir, file).finally(() => removing.delete(p));
    removing.add(p);
  }

  /** Cut the buffered batch (spooled first). */
  function cut(): Batch | null {
    spoolNow();
    if (buffer.size === 0) return null;
    const id = bufferId;
    const b: Batch = {
      id,
      file: bufferBroken ? '' : bufferFile,
      size: buffer.size,
      data: buffer.jsonBytes(),
      state: 'unsent',
      sentAt: 0,
      sends: 0,
      nextCheck: 0,
      backoff: 0,
    };
    mm.events.inc({ outcome: b.file ? 'spooled' : 'unspooled' }, b.size);
    buffer = new BatchEncoder(2);
    bufferFile = '';
    bufferBroken = false;
    if (b.file) {
      batches.set(id, b);
      segmentOf(b.file).batches.add(id);
      if (writer.size() >= m.spool_file_bytes) writer.rotate();
    } else {
      // Not in the spool (disk refused it): only the queue holds it once sent.
      batches.set(id, b);
    }
    inMemory += b.size;
    shed();
    return b;
  }

  /** Keep at most max_buffer_events in memory: the oldest unsent batches are read back from the spool when sent. */
  function shed(): void {
    const max = Math.max(0, m.max_buffer_events - m.batch_max_events);
    if (inMemory <= max) return;
    for (const b of batches.values()) {
      if (inMemory <= max) break;
      if (b.data && b.file) {
        b.data = null;
        inMemory -= b.size;
      }
    }
  }

  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    const b = cut();
    if (!b || !queue) {
      gauges();
      return pumping ?? Promise.resolve();
    }
    return writer.syncBatch().then(() => pump());
  }

  function pump(): Promise<void> {
    if (!queue) return Promise.resolve();
    pumping ??= pumpAll().finally(() => {
      pumping = null;
      readBack = null;
      gauges();
    });
    return pumping;
  }

  /**
   * Send unsent batches, oldest first, at most MAX_EVENTS_PER_ADD events (16
   * batches) per call: a backlog drains as several short calls. Stops at the
   * first failure (the ack round retries).
   */
  async function pumpAll(): Promise<void> {
    const q = queue!;
    for (;;) {
      const group: Batch[] = [];
      let events = 0;
      for (const b of batches.values()) {
        if (b.state !== 'unsent') continue;
        if (group.length > 0 && (group.length >= 16 || events + b.size > MAX_EVENTS_PER_ADD)) break;
        group.push(b);
        events += b.size;
      }
      if (group.length === 0) return;
      if (!q.connected()) {
        if (!degraded) log.warn('meter: redis not connected; usage stays in the spool until it is back');
        degraded = true;
        return;
      }
      try {
        const jobs = group.map((b) => ({ id: b.id, data: jobData(b) }));
        await q.add(
          jobs
            .filter((j): j is { id: string; data: Buffer | string } => j.data !== null)
            .map((j) =>
              m.job_format === 1
                ? { id: j.id, data: encodeBatch(decodeBatch(JOB_NAMES[2], JSON.parse(j.data.toString()) as RowsJobData) as UsageEvent[], 1) }
                : { id: j.id, json: j.data },
            ),
        );
      } catch (err) {
        if (!degraded) log.warn('meter: queue unavailable; usage stays in the spool and is sent when Redis answers', { err });
        degraded = true;
        return;
      }
      if (degraded) log.info('meter: queue reachable again');
      degraded = false;
      const now = Date.now();
      for (const b of group) {
        if (!batches.has(b.id)) continue; // gone from disk (logged in jobData)
        mm.events.inc({ outcome: b.sends++ === 0 ? 'queued' : 'replayed' }, b.size);
        b.state = 'sent';
        b.sentAt = now;
        b.nextCheck = now + m.ack_interval_ms;
        b.backoff = m.ack_interval_ms;
        if (b.data && b.file) {
          b.data = null;
          inMemory -= b.size;
        }
        if (!b.file) {
          // Nothing on disk to keep it for: the queue has it.
          batches.delete(b.id);
          if (b.data) inMemory -= b.size;
        }
      }
    }
  }

  /**
   * The segment last read back by {@link jobData}, by batch id: a backlog re-sent after
   * Redis lost it (or after a restart) comes from a few large segments, and reading
   * the whole file again for each of its thousands of batches stalled the event loop
   * (O(batches × segment size)). Dropped when a pump ends.
   */
  let readBack: { file: string; byId: Map<string, LoggedBatch> } | null = null;

  /** The batch's job data as JSON text (bytes while in memory): in memory, or read back from its segment (null: gone from disk too). */
  function jobData(b: Batch): Buffer | string | null {
    if (b.data) return b.data;
    let found = readBack?.file === b.file ? readBack.byId.get(b.id) : undefined;
    if (found === undefined) {
      // Not read yet, or the segment grew since (the current one is still appended to).
      readBack = { file: b.file, byId: new Map(readSegment(dir, b.file, log).batches.map((x) => [x.id, x])) };
      found = readBack.byId.get(b.id);
    }
    if (!found) {
      log.error('meter: a spooled batch is missing from its file; dropped', { batch: b.id, file: b.file });
      forget(b);
      return null;
    }
    return JSON.stringify(found.data);
  }

  function forget(b: Batch): void {
    batches.delete(b.id);
    if (b.data) inMemory -= b.size;
    const s = segments.get(b.file);
    if (s) {
      s.batches.delete(b.id);
      maybeRemove(b.file);
    }
  }

  /** Poll the states of sent batches: completed → acknowledged (forget); unknown to Redis → send again. */
  function ackRound(): Promise<void> {
    if (!queue || closed) return Promise.resolve();
    return ackOnce();
  }

  function ackOnce(): Promise<void> {
    if (!queue) return Promise.resolve();
    acking ??= (async () => {
      const sent: Batch[] = [];
      const now = Date.now();
      for (const b of batches.values()) {
        if (b.state === 'sent' && b.nextCheck <= now) sent.push(b);
        if (sent.length >= MAX_ACK_CHECKS) break;
      }
      if (sent.length > 0 && queue.connected()) {
        let states: string[];
        try {
          states = await queue.states(sent.map((b) => b.id));
        } catch {
          states = [];
        }
        let acked = 0;
        let lost = 0;
        for (let i = 0; i < states.length; i++) {
          const b = sent[i]!;
          if (b.state !== 'sent') continue;
          if (states[i] === 'completed') {
            forget(b);
            acked += b.size;
          } else if (states[i] === 'unknown') {
            b.state = 'unsent';
            lost++;
          } else {
            // Still waiting, active, delayed or failed: ask again later, less often.
            b.backoff = Math.min(b.backoff * 2, MAX_ACK_BACKOFF_MS, m.ack_interval_ms * 16);
            b.nextCheck = now + b.backoff;
          }
        }
        if (acked > 0) mm.events.inc({ outcome: 'acked' }, acked);
        if (lost > 0) log.warn('meter: redis no longer has batches it accepted; sending them again from the spool', { batches: lost });
      }
      await pump();
    })().finally(() => {
      acking = null;
      gauges();
    });
    return acking;
  }

  return {
    record,
    checkpoint,
    dirty: () => scheduled,
    afterSpooled(fn) {
      waiters.push(fn);
      schedule();
    },
    flush,
    ready: () => !closed && !diskFull,
    close() {
      closing ??= (async () => {
        if (ackTimer) clearInterval(ackTimer);
        await flush();
        spoolTurn();
        closed = true;
        await pumping;
        await acking;
        // Give the workers a moment to acknowledge, so a clean stop leaves an empty spool when it can.
        const deadline = Date.now() + Math.min(m.queue_timeout_ms, 2000);
        while (queue?.connected() && [...batches.values()].some((b) => b.state === 'sent') && Date.now() < deadline) {
          for (const b of batches.values()) b.nextCheck = 0;
          await ackOnce();
          await new Promise((r) => setTimeout(r, 50));
        }
        await queue?.close();
        await Promise.all(removing);
        writer.close();
        gauges();
        removeBufferSource();
      })();
      return closing;
    },
  };
}

function disabledMeter(): Meter {
  return {
    record: () => undefined,
    checkpoint: () => undefined,
    dirty: () => false,
    afterSpooled: (fn) => (typeof fn === 'function' ? fn() : fn.spooled()),
    flush: async () => undefined,
    ready: () => true,
    close: async () => undefined,
  };
}
