// Exit 1 unless uWebSockets.js's *native* binding loads in this runtime.
// The package silently falls back to a slow JS implementation when the binary
// for this platform / Node ABI / libc is missing, so load the binary directly:
// the image build fails here instead of a pod starting on the fallback.
// --prune-others: then delete the binaries for other platforms and Node ABIs
// (about 90 MB the image never loads).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dir = path.dirname(require.resolve('uWebSockets.js/package.json'));
const file = path.join(dir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
try {
  const mod = { exports: {} };
  process.dlopen(mod, file);
  if (typeof mod.exports.App !== 'function') throw new Error('the binding has no App export');
  if (process.argv.includes('--prune-others')) {
    const binaries = path.dirname(file);
    for (const name of fs.readdirSync(binaries)) if (name !== path.basename(file)) fs.rmSync(path.join(binaries, name));
  }
  console.log(`uWebSockets.js native binding OK: ${path.basename(file)} (node ${process.version}, ${process.platform}-${process.arch})`);
} catch (err) {
  console.error(`uWebSockets.js native binding does not load here: ${file}\n${err?.message}`);
  console.error('Use a glibc (Debian bookworm) Node 20 base image; alpine/musl and other Node majors have no binding.');
  process.exit(1);
}
