/** @module A host name's addresses through the injected resolver: A first, then AAAA. */
import type { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

export type AddressResolver = Pick<dns.Resolver, 'resolve4' | 'resolve6'>;

export interface Addresses {
  readonly addresses: readonly string[];
  /** Why there are none: the lookup codes, e.g. `ENOTFOUND mx.example.org`. */
  readonly error: string | null;
}

export async function resolveAddresses(
  resolver: AddressResolver,
  name: string,
): Promise<Addresses> {
  if (isIP(name) !== 0) return { addresses: [name], error: null };
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const addresses = [
    ...(v4.status === 'fulfilled' ? v4.value : []),
    ...(v6.status === 'fulfilled' ? v6.value : []),
  ];
  if (addresses.length > 0) return { addresses, error: null };
  const codes = [v4, v6].map((r) =>
    r.status === 'rejected' ? ((r.reason as { code?: string }).code ?? 'UNKNOWN') : 'ENODATA',
  );
  return { addresses: [], error: `no address for ${name} (${[...new Set(codes)].join(', ')})` };
}
