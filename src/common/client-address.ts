/**
 * @module common/client-address
 * The key per-address limits count by (transport/connection-limits.ts, device-api/auth-failure-limiter.ts): an IPv4
 * address as it is (an IPv4-mapped IPv6 address `::ffff:a.b.c.d` as its IPv4 form), an IPv6 address by its /64
 * prefix — one host usually holds a whole /64, so counting single IPv6 addresses would limit nothing.
 *
 * @example
 * clientAddressKey('::ffff:192.0.2.7')          // '192.0.2.7'
 * clientAddressKey('2001:db8:1:2:aaaa::1')      // '2001:db8:1:2::/64'
 * clientAddressKey(undefined)                   // 'unknown'
 */

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  const zone = address.indexOf('%');
  let a = zone >= 0 ? address.slice(0, zone) : address;
  // an embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4): two groups
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    a = `${a.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = a.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s ? s.split(':') : []);
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16));
}

/** The key a client address is counted by; addresses that are neither IPv4 nor IPv6 count as they are. */
export function clientAddressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const a = address.replace(/^\[(.*)\]$/, '$1');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) return a;
  const groups = a.includes(':') ? ipv6Groups(a) : undefined;
  if (!groups) return a.slice(0, 64);
  // ::ffff:a.b.c.d (IPv4-mapped): the IPv4 address
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  if (groups.every((g, i) => (i < 7 ? g === 0 : g === 1))) return '::1';
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}
