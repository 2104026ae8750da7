/**
 * A callgrind dump as instructions per function, JIT code named through the
 * sidecar's `--perf-basic-prof` map (`bench/instructions.ts`, `bench/profile-diff.ts`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Per function: instructions in one dump, JIT addresses named from the perf map. */
export function profile(dump: string, perfMap: string): Map<string, number> {
  const jit = readFileSync(perfMap, 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((p) => p.length >= 3)
    .map(([a, len, ...name]) => ({ start: parseInt(a!, 16), end: parseInt(a!, 16) + parseInt(len!, 16), name: name.join(' ') }))
    .sort((x, y) => x.start - y.start);
  const nameOf = (addr: number) => {
    let lo = 0;
    let hi = jit.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (jit[mid]!.start <= addr) lo = mid + 1;
      else hi = mid - 1;
    }
    const e = jit[hi];
    return e && addr < e.end ? e.name : undefined;
  };
  const out = new Map<string, number>();
  const text = spawnSync('callgrind_annotate', ['--threshold=100', dump], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout;
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+) \([ \d.]+%\)\s+(.*)$/.exec(line);
    if (!m || m[2]!.includes('PROGRAM TOTALS')) continue;
    const addr = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]/.exec(m[2]!);
    let name = addr ? (nameOf(parseInt(addr[1]!, 16)) ?? m[2]!) : m[2]!;
    // Short names: no "???:" / "[object]", C++ without its parameter list, JS without the checkout's path.
    name = name
      .replace(/^\?\?\?:/, '')
      .replace(/ \[[^\]]*\]$/, '')
      .replace(/file:\/\/\/\S*?\/dist\//, '')
      .replace(/^\.\/\S*:/, '');
    if (name.includes('::')) name = name.replace(/\(.*$/, '').replace(/^.* (?=\S*::)/, '');
    name = name.slice(0, 90);
    out.set(name, (out.get(name) ?? 0) + Number(m[1]!.replace(/,/g, '')));
  }
  return out;
}

/**
 * TurboFan at work (the `v8::internal::compiler` namespace): instructions of a
 * compile that landed in the counted window, not of the requests. A lower bound
 * of the compiler's share (helpers outside the namespace are not counted).
 */
export function isCompiler(name: string): boolean {
  return name.includes('compiler::');
}

/** Instructions in `p` spent in TurboFan ({@link isCompiler}). */
export function compilerShare(p: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const [k, v] of p) if (isCompiler(k)) n += v;
  return n;
}
