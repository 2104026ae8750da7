/**
 * Run work after uWS has parsed everything it read in this turn.
 *
 * uWS v20.30 refuses asynchronous pipelining by closing the connection when a
 * second request arrives while the first is unanswered (which aborts the first).
 * A request forwarded at once would already have reached the upstream by then, and
 * its client would get no answer. Sending from the check phase (one `setImmediate`
 * for all requests of the turn) lets that abort land first: pipelined requests are
 * then either answered in order (the earlier ones synchronously) or none of them
 * reaches the upstream.
 */
let queue: Array<() => void> = [];
let spare: Array<() => void> = [];
let scheduled = false;

export function afterParse(fn: () => void): void {
  queue.push(fn);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

function flush(): void {
  scheduled = false;
  const run = queue;
  queue = spare;
  for (let i = 0; i < run.length; i++) run[i]!();
  run.length = 0;
  spare = run;
}
