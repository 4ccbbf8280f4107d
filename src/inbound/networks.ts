/** @module Client networks: CIDR parsing and membership (IPv4, IPv6, IPv4-mapped IPv6). */
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Parses `10.0.0.0/8`, `fd00::/8` or a bare address (a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** How many addresses' answers a NetworkSet remembers before it starts afresh. */
const RECENT_ADDRESSES = 4096;

/**
 * A set of networks; `contains` understands `::ffff:a.b.c.d` as the IPv4 address it carries.
 * IPv4 and IPv6 blocks live apart: BlockList would let an IPv6 block such as `::/0` cover every
 * IPv4 client through the mapped range, turning "all IPv6" into an open relay for IPv4 too.
 */
export class NetworkSet {
  readonly #v4 = new BlockList();
  readonly #v6 = new BlockList();

  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      if (!cidr) throw new Error(`invalid network: ${text}`);
      (cidr.family === 'ipv4' ? this.#v4 : this.#v6).addSubnet(
        cidr.address,
        cidr.prefix,
        cidr.family,
      );
    }
  }

  /** Answers for recent addresses: asked per command and per message, by the same few clients. */
  readonly #recent = new Map<string, boolean>();

  contains(address: string): boolean {
    const known = this.#recent.get(address);
    if (known !== undefined) return known;
    const answer = this.#check(address);
    if (this.#recent.size >= RECENT_ADDRESSES) this.#recent.clear();
    this.#recent.set(address, answer);
    return answer;
  }

  #check(address: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return this.#v4.check(mapped[1], 'ipv4');
    const version = isIP(address);
    if (version === 4) return this.#v4.check(address, 'ipv4');
    return version === 6 && this.#v6.check(address, 'ipv6');
  }
}
