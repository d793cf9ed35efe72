// Keeps the house rules of shared/design/ARCHITECTURE.md: src/core imports no I/O library and nothing outside
// core/ and common/; common/ holds only pure helpers (wire code is in src/transport); the built-in hub (src/hub) shares nothing with the DPS core. The device adapters
// (src/adapters/{http,mqtt,amqp}) and the device-API layer (src/device-api) see the core only through its declared
// surface (CORE_SURFACE: the `Core` interface in core/operations.ts, errors, model and request/answer types); the
// device API imports no transport library and no adapter. Exits 1 and lists violations.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const IO = /^(node:)?(net|tls|http|https|http2|dgram|child_process|fs|fs\/promises)$|^(aedes|rhea|better-sqlite3|pg|postgres|mqtt|ws|node-forge)(\/|$)/;

/** What adapters and the device API may import from src/core: the declared interface and its types. */
const CORE_SURFACE = new Set(['src/core/operations.ts', 'src/core/errors.ts', 'src/core/model.ts', 'src/core/ports.ts', 'src/core/registration/types.ts']);
/** Transport libraries: the wire belongs to the adapters (node:stream and node:tls types included). */
const TRANSPORT = /^(node:)?(net|tls|http|https|http2|dgram|stream)$|^(aedes|rhea|mqtt|mqtt-packet|ws)(\/|$)/;

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
  // common/ holds pure helpers the core may use (SAS, clock, ids, host names, the Logger port); wire code lives in
  // transport/ (HTTP plumbing, the MQTT connection, TLS listeners and peers), which the core may not import
  for (const file of files(join(root, 'src', 'common'))) {
    for (const spec of imports(file)) {
      if (TRANSPORT.test(spec) || IO.test(spec)) out.push(`${relative(root, file)}: common/ is for pure helpers; transport code ('${spec}') goes in src/transport`);
      if (spec.startsWith('.') && !relative(root, resolve(file, '..', spec)).startsWith('src/common')) out.push(`${relative(root, file)}: common/ imports only common/ ('${spec}')`);
    }
  }
  const deviceSide = [...['http', 'mqtt', 'amqp'].flatMap((a) => files(join(root, 'src', 'adapters', a))), ...files(join(root, 'src', 'device-api'))];
  for (const file of deviceSide) {
    const from = relative(root, file);
    for (const spec of imports(file)) {
      const target = spec.startsWith('.') ? relative(root, resolve(file, '..', spec)).replace(/\.js$/, '.ts') : '';
      if (target.startsWith('src/core/') && !CORE_SURFACE.has(target)) {
        out.push(`${from}: adapters and the device API see the core through its declared interface (core/operations.ts and its types), not '${spec}'`);
      }
      if (from.startsWith('src/device-api/') && TRANSPORT.test(spec)) out.push(`${from}: the device API must not import the transport library '${spec}'`);
      if (from.startsWith('src/device-api/') && target.startsWith('src/adapters/')) out.push(`${from}: the device API must not import an adapter ('${spec}')`);
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
