/**
 * The README's JavaScript code blocks are exactly the files under examples/ (which test/e2e/examples.test.ts runs
 * against a live server), each with a caption that names its file and how to run it, so they cannot drift.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const examples = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.mjs')).sort();

/** Top-level fenced blocks: language, body, and the last non-blank line before the fence (the caption). */
function codeBlocks(text: string): Array<{ lang: string; body: string; caption: string }> {
  const out: Array<{ lang: string; body: string; caption: string }> = [];
  for (const m of text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    const before = text.slice(0, m.index).split('\n').filter((l) => l.trim() !== '');
    out.push({ lang: m[1]!, body: m[2]!, caption: before[before.length - 1] ?? '' });
  }
  return out;
}

test('there are examples, and each is a README code block with a caption naming the file and how to run it', () => {
  assert.ok(examples.length >= 5, examples.join());
  const blocks = codeBlocks(readme);
  for (const file of examples) {
    const content = readFileSync(join(ROOT, 'examples', file), 'utf8');
    const matching = blocks.filter((b) => b.lang === 'js' && b.body === content);
    assert.equal(matching.length, 1, `README.md has examples/${file} exactly once as a \`\`\`js block (it differs or is missing)`);
    assert.ok(matching[0]!.caption.includes(`examples/${file}`), `the caption before examples/${file} names it: ${matching[0]!.caption}`);
    assert.ok(matching[0]!.caption.includes(`node examples/${file}`), `the caption says how to run examples/${file}: ${matching[0]!.caption}`);
  }
});

test('every JavaScript code block of the README is one of the example files', () => {
  const files = new Set(examples.map((f) => readFileSync(join(ROOT, 'examples', f), 'utf8')));
  for (const b of codeBlocks(readme).filter((x) => ['js', 'javascript', 'mjs', 'ts', 'typescript'].includes(x.lang))) {
    assert.ok(files.has(b.body), `a README code block is not an examples/ file:\n${b.body}`);
  }
});

test('the examples are ES modules: import, no require', () => {
  for (const file of examples) {
    const content = readFileSync(join(ROOT, 'examples', file), 'utf8');
    assert.match(content, /^import /m, file);
    assert.doesNotMatch(content, /\brequire\(/, file);
  }
});
