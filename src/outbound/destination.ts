/** @module The name a next hop's TLS history and reports are kept under. */
import type { NextHop } from '../routing/next-hop.js';

/** MX delivery: the recipient domain; a static route: its host and port (`[host]:port`). */
export function destinationOf(nextHop: NextHop): string {
  if (nextHop.source === 'mx') return nextHop.domain;
  const host = nextHop.hosts[0];
  return host ? `[${host.name}]:${host.port}` : nextHop.domain;
}
