/**
 * @module common/host-names
 * Host names compare case-insensitively (RFC 4343: DNS names are case-insensitive; DPS echoes hub host names in any
 * case the operator typed). One definition for the DPS core, the built-in hub and the composition root.
 */
export const sameHost = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
