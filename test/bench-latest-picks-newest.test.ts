/** `npm run bench:latest` names, per benchmark, the newest dated folder holding it, with its sha and headline. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { latestResults } from '../bench/latest.js';
import { writeResultFiles } from '../bench/results-dir.js';

const root = mkdtempSync(join(tmpdir(), 'argus-bench-latest-'));
after(() => rmSync(root, { recursive: true, force: true }));

function put(folder: string, file: string, text: string): void {
  mkdirSync(join(root, folder), { recursive: true });
  writeFileSync(join(root, folder, file), text);
}

describe('bench results keyed by commit', () => {
  // p99 in an older and a newer folder; suite only in the older one; a stray folder is ignored.
  put('2026-12-01-aaaaaaa', 'p99.md', '# p99\n\nCommit: `aaaaaaa` · 2026-12-01T10:00:00.000Z · `node x`\n\n- old headline\n');
  put('2026-12-01-aaaaaaa', 'p99.json', '{"date":"2026-12-01T10:00:00.000Z"}\n');
  put('2026-12-01-aaaaaaa', 'suite.md', '# suite\n\n| a | b |\n|---|---|\n| first | row |\n');
  put('2026-12-03-bbbbbbb-dirty', 'p99.md', '# p99\n\nCommit: `bbbbbbb-dirty` · 2026-12-03T09:00:00.000Z · `node x`\n\n- new headline\n');
  put('notes', 'p99.md', '# p99\n\n- not a result folder\n');

  it('picks the newest folder per benchmark and keeps the others', () => {
    const latest = latestResults(root);
    assert.deepEqual(
      latest.map((r) => [r.name, r.folder, r.sha]),
      [
        ['p99', '2026-12-03-bbbbbbb-dirty', 'bbbbbbb-dirty'],
        ['suite', '2026-12-01-aaaaaaa', 'aaaaaaa'],
      ],
    );
    assert.deepEqual(latest[0]!.headline, ['p99', '- new headline']);
    assert.deepEqual(latest[1]!.headline, ['suite', '| first | row |']);
  });

  it('a result written now becomes the latest, in a folder named after today and HEAD', () => {
    const dir = writeResultFiles('p99', 'node dist/bench/p99.js', { pinned: 'test' }, { rows: [] }, '# p99\n\n- newest\n', root);
    const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' }).stdout.trim();
    const p99 = latestResults(root).find((r) => r.name === 'p99')!;
    assert.equal(join(root, p99.folder), dir);
    assert.match(p99.folder, new RegExp(`^\\d{4}-\\d{2}-\\d{2}-${head}(-dirty)?$`));
    assert.deepEqual(p99.files, ['p99.json', 'p99.md']);
    assert.deepEqual(p99.headline, ['p99', '- newest']);
  });
});
