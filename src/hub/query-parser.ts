/**
 * @module hub/query-parser
 * A small parser and evaluator for the IoT Hub query language subset the built-in hub supports:
 * `SELECT * FROM devices [WHERE cond]`, where a condition compares a property path (`deviceId`, `status`,
 * `tags.x.y`, `properties.desired.x`, `properties.reported.x`, ...) with a literal (`'str'`, number, true, false,
 * null) by `=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`, combined with AND, OR, NOT and parentheses. Keywords are
 * case-insensitive; property names are case-sensitive. A comparison with a missing property is false.
 * @example evaluate(parseQuery("SELECT * FROM devices WHERE tags.site = 'b43'").where, twinJson)
 */
import { argumentInvalid } from './errors.js';

export type Literal = string | number | boolean | null;
export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type Condition =
  | { kind: 'compare'; path: string[]; op: CompareOp; value: Literal }
  | { kind: 'and' | 'or'; left: Condition; right: Condition }
  | { kind: 'not'; operand: Condition };

export interface ParsedQuery {
  readonly where?: Condition;
}

type Token = { t: 'word' | 'string' | 'number' | 'op' | 'punct'; v: string };

const TOKEN = /\s*(?:('(?:[^']|'')*')|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_$][A-Za-z0-9_$-]*)|(<=|>=|!=|<>|=|<|>)|([().*,]))/y;

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw argumentInvalid(`Query syntax error at position ${at}`);
    if (m[1] !== undefined) out.push({ t: 'string', v: m[1].slice(1, -1).replace(/''/g, "'") });
    else if (m[2] !== undefined) out.push({ t: 'number', v: m[2] });
    else if (m[3] !== undefined) out.push({ t: 'word', v: m[3] });
    else if (m[4] !== undefined) out.push({ t: 'op', v: m[4] === '<>' ? '!=' : m[4] });
    else out.push({ t: 'punct', v: m[5]! });
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }
  private isKeyword(word: string): boolean {
    const tok = this.peek();
    return tok?.t === 'word' && tok.v.toUpperCase() === word;
  }
  private expectKeyword(word: string): void {
    if (!this.isKeyword(word)) throw argumentInvalid(`Query syntax error: expected ${word}`);
    this.i++;
  }
  private expectPunct(p: string): void {
    const tok = this.peek();
    if (tok?.t !== 'punct' || tok.v !== p) throw argumentInvalid(`Query syntax error: expected ${p}`);
    this.i++;
  }

  query(): ParsedQuery {
    this.expectKeyword('SELECT');
    this.expectPunct('*');
    this.expectKeyword('FROM');
    const from = this.peek();
    if (from?.t !== 'word' || from.v.toLowerCase() !== 'devices') throw argumentInvalid('Only queries FROM devices are supported');
    this.i++;
    const tok = this.peek();
    if (tok?.t === 'punct' && tok.v === '.') throw argumentInvalid('Only queries FROM devices are supported');
    let where: Condition | undefined;
    if (this.isKeyword('WHERE')) {
      this.i++;
      where = this.or();
    }
    if (this.i < this.tokens.length) throw argumentInvalid('Query syntax error: unexpected input after the query');
    return { where };
  }

  private or(): Condition {
    let left = this.and();
    while (this.isKeyword('OR')) {
      this.i++;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }
  private and(): Condition {
    let left = this.unary();
    while (this.isKeyword('AND')) {
      this.i++;
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }
  private unary(): Condition {
    if (this.isKeyword('NOT')) {
      this.i++;
      return { kind: 'not', operand: this.unary() };
    }
    const tok = this.peek();
    if (tok?.t === 'punct' && tok.v === '(') {
      this.i++;
      const inner = this.or();
      this.expectPunct(')');
      return inner;
    }
    return this.comparison();
  }
  private comparison(): Condition {
    const path = [this.word()];
    while (this.peek()?.t === 'punct' && this.peek()!.v === '.') {
      this.i++;
      path.push(this.word());
    }
    const op = this.tokens[this.i++];
    if (op?.t !== 'op') throw argumentInvalid('Query syntax error: expected a comparison operator');
    return { kind: 'compare', path, op: op.v as CompareOp, value: this.literal() };
  }
  private word(): string {
    const tok = this.tokens[this.i++];
    if (tok?.t !== 'word') throw argumentInvalid('Query syntax error: expected a property name');
    return tok.v;
  }
  private literal(): Literal {
    const tok = this.tokens[this.i++];
    if (tok?.t === 'string') return tok.v;
    if (tok?.t === 'number') return Number(tok.v);
    if (tok?.t === 'word') {
      const w = tok.v.toLowerCase();
      if (w === 'true') return true;
      if (w === 'false') return false;
      if (w === 'null') return null;
    }
    throw argumentInvalid('Query syntax error: expected a literal');
  }
}

/** Parses a query; throws HubError ArgumentInvalid on anything outside the supported subset. */
export function parseQuery(text: string): ParsedQuery {
  if (typeof text !== 'string' || text.trim() === '') throw argumentInvalid('The query is empty');
  return new Parser(tokenize(text)).query();
}

function resolve(doc: unknown, path: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function compare(actual: unknown, op: CompareOp, expected: Literal): boolean {
  if (actual === undefined || (typeof actual === 'object' && actual !== null)) return false;
  if (op === '=') return actual === expected;
  if (op === '!=') return actual !== expected;
  const sameType = (typeof actual === 'number' && typeof expected === 'number') || (typeof actual === 'string' && typeof expected === 'string');
  if (!sameType) return false;
  const a = actual as number | string;
  const e = expected as number | string;
  return op === '<' ? a < e : op === '<=' ? a <= e : op === '>' ? a > e : a >= e;
}

/** True when `doc` (a service twin JSON) satisfies `cond`; no condition matches everything. */
export function evaluate(cond: Condition | undefined, doc: unknown): boolean {
  if (!cond) return true;
  switch (cond.kind) {
    case 'compare': return compare(resolve(doc, cond.path), cond.op, cond.value);
    case 'and': return evaluate(cond.left, doc) && evaluate(cond.right, doc);
    case 'or': return evaluate(cond.left, doc) || evaluate(cond.right, doc);
    case 'not': return !evaluate(cond.operand, doc);
  }
}
