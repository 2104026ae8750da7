/**
 * Outcome: the producer's acknowledgement poll (one script call for a whole round,
 * src/meter/queue.ts JOB_STATES_LUA) reads every job the way BullMQ's own
 * getJobState does, folded to what the producer acts on: `completed` (forget
 * the batch), `unknown` (Redis lost it: send it again), anything else Redis
 * still holds `pending` (wait). Jobs are put in each state by real BullMQ
 * (a Worker completes and fails them; delays and a waiting job stay put), and
 * one job's keys are removed as a Redis that lost it would have.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { bullPrefix, createUsageQueue, type UsageQueue } from '../src/meter/queue.js';
import { obliterateQueue, rand, rawConfig, SHARED_REDIS, tempDir, toConfig, waitFor } from './support/meter-env.js';

const queueName = `states-${rand()}`;
const prefix = `argus-test-${rand()}:`;
const tmp = tempDir();
const cfg = toConfig(rawConfig({ redisUrl: SHARED_REDIS, queue: queueName, prefix, spoolDir: tmp.dir }));
const connection = new Redis(SHARED_REDIS, { maxRetriesPerRequest: null });
const bull = new Queue(queueName, { connection, prefix: bullPrefix(cfg) });
let usage: UsageQueue;

before(async () => {
  usage = createUsageQueue(cfg, SHARED_REDIS);
  await waitFor('the usage queue to connect', () => usage.connected(), 5000, 10);
});

after(async () => {
  await usage.close();
  await bull.close();
  connection.disconnect();
  await obliterateQueue(SHARED_REDIS, queueName, prefix);
  tmp.remove();
});

/** What the producer should conclude from BullMQ's own reading of a job. */
const folded = (bullState: string): string => (bullState === 'completed' ? 'completed' : bullState === 'unknown' ? 'unknown' : 'pending');

test('one poll reads completed, failed, delayed, waiting and lost jobs as BullMQ does', async () => {
  // Processed by a worker: one completes, one fails for good (one attempt).
  await bull.add('rows', { n: 1 }, { jobId: 'done-1', removeOnComplete: { age: 3600 } });
  await bull.add('rows', { n: 2 }, { jobId: 'fails-1', attempts: 1, removeOnFail: false });
  const workerConnection = new Redis(SHARED_REDIS, { maxRetriesPerRequest: null });
  const worker = new Worker(
    queueName,
    async (job: Job) => {
      if (job.id === 'fails-1') throw new Error('rejected on purpose');
      return 'ok';
    },
    { connection: workerConnection, prefix: bullPrefix(cfg), autorun: true },
  );
  try {
    await waitFor('the worker to complete one job and fail the other', async () => {
      const [a, b] = await Promise.all([bull.getJobState('done-1'), bull.getJobState('fails-1')]);
      return a === 'completed' && b === 'failed';
    });
  } finally {
    await worker.close();
    workerConnection.disconnect();
  }
  // Left in the queue with no worker: one waiting, one delayed.
  await bull.add('rows', { n: 3 }, { jobId: 'waits-1' });
  await bull.add('rows', { n: 4 }, { jobId: 'later-1', delay: 3_600_000 });
  // Accepted once, then lost (as after a Redis restart without persistence): its hash and list entry gone.
  await bull.add('rows', { n: 5 }, { jobId: 'lost-1' });
  await connection.del(bull.toKey('lost-1'));
  await connection.lrem(bull.toKey('wait'), 0, 'lost-1');
  const ids = ['done-1', 'fails-1', 'waits-1', 'later-1', 'lost-1', 'never-sent-1'];

  const theirs = await Promise.all(ids.map((id) => bull.getJobState(id)));
  assert.deepEqual(theirs, ['completed', 'failed', 'waiting', 'delayed', 'unknown', 'unknown'], 'BullMQ set the states up as intended');
  assert.deepEqual(await usage.states(ids), theirs.map(folded));
});

test('a round of 2,000 ids is one call that answers each id in order', async () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `bulk-${i}`);
  // Every third one exists (waiting); the rest were never sent.
  await bull.addBulk(ids.filter((_, i) => i % 3 === 0).map((id) => ({ name: 'rows', data: {}, opts: { jobId: id } })));
  const client = new Redis(SHARED_REDIS);
  const monitor = await client.monitor();
  const calls: string[] = [];
  monitor.on('monitor', (_t: string, args: string[]) => calls.push(String(args[0]).toLowerCase()));
  try {
    const states = await usage.states(ids);
    assert.equal(states.length, 2000);
    assert.deepEqual(
      states,
      ids.map((_, i) => (i % 3 === 0 ? 'pending' : 'unknown')),
    );
    await new Promise((r) => setTimeout(r, 100));
    // The poll itself: one EVAL (what the script runs inside Redis is not a client call).
    assert.equal(calls.filter((c) => c === 'eval' || c === 'evalsha').length, 1, `calls seen: ${calls.slice(0, 10).join(', ')}`);
  } finally {
    monitor.disconnect();
    client.disconnect();
  }
  assert.deepEqual(await usage.states([]), []);
});
