/**
 * @module core/allocation/geo-latency
 * Lowest latency (`geoLatency`), self-hosted. Azure measures latency between its regions; OpenDPS cannot, so it
 * works from locations that the operator states (docs/allocation.md "geoLatency"):
 *
 * 1. where the device is: its client address looked up in the instance's `geoLatency.networks` (CIDR → location,
 *    longest prefix wins); a device from no listed network (or whose address the adapter did not give) is at the
 *    location of the node that took the request (`settings.nodeLocation`, else `geoLatency.nodeLocation`);
 * 2. how far each candidate hub is: 0 when the hub's `location` is the device's location (names compare
 *    case-insensitively); the great-circle distance when both locations have coordinates in
 *    `geoLatency.locations`; unknown otherwise;
 * 3. the nearest hubs (smallest distance) win, ties hashed by weight like `hashed`. When no distance is known at
 *    all (no location, no coordinates), every candidate ties, so geoLatency degrades to `hashed`.
 * @example
 * const where = deviceLocation({ networks: [{ cidr: '10.1.0.0/16', location: 'north' }] }, '10.1.2.3', undefined); // 'north'
 * const hub = pickNearest('dev-1', linkedHubs, where, {});
 */
import type { GeoLatencySettings, LinkedHub } from '../model.js';
import { pickHashed } from './hashed.js';
import { inNetwork, parseCidr, parseIp } from './ip.js';

/** The device's location: the longest matching network, else the node's location; undefined when neither is known. */
export function deviceLocation(settings: GeoLatencySettings | undefined, clientAddress: string | undefined, nodeLocation: string | undefined): string | undefined {
  const address = clientAddress ? parseIp(clientAddress) : undefined;
  if (address) {
    let best: { prefix: number; location: string } | undefined;
    for (const n of settings?.networks ?? []) {
      const net = parseCidr(n.cidr);
      if (net && inNetwork(address, net) && (!best || net.prefix > best.prefix)) best = { prefix: net.prefix, location: n.location };
    }
    if (best) return best.location;
  }
  return nodeLocation ?? settings?.nodeLocation;
}

const EARTH_RADIUS_KM = 6371;

function coordinates(locations: GeoLatencySettings['locations'], name: string): { latitude: number; longitude: number } | undefined {
  if (!locations) return undefined;
  const key = Object.keys(locations).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : locations[key];
}

/** Distance in km between two named locations: 0 for the same name, haversine with coordinates, else Infinity. */
export function distanceKm(a: string | undefined, b: string | undefined, locations: GeoLatencySettings['locations']): number {
  if (!a || !b) return Infinity;
  if (a.toLowerCase() === b.toLowerCase()) return 0;
  const p = coordinates(locations, a);
  const q = coordinates(locations, b);
  if (!p || !q) return Infinity;
  const rad = (d: number) => (d * Math.PI) / 180;
  const dLat = rad(q.latitude - p.latitude);
  const dLon = rad(q.longitude - p.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(p.latitude)) * Math.cos(rad(q.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The nearest candidate with a positive weight; ties (including "nothing known") are hashed by weight. */
export function pickNearest(registrationId: string, hubs: readonly LinkedHub[], where: string | undefined, locations: GeoLatencySettings['locations']): LinkedHub | undefined {
  const usable = hubs.filter((h) => h.allocationWeight > 0);
  let best = Infinity;
  let nearest: LinkedHub[] = [];
  for (const hub of usable) {
    const d = distanceKm(where, hub.location, locations);
    if (d < best) { best = d; nearest = [hub]; } else if (d === best) nearest.push(hub);
  }
  return pickHashed(registrationId, best === Infinity ? usable : nearest);
}
