/**
 * @module hub/http/query-limits
 * Bounds on a device query's text, checked on the wire before it reaches the query parser (docs/hardening.md
 * "Malformed input"). The parser and the evaluator (hub/query-parser.ts) recurse once per parenthesis and per
 * `NOT`, and the evaluator once per `AND`/`OR` of a chain, so `((((…` or a chain of thousands of `OR`s overflowed
 * the stack: a 500 for the client's mistake. Refused here with the hub's 400 `ArgumentInvalid` instead.
 *
 * The scan skips single-quoted string literals (`''` inside one is an escaped quote: two toggles, the same state).
 * @example checkQueryLimits("SELECT * FROM devices WHERE tags.a = 'b'") // passes
 */
import { argumentInvalid } from '../errors.js';

/** Deepest nesting of parentheses. */
export const MAX_QUERY_NESTING = 64;
/** Most `AND`/`OR`/`NOT` operators in one query: this bounds the depth of the condition tree, so of the recursion. */
export const MAX_QUERY_OPERATORS = 1000;

const WORD = /[A-Za-z0-9_$-]/;

/** Throws ArgumentInvalid when the query nests too deep or combines too many conditions. */
export function checkQueryLimits(sql: string): void {
  let depth = 0;
  let operators = 0;
  let inString = false;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (inString) {
      if (c === "'") inString = false;
      continue;
    }
    if (c === "'") { inString = true; continue; }
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (WORD.test(c) && (i === 0 || !WORD.test(sql[i - 1]!))) {
      let end = i;
      while (end < sql.length && WORD.test(sql[end]!)) end++;
      const word = sql.slice(i, end).toUpperCase();
      if (word === 'AND' || word === 'OR' || word === 'NOT') operators++;
      i = end - 1;
    }
    if (depth > MAX_QUERY_NESTING) throw argumentInvalid(`The query nests parentheses deeper than ${MAX_QUERY_NESTING} levels`);
    if (operators > MAX_QUERY_OPERATORS) throw argumentInvalid(`The query has more than ${MAX_QUERY_OPERATORS} AND, OR and NOT operators`);
  }
}
