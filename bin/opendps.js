#!/usr/bin/env node
// The `opendps` command. Runs the compiled CLI (npm run build); from a source checkout without a build it runs the
// TypeScript sources through tsx.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    console.error('opendps: no build found; run `npm run build` first.');
    process.exit(1);
  }
  await import(new URL('../cli/main.ts', import.meta.url).href);
}
