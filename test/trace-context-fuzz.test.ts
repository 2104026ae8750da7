/**
 * The W3C Trace Context parser (src/observe/trace-context.ts) sees client bytes:
 * it must accept exactly the grammar. Checked against an independent reference
 * (regular expressions written from the spec) on random, mutated and truncated
 * headers; what it accepts re-formats to a valid header; it never throws.
 * Replay a failure with FUZZ_SEED=<seed>.
 */
import { hasControl } from '../src/forward/h1/chars.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatTraceparent,
  incomingTrace,
  lastTraceWord,
  newSpanId,
  newTraceId,
  newTraceparent,
  parseTraceparent,
  parseTracestate,
  sampledByRatio,
  sampledWord,
} from '../src/observe/trace-context.js';
import { prng } from './support/prng.js';

const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1e9);
const rand = prng(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (n: number) => Math.floor(rand() * n);

/** The spec's grammar, as regular expressions (the reference the parser is held to). */
function referenceTraceparent(v: string): boolean {
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(.*)$/s.exec(v);
  if (!m) return false;
  const [, version, trace, span, , rest] = m;
  if (version === 'ff' || /^0+$/.test(trace!) || /^0+$/.test(span!)) return false;
  if (version === '00') return rest === '';
  return rest === '' || rest!.startsWith('-');
}

const KEY = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
function referenceTracestate(v: string): string | null {
  if (v.length > 512) return null;
  const members = v
    .split(',')
    .map((m) => m.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((m) => m !== '');
  const keys = new Set<string>();
  for (const m of members) {
    const eq = m.indexOf('=');
    if (eq < 0) return null;
    const key = m.slice(0, eq);
    if (!KEY.test(key) || !VALUE.test(m.slice(eq + 1)) || keys.has(key)) return null;
    keys.add(key);
  }
  if (members.length > 32) return null;
  return members.length ? members.join(',') : null;
}

const HEXISH = '0123456789abcdefABCDEF-gz \t\u00e9';
function mutate(s: string): string {
  const chars = [...s];
  const n = 1 + int(3);
  for (let i = 0; i < n; i++) {
    const at = int(chars.length + 1);
    const op = int(4);
    if (op === 0) chars.splice(at, 1);
    else if (op === 1) chars.splice(at, 0, pick([...HEXISH]));
    else if (op === 2 && at < chars.length) chars[at] = pick([...HEXISH]);
    else chars.length = Math.min(chars.length, at);
  }
  return chars.join('');
}

function validTraceparent(): string {
  const version = pick(['00', '00', '00', '01', 'fe', 'cc']);
  const flags = pick(['00', '01', '03', 'ff']);
  const base = `${version}-${newTraceId()}-${newSpanId()}-${flags}`;
  return version === '00' ? base : pick([base, `${base}-extra`, `${base}-`]);
}

/** Printable ASCII (0x21–0x7e) only. */
const isVisibleAscii = (s: string): boolean => /^[\x21-\x7e]*$/.test(s);

describe(`trace context parser (FUZZ_SEED=${seed})`, () => {
  it('agrees with the reference grammar on 20,000 mutated traceparents', () => {
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      const v = i % 4 === 0 ? validTraceparent() : mutate(validTraceparent());
      const got = parseTraceparent(v);
      assert.equal(got !== null, referenceTraceparent(v), `traceparent ${JSON.stringify(v)}`);
      if (got) {
        accepted++;
        // Re-sent as version 00 with the same ids: what the sidecar forwards is always valid.
        const out = formatTraceparent(got.traceId, newSpanId(), (got.flags & 1) === 1);
        assert.ok(referenceTraceparent(out) && out.startsWith('00-'), out);
        assert.equal(out.slice(3, 35), v.slice(3, 35));
        // The h1 client sends the accepted header without its own character checks (`checked` headers).
        if (got.header !== null) assert.ok(!hasControl(got.header) && isVisibleAscii(got.header), JSON.stringify(got.header));
      }
    }
    assert.ok(accepted > 5000, `accepted ${accepted}`);
  });

  it('never throws on random bytes, and accepts none of them', () => {
    for (let i = 0; i < 20000; i++) {
      const len = int(80);
      let v = '';
      for (let j = 0; j < len; j++) v += String.fromCharCode(int(rand() < 0.9 ? 128 : 0x10000));
      assert.equal(parseTraceparent(v) !== null, referenceTraceparent(v), JSON.stringify(v));
      assert.equal(parseTracestate(v), referenceTracestate(v), JSON.stringify(v));
    }
  });

  it('agrees with the reference grammar on mutated tracestates', () => {
    const keys = ['congo', 'rojo', 'vendor@sys', '1tenant@x', 'a-b_c*d/e', 'k'];
    for (let i = 0; i < 20000; i++) {
      const members = Array.from({ length: int(5) }, () => `${pick(keys)}=${pick(['t61rcWkgMzE', 'x', 'a b', 'v=1', '00f067aa0ba902b7'])}`);
      const joined = members.join(pick([',', ', ', ' ,\t']));
      const v = rand() < 0.5 ? joined : mutate(joined);
      const got = parseTracestate(v);
      assert.equal(got, referenceTracestate(v), JSON.stringify(v));
      // Sent upstream without the h1 client's character checks: printable ASCII only.
      if (got !== null) assert.ok(!hasControl(got) && isVisibleAscii(got.replaceAll(' ', '')), JSON.stringify(got));
    }
  });

  it('takes the context only from exactly one valid traceparent, tracestate only beside it', () => {
    const tp = `00-${newTraceId()}-${newSpanId()}-01`;
    assert.equal(incomingTrace(['traceparent', tp, 'tracestate', 'a=1', 'tracestate', 'b=2']).state, 'a=1,b=2');
    assert.equal(incomingTrace(['traceparent', tp, 'traceparent', tp]).parent, null);
    assert.equal(incomingTrace(['traceparent', tp.toUpperCase()]).parent, null);
    assert.deepEqual(incomingTrace(['tracestate', 'a=1']), { parent: null, state: null });
    assert.equal(incomingTrace(['traceparent', tp, 'tracestate', 'BAD=1']).state, null);
    assert.equal(incomingTrace(['traceparent', tp])?.parent?.traceId, tp.slice(3, 35));
  });

  it('makes valid, distinct new trace headers whose sampling word matches their trace id', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const h = newTraceparent();
      assert.ok(referenceTraceparent(h) && h.endsWith('-00'), h);
      for (const ratio of [0.1, 0.5, 0.9]) assert.equal(sampledWord(lastTraceWord(), ratio), sampledByRatio(h.slice(3, 35), ratio), h);
      seen.add(h.slice(3, 35));
      seen.add(h.slice(36, 52));
    }
    assert.equal(seen.size, 10000);
  });

  it('samples by trace id: the same id always gets the same answer, the ratio holds roughly', () => {
    let yes = 0;
    for (let i = 0; i < 10000; i++) {
      const id = newTraceId();
      const a = sampledByRatio(id, 0.25);
      assert.equal(a, sampledByRatio(id, 0.25));
      if (a) yes++;
    }
    assert.ok(yes > 2000 && yes < 3000, `sampled ${yes} of 10000 at 0.25`);
    assert.equal(sampledByRatio(newTraceId(), 0), false);
    assert.equal(sampledByRatio(newTraceId(), 1), true);
  });
});
