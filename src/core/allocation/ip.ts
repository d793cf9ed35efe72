/**
 * @module core/allocation/ip
 * IPv4/IPv6 addresses and CIDR networks as byte arrays, for the geoLatency network table. Pure (the core may not
 * import node:net). IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, what a dual-stack socket reports) count as IPv4.
 * @example
 * const net = parseCidr('10.1.0.0/16');
 * inNetwork(parseIp('::ffff:10.1.2.3')!, net!); // true
 */

/** 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpBytes = readonly number[];

export interface Cidr {
  bytes: IpBytes;
  prefix: number;
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out.push(Number(p));
  }
  return out;
}

function parseIpv6(text: string): number[] | undefined {
  let t = text;
  const lastColon = t.lastIndexOf(':');
  const tail = t.slice(lastColon + 1);
  if (tail.includes('.')) {
    // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups
    const v4 = parseIpv4(tail);
    if (!v4) return undefined;
    t = `${t.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  if (!left || !right) return undefined;
  const fill = 8 - left.length - right.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const words = [...left, ...Array<number>(fill).fill(0), ...right];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

const isMappedV4 = (b: number[]): boolean => b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

/** Parses an IPv4 or IPv6 address (brackets and a `%zone` are tolerated); undefined when it is not one. */
export function parseIp(text: string): IpBytes | undefined {
  const t = text.trim().replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const bytes = t.includes(':') ? parseIpv6(t) : parseIpv4(t);
  if (!bytes) return undefined;
  return isMappedV4(bytes) ? bytes.slice(12) : bytes;
}

/** Parses `address/prefix` (a bare address is a /32 or /128); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const bytes = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, prefix: max };
  const p = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
  return { bytes, prefix: Number(p) };
}

/** True when `address` lies in `net` (IPv4 only matches IPv4 networks, IPv6 only IPv6). */
export function inNetwork(address: IpBytes, net: Cidr): boolean {
  if (address.length !== net.bytes.length) return false;
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[i]! & mask) !== (net.bytes[i]! & mask)) return false;
  }
  return true;
}
