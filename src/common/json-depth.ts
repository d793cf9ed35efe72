/**
 * @module common/json-depth
 * A cheap pre-scan of JSON text for its nesting depth, run on the raw bytes before `JSON.parse` is ever called
 * (docs/hardening.md "Malformed input"). `JSON.parse` itself copes with deep nesting, but everything that walks the
 * result afterwards — schema validation, `dropNulls`, twin merges, `JSON.stringify`, structured clones — recurses,
 * and a body of `[[[[…` deep enough overflows the stack there (a 500 instead of a 400). Refusing such text up front
 * costs one pass over the bytes and no allocation.
 *
 * The scan counts `[` and `{` outside string literals (a `\` escapes the next byte inside a string); it does not
 * validate JSON, so text that is both shallow and malformed is left for `JSON.parse` to refuse. It works on UTF-8
 * bytes because `"`, `\`, brackets and braces never occur inside a multi-byte sequence.
 * @example jsonDepthExceeds(Buffer.from('[[1]]'), 1) // true
 */

/** Deepest nesting any OpenDPS JSON body may have (IoT Hub twins allow 10 levels; DPS payloads are small documents). */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** True when `text` nests arrays/objects more than `maxDepth` deep; stops at the first byte past the limit. */
export function jsonDepthExceeds(text: Uint8Array | string, maxDepth: number = MAX_JSON_DEPTH): boolean {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACKET || b === OPEN_BRACE) {
      if (++depth > maxDepth) return true;
    } else if ((b === CLOSE_BRACKET || b === CLOSE_BRACE) && depth > 0) {
      depth--;
    }
  }
  return false;
}
