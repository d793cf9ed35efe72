// Copies the SQL migrations next to the compiled store modules (tsc copies only .ts output).
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.sql')) cpSync(p, join(root, 'dist', relative(root, p)));
  }
}
if (existsSync(join(root, 'src'))) walk(join(root, 'src'));
