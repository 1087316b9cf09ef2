// Records a hash of the bundle's sources in the bundle (build-info.json), so a test can tell
// when the committed bundle is stale. tests/ui/test_bundle.py computes the same hash.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else files.push(relative(root, p).split(sep).join('/'));
  }
}
walk(join(root, 'src'));
for (const extra of ['index.html', 'vite.config.ts', 'package.json', 'package-lock.json']) files.push(extra);
files.sort();
const h = createHash('sha256');
for (const f of files) {
  h.update(f);
  h.update('\0');
  h.update(readFileSync(join(root, f)));
  h.update('\0');
}
const out = join(root, '..', 'src', 'assay', 'web', 'static', 'build-info.json');
writeFileSync(out, JSON.stringify({ src_hash: h.digest('hex'), files: files.length }, null, 2) + '\n');
console.log('stamped', out);
