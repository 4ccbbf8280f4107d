/**
 * @module Relay authorization at RCPT (RFC 5321 §3.6.2, DESIGN invariant 5): who may send where.
 * Decided on the final domain: addresses that route by their local part (percent hack, bang
 * path, quoted `@`) never open relaying to a client that is not trusted, as Postfix's
 * allow_untrusted_routing = no.
 */
import { replies } from '../smtp/replies.js';
import type { Reply } from '../smtp/reply.js';
import { asciiDomain, domainMatches } from '../routing/domain.js';
import type { NetworkSet } from './networks.js';

export interface RelayPolicy {
  readonly acceptDomains: readonly string[];
  readonly allowedNetworks: NetworkSet;
  /** The relay's own host name: where an unqualified `<postmaster>` is routed. */
  readonly postmasterDomain?: string;
}

export interface ClientIdentity {
  readonly address: string;
  readonly authenticated: boolean;
}

export type Verdict =
  | {
      readonly ok: true;
      readonly reason: 'allowed-network' | 'authenticated' | 'accepted-domain' | 'postmaster';
      readonly domain: string;
    }
  | { readonly ok: false; readonly reply: Reply };

export interface SplitAddress {
  readonly local: string;
  /** A-label form. */
  readonly domain: string;
}

/** Splits at the last `@` (a quoted local part may hold more) and encodes the domain. */
export function splitAddress(address: string): SplitAddress | undefined {
  // RFC 5321 §4.1.2: a source route "@a,@b:user@c" delivers to user@c (§C: ignore the route).
  const path = address.replace(/^@[^:]*:/, '');
  const at = path.lastIndexOf('@');
  if (at <= 0 || at === path.length - 1) return undefined;
  const domain = asciiDomain(path.slice(at + 1));
  if (domain === undefined) return undefined;
  return { local: path.slice(0, at), domain };
}

/** `%`, `!` or `@` in the local part: sender-specified routing through the recipient's MTA. */
function routesByLocalPart(local: string): boolean {
  return /[%!@]/.test(local);
}

export function acceptRecipient(
  policy: RelayPolicy,
  client: ClientIdentity,
  recipient: string,
): Verdict {
  // RFC 5321 §4.5.1: `<postmaster>` without a domain MUST be accepted, from anyone. It goes to
  // the next hop of the relay's own host name, as it is (the MTA behind us has the mailbox).
  if (/^postmaster$/i.test(recipient) && policy.postmasterDomain !== undefined) {
    return { ok: true, reason: 'postmaster', domain: policy.postmasterDomain };
  }
  const split = splitAddress(recipient);
  if (!split) return { ok: false, reply: replies.badAddress };
  if (client.authenticated) return { ok: true, reason: 'authenticated', domain: split.domain };
  if (policy.allowedNetworks.contains(client.address))
    return { ok: true, reason: 'allowed-network', domain: split.domain };
  const accepted = policy.acceptDomains.some((p) => p !== '*' && domainMatches(p, split.domain));
  if (accepted && !routesByLocalPart(split.local) && !recipient.startsWith('@')) {
    return { ok: true, reason: 'accepted-domain', domain: split.domain };
  }
  return { ok: false, reply: replies.relayDenied };
}
