// Keeps the house rules of shared/design/ARCHITECTURE.md: src/core imports no I/O library and nothing outside
// core/ and common/; the built-in hub (src/hub) shares nothing with the DPS core. Exits 1 and lists violations.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const IO = /^(node:)?(net|tls|http|https|http2|dgram|child_process|fs|fs\/promises)$|^(aedes|rhea|better-sqlite3|pg|postgres|mqtt|ws|node-forge)(\/|$)/;

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function imports(file) {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]);
}

export function violations() {
  const out = [];
  for (const file of files(join(root, 'src', 'core'))) {
    for (const spec of imports(file)) {
      if (IO.test(spec)) out.push(`${relative(root, file)}: the core must not import the I/O library '${spec}'`);
      if (spec.startsWith('.')) {
        const target = relative(root, resolve(file, '..', spec));
        if (!target.startsWith('src/core') && !target.startsWith('src/common')) out.push(`${relative(root, file)}: the core may import only core/ and common/, not '${spec}'`);
      }
    }
  }
  for (const file of files(join(root, 'src', 'hub'))) {
    for (const spec of imports(file)) {
      const target = spec.startsWith('.') ? relative(root, resolve(file, '..', spec)) : '';
      if (target.startsWith('src/core') || target.startsWith('src/adapters')) out.push(`${relative(root, file)}: the built-in hub must not import the DPS core or adapters ('${spec}')`);
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const v = violations();
  for (const line of v) console.error(line);
  process.exit(v.length ? 1 : 0);
}
