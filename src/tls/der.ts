/**
 * @module tls/der
 * A small DER reader and writer (X.690) for the structures certificate issuance needs: PKCS#10 requests (RFC 2986)
 * and X.509 certificates (RFC 5280). node-forge encodes only RSA public keys, and node:crypto neither parses a CSR nor
 * builds a certificate, so the few structures involved are read and written here, and node:crypto verifies and signs.
 * The reader refuses anything it cannot take apart exactly (a truncated length, a length past the end, indefinite
 * lengths): a CSR from the network is never trusted to be well formed.
 *
 * @example
 * const node = readDer(der);                     // { tag: 0x30, raw, content, ... }
 * const [info, alg, sig] = childrenOf(node);
 * const name = seq(set(seq(oid('2.5.4.3'), utf8('dev-1'))));
 */

export interface DerNode {
  tag: number;
  /** The whole element: tag, length and content. */
  raw: Buffer;
  content: Buffer;
}

export class DerError extends Error {
  override readonly name = 'DerError';
}

/** Reads one element at `offset` of `buf`. */
export function readDerAt(buf: Buffer, offset: number): DerNode {
  if (offset + 2 > buf.length) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used here');
  let len = buf[offset + 1]!;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError('unsupported length encoding');
    if (offset + 2 + n > buf.length) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new DerError('length past the end of the data');
  return { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + header, end) };
}

/** Reads the single element that is all of `buf` (trailing bytes are refused). */
export function readDer(buf: Buffer): DerNode {
  const node = readDerAt(buf, 0);
  if (node.raw.length !== buf.length) throw new DerError('trailing bytes after the element');
  return node;
}

/** The elements inside a constructed element (SEQUENCE, SET, context-specific). */
export function childrenOf(node: DerNode): DerNode[] {
  if (!(node.tag & 0x20)) throw new DerError('not a constructed element');
  const out: DerNode[] = [];
  for (let off = 0; off < node.content.length;) {
    const child = readDerAt(node.content, off);
    out.push(child);
    off += child.raw.length;
    if (out.length > 10_000) throw new DerError('too many elements');
  }
  return out;
}

/** Dotted form of an OBJECT IDENTIFIER's content. */
export function oidOf(node: DerNode): string {
  if (node.tag !== 0x06 || node.content.length === 0) throw new DerError('not an OBJECT IDENTIFIER');
  const c = node.content;
  const parts: number[] = [Math.min(2, Math.floor(c[0]! / 40)), c[0]! - Math.min(2, Math.floor(c[0]! / 40)) * 40];
  let v = 0;
  for (let i = 1; i < c.length; i++) {
    v = v * 128 + (c[i]! & 0x7f);
    if (!(c[i]! & 0x80)) { parts.push(v); v = 0; }
  }
  return parts.join('.');
}

/** A string value (UTF8String, PrintableString, IA5String, T61String, BMPString). */
export function stringOf(node: DerNode): string {
  if (node.tag === 0x1e) return Buffer.from(node.content).swap16().toString('utf16le');
  return node.tag === 0x0c ? node.content.toString('utf8') : node.content.toString('latin1');
}

// ---- writing ----

function lengthOf(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), lengthOf(body.length), body]);
};
export const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
export const set = (...parts: Buffer[]): Buffer => tlv(0x31, ...parts);
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
export const nul = (): Buffer => Buffer.from([0x05, 0x00]);
/** A BIT STRING of whole bytes, or of named bits (`unused` trailing zero bits in the last byte). */
export const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b);
/** A non-negative INTEGER from big-endian bytes (a leading zero is added when the high bit is set). */
export const uint = (b: Buffer): Buffer => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && !(b[i + 1]! & 0x80)) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
};
export const small = (n: number): Buffer => uint(Buffer.from([n]));

export function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes: number[] = [a! * 40 + b!];
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}
