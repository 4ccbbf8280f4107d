/** @module Next-hop resolution: static routes first (first match wins), else MX (RFC 5321 §5.1). */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { RouteConfig } from '../config/schema.js';
import { replies } from '../smtp/replies.js';
import type { Reply } from '../smtp/reply.js';
import { domainMatches } from './domain.js';
import { parseHostPort } from './host-port.js';
import { resolveAddresses } from './addresses.js';
import { lookupMx, type Resolver } from './mx.js';
import { routeTls, type RouteFiles, type RouteTls } from './route-tls.js';

export interface NextHopHost {
  readonly name: string;
  readonly port: number;
  /** MX preference; null for a static route or an implicit MX. */
  readonly preference: number | null;
}

/** Where one recipient domain's mail goes, in the order to try. */
export interface NextHop {
  readonly domain: string;
  readonly source: 'route' | 'mx';
  readonly hosts: readonly NextHopHost[];
  readonly tls: RouteTls;
  /** Recipients whose next hops share a key share one outbound transaction. */
  readonly key: string;
}

export type NextHopResult =
  { readonly ok: true; readonly nextHop: NextHop } | { readonly ok: false; readonly reply: Reply };

/** Turns a host name into addresses to connect to, in order. */
export type AddressLookup = (host: string) => Promise<string[]>;

export interface RouterDeps {
  readonly resolver: Resolver;
  /** Static-route host names go through the system resolver (/etc/hosts included). */
  readonly lookup?: AddressLookup;
  /** Port for MX hosts: 25 in production (RFC 5321 §4.5.4); tests inject their own. */
  readonly mxPort?: number;
  /** Each route's PEM files, index for index (see readRouteFiles). */
  readonly routeFiles?: readonly RouteFiles[];
}

async function systemLookup(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
}

export class Router {
  readonly #mxAddresses: AddressLookup;
  readonly #routeAddresses: AddressLookup;
  readonly #tls: readonly RouteTls[];

  constructor(
    private readonly routes: readonly RouteConfig[],
    private readonly deps: RouterDeps,
  ) {
    this.#tls = routes.map((r, i) => routeTls(r, deps.routeFiles?.[i]));
    this.#mxAddresses = dnsAddressLookup(deps.resolver);
    const routeLookup = deps.lookup ?? systemLookup;
    this.#routeAddresses = (host) =>
      isIP(host) !== 0 ? Promise.resolve([host]) : routeLookup(host);
  }

  /** The addresses to try for one host of a next hop; empty when it has none. */
  async addresses(nextHop: NextHop, host: NextHopHost): Promise<string[]> {
    try {
      return await (nextHop.source === 'mx' ? this.#mxAddresses : this.#routeAddresses)(host.name);
    } catch {
      return [];
    }
  }

  /** The static next hop of the `*` route, which AUTH passthrough authenticates against. */
  catchAllHop(): NextHop | undefined {
    const index = this.routes.findIndex((r) => r.domains.includes('*'));
    const route = this.routes[index];
    const target = route && route.nextHop !== 'mx' ? parseHostPort(route.nextHop) : undefined;
    if (!route || !target) return undefined;
    return this.#static('*', index, target);
  }

  /** `domain` is already in A-label form (see asciiDomain). */
  async resolveNextHop(domain: string): Promise<NextHopResult> {
    const index = this.routes.findIndex((r) => r.domains.some((p) => domainMatches(p, domain)));
    const route = this.routes[index];
    if (route === undefined) return { ok: false, reply: replies.relayDenied };
    if (route.nextHop !== 'mx') {
      const target = parseHostPort(route.nextHop);
      if (!target) throw new Error(`unvalidated route next hop ${route.nextHop}`);
      return { ok: true, nextHop: this.#static(domain, index, target) };
    }
    const mx = await lookupMx(this.deps.resolver, domain);
    switch (mx.kind) {
      case 'null-mx':
        return { ok: false, reply: replies.nullMx };
      case 'not-found':
        return { ok: false, reply: replies.domainNotFound };
      case 'temporary':
        return { ok: false, reply: replies.dnsTempFail };
      case 'hosts': {
        const port = this.deps.mxPort ?? 25;
        return {
          ok: true,
          nextHop: {
            domain,
            source: 'mx',
            hosts: mx.hosts.map((h) => ({ name: h.name, port, preference: h.preference })),
            tls: this.#tlsOf(index),
            // One session per destination and route: the TLS settings are the route's.
            key: `mx:${domain}:${index}`,
          },
        };
      }
    }
  }

  #tlsOf(index: number): RouteTls {
    const tls = this.#tls[index];
    if (!tls) throw new Error(`no route ${index}`);
    return tls;
  }

  #static(domain: string, index: number, target: { host: string; port: number }): NextHop {
    return {
      domain,
      source: 'route',
      hosts: [{ name: target.host, port: target.port, preference: null }],
      tls: this.#tlsOf(index),
      key: `route:${index}:${target.host}:${target.port}`,
    };
  }
}

/** Addresses of a host: an IP literal as is, else DNS A then AAAA through the injected resolver. */
export function dnsAddressLookup(resolver: Resolver): AddressLookup {
  return async (host) => [...(await resolveAddresses(resolver, host)).addresses];
}
