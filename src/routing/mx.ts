/** @module MX lookup: preference order, implicit MX, null MX (RFC 5321 §5.1, RFC 7505). */
import type { promises as dns } from 'node:dns';

/** The DNS calls the relay makes; node:dns's Resolver fits, tests inject one aimed at a local server. */
export type Resolver = Pick<dns.Resolver, 'resolveMx' | 'resolve4' | 'resolve6'>;

export type MxResult =
  | {
      readonly kind: 'hosts';
      readonly hosts: ReadonlyArray<{ name: string; preference: number | null }>;
    }
  | { readonly kind: 'null-mx' }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'temporary'; readonly error: string };

const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND']);

function errorCode(err: unknown): string {
  return (err as { code?: string }).code ?? 'UNKNOWN';
}

export async function lookupMx(resolver: Resolver, domain: string): Promise<MxResult> {
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENODATA') return implicitMx(resolver, domain);
    if (code === 'ENOTFOUND') return { kind: 'not-found' };
    return { kind: 'temporary', error: code };
  }
  if (records.length === 0) return implicitMx(resolver, domain);
  // RFC 7505 §3: a single MX of "." (Node reports it as an empty exchange) means no mail.
  if (records.some((r) => r.exchange === '' || r.exchange === '.')) {
    return records.length === 1
      ? { kind: 'null-mx' }
      : {
          kind: 'hosts',
          hosts: order(records.filter((r) => r.exchange !== '' && r.exchange !== '.')),
        };
  }
  return { kind: 'hosts', hosts: order(records) };
}

/** Lowest preference first; equal preferences in random order (RFC 5321 §5.1). */
function order(
  records: ReadonlyArray<{ exchange: string; priority: number }>,
): Array<{ name: string; preference: number }> {
  return records
    .map((r) => ({
      name: r.exchange.replace(/\.$/, '').toLowerCase(),
      preference: r.priority,
      tie: Math.random(),
    }))
    .sort((a, b) => a.preference - b.preference || a.tie - b.tie)
    .map(({ name, preference }) => ({ name, preference }));
}

/** RFC 5321 §5.1: without MX records, the domain itself is the host, if it has an address. */
async function implicitMx(resolver: Resolver, domain: string): Promise<MxResult> {
  const results = await Promise.allSettled([resolver.resolve4(domain), resolver.resolve6(domain)]);
  const found = results.some((r) => r.status === 'fulfilled' && r.value.length > 0);
  if (found) return { kind: 'hosts', hosts: [{ name: domain, preference: null }] };
  const codes = results.map((r) => (r.status === 'rejected' ? errorCode(r.reason) : 'ENODATA'));
  return codes.every((c) => NO_RECORDS.has(c))
    ? { kind: 'not-found' }
    : { kind: 'temporary', error: codes.join(',') };
}
