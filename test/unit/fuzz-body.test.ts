/**
 * Property-based tests (fast-check) of the JSON body reader (src/transport/http/body.ts) and the nesting-depth
 * pre-scan it runs before parsing (src/common/json-depth.ts): only the API's own errors are ever thrown, a body
 * deeper than the limit is refused without `JSON.parse` being reached, a body over the size limit is refused while it
 * is read, a body the client abandons fails with the API's own error (never hangs), and valid JSON within the limits
 * round-trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../src/common/json-depth.js';
import { parseJsonBody, readBody, readJson, type BodyErrors } from '../../src/transport/http/body.js';

const RUNS = { numRuns: 300, seed: 15 };

class BodyError extends Error {
  constructor(readonly kind: string) { super(kind); }
}
const errors: BodyErrors = {
  tooLarge: () => new BodyError('tooLarge'),
  invalidJson: () => new BodyError('invalidJson'),
  tooDeep: () => new BodyError('tooDeep'),
  aborted: () => new BodyError('aborted'),
  unsupportedType: () => new BodyError('unsupportedType'),
};

/** The nesting depth of a parsed JSON value (arrays and objects count one level each). */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v !== null && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}
/** Nested arrays/objects of a chosen depth, with strings holding brackets and escaped quotes to mislead a naive scan. */
const nestedJson = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"[', 'x', 1, null, true),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', '[', '"{', 'k\\'), tie('value'), { maxKeys: 3 })),
})).value;
const deepText = fc.tuple(fc.integer({ min: 0, max: 200 }), fc.constantFrom(['[', ']'], ['{"a":', '}'], ['[{"x":"]}","y":', '}]'])).map(([n, [o, c]]) => ({ depth: o === '[{"x":"]}","y":' ? 2 * n : n, text: o!.repeat(n) + '1' + c!.repeat(n) }));

test('jsonDepthExceeds agrees with the depth of the parsed value, whatever strings hold', () => {
  fc.assert(fc.property(nestedJson, fc.integer({ min: 0, max: 8 }), (value, limit) => {
    const text = JSON.stringify(value);
    assert.equal(jsonDepthExceeds(Buffer.from(text), limit), depthOf(value) > limit, text);
    assert.equal(jsonDepthExceeds(text, limit), depthOf(value) > limit);
  }), RUNS);
  fc.assert(fc.property(deepText, ({ depth, text }) => {
    assert.equal(jsonDepthExceeds(text), depth > MAX_JSON_DEPTH);
  }), RUNS);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => { jsonDepthExceeds(bytes); }), RUNS);
});

test('parseJsonBody throws only the API errors, and refuses depth > 64 without JSON.parse being reached', () => {
  const realParse = JSON.parse;
  let parsed = 0;
  JSON.parse = ((text: string, reviver?: (k: string, v: unknown) => unknown) => { parsed++; return realParse(text, reviver); }) as typeof JSON.parse;
  try {
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
      fc.string({ unit: 'grapheme', maxLength: 200 }).map((s) => Buffer.from(s)),
      fc.json({ maxDepth: 5 }).map((s) => Buffer.from(s)),
      deepText.map(({ text }) => Buffer.from(text)),
      fc.integer({ min: 65, max: 5000 }).map((n) => Buffer.from('['.repeat(n))),
    );
    const type = fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'text/xml', '', 'multipart/form-data', 'JSON', ';;'), { nil: undefined });
    fc.assert(fc.property(body, type, (b, t) => {
      const before = parsed;
      try {
        const value = parseJsonBody(b, t, 300, errors);
        assert.ok(b.length <= 300);
        if (value !== undefined) assert.ok(depthOf(value) <= MAX_JSON_DEPTH);
      } catch (err) {
        assert.ok(err instanceof BodyError, `unexpected ${String(err)}`);
        if (err.kind === 'tooDeep' || err.kind === 'tooLarge' || err.kind === 'unsupportedType') assert.equal(parsed, before, 'JSON.parse was reached');
        if (err.kind === 'tooDeep') assert.ok(jsonDepthExceeds(b));
      }
    }), RUNS);
    // the deepest body the limit allows is parsed; one level more is refused unparsed
    assert.deepEqual(parseJsonBody(Buffer.from('['.repeat(64) + ']'.repeat(64)), 'application/json', 1000, errors), JSON.parse('['.repeat(64) + ']'.repeat(64)));
    const before = parsed;
    assert.throws(() => parseJsonBody(Buffer.from('['.repeat(65) + ']'.repeat(65)), 'application/json', 1000, errors), (e: BodyError) => e.kind === 'tooDeep');
    assert.throws(() => parseJsonBody(Buffer.from('['.repeat(500_000)), 'application/json', 1 << 20, errors), (e: BodyError) => e.kind === 'tooDeep');
    assert.equal(parsed, before);
  } finally {
    JSON.parse = realParse;
  }
});

test('valid JSON within the limits round-trips', () => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
    const text = JSON.stringify(value);
    fc.pre(Buffer.byteLength(text) <= 10_000);
    // -0 comes back as 0 through JSON, as any JSON client would send it
    assert.deepEqual(parseJsonBody(Buffer.from(` ${text}\n`), 'application/json', 10_000, errors), JSON.parse(text));
  }), RUNS);
  assert.equal(parseJsonBody(Buffer.from('  \n'), 'text/xml', 10, errors), undefined, 'an empty body is no body, whatever its type');
});

/** A request whose body arrives in the given chunks. */
function requestOf(chunks: Buffer[], headers: Record<string, string> = {}): IncomingMessage {
  return Object.assign(Readable.from(chunks), { headers }) as unknown as IncomingMessage;
}

test('readBody and readJson enforce the size limit while reading, whatever the chunking', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), fc.integer({ min: 0, max: 600 }), fc.boolean(), async (parts, max, declare) => {
    const chunks = parts.map((p) => Buffer.from(p));
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const headers: Record<string, string> = declare ? { 'content-length': String(total) } : {};
    try {
      const got = await readBody(requestOf(chunks, headers), max, () => new BodyError('tooLarge'));
      assert.ok(total <= max);
      assert.ok(got.equals(Buffer.concat(chunks)));
    } catch (err) {
      assert.ok(err instanceof BodyError && err.kind === 'tooLarge');
      assert.ok(total > max);
    }
  }), { numRuns: 200, seed: 15 });
  await fc.assert(fc.asyncProperty(fc.constantFrom('abc', '-1', '1e3', '', ' 5', '99999999999999999999'), async (cl) => {
    try {
      await readJson(requestOf([Buffer.from('{"a":1}')], { 'content-length': cl, 'content-type': 'application/json' }), 100, errors);
    } catch (err) {
      assert.ok(err instanceof BodyError);
    }
  }), { numRuns: 20, seed: 15 });
});

test('a body abandoned mid-way fails with the API error, and the read always settles', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 32 }), { maxLength: 8 }), fc.boolean(), async (parts, withError) => {
    const req = Object.assign(new Readable({ read() {} }), { headers: { 'content-length': '100000' } }) as unknown as IncomingMessage & Readable;
    const reading = readJson(req, 200_000, errors);
    for (const p of parts) req.push(Buffer.from(p));
    setImmediate(() => req.destroy(withError ? Object.assign(new Error('aborted'), { code: 'ECONNRESET' }) : undefined));
    await assert.rejects(reading, (e: BodyError) => e instanceof BodyError && e.kind === 'aborted');
    await assert.rejects(readBody(req, 200_000, () => new BodyError('tooLarge'), errors.aborted), (e: BodyError) => e.kind === 'aborted', 'an already destroyed request');
  }), { numRuns: 100, seed: 15 });
});
