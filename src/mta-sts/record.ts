/**
 * @module Versioned TXT policy records: the one `v=<version>` record at a name selected (RFC 8461
 * §3.1, RFC 8460 §3), its `k=v;` fields parsed, and the MTA-STS record's id read.
 */
import type { promises as dns } from 'node:dns';

export type TxtResolver = Pick<dns.Resolver, 'resolveTxt'>;

export type SelectedRecord =
  | { readonly status: 'present'; readonly text: string }
  | {
      readonly status: 'absent' | 'invalid' | 'dns-error';
      readonly text: string | null;
      readonly error: string | null;
    };

/**
 * The one TXT record at `name` beginning with `v=<version>`. Both RFCs discard the other records
 * and treat anything but exactly one as no record (RFC 8461 §3.1, RFC 8460 §3). A record split
 * into several strings is their concatenation.
 */
export async function selectRecord(
  resolver: TxtResolver,
  name: string,
  version: string,
): Promise<SelectedRecord> {
  let records: string[][];
  try {
    records = await resolver.resolveTxt(name);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'UNKNOWN';
    if (code === 'ENODATA' || code === 'ENOTFOUND')
      return { status: 'absent', text: null, error: null };
    return { status: 'dns-error', text: null, error: `${code} ${name}` };
  }
  const prefix = new RegExp(`^v=${version.replace(/\./g, '\\.')}[ \\t]*(;|$)`);
  const matching = records.map((chunks) => chunks.join('')).filter((t) => prefix.test(t));
  if (matching.length === 0) return { status: 'absent', text: null, error: null };
  if (matching.length > 1) {
    return {
      status: 'invalid',
      // An RRset has no order (RFC 2181 §5): sorted, so each run reports the same text.
      text: matching.sort().join(' | '),
      error: `${matching.length} records begin with v=${version}; exactly one is allowed`,
    };
  }
  return { status: 'present', text: matching[0] as string };
}

/** `k=v; k=v;` fields after the version (field-delim = *WSP ";" *WSP); undefined if malformed. */
export function parseFields(text: string): Map<string, string> | undefined {
  const fields = new Map<string, string>();
  const parts = text.split(';').map((p) => p.trim());
  if (parts.at(-1) === '') parts.pop();
  for (const part of parts) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,31})=(.*)$/.exec(part);
    if (!m?.[1] || m[2] === undefined) return undefined;
    if (!fields.has(m[1])) fields.set(m[1], m[2]);
  }
  return fields;
}

/** RFC 8461 §3.1: `v=STSv1; id=<1–32 letters and digits>;`. */
export function parseMtaStsRecord(text: string): { id: string } | { error: string } {
  const fields = parseFields(text);
  if (!fields) return { error: 'not a list of key=value fields separated by ";"' };
  const id = fields.get('id');
  if (id === undefined) return { error: 'no id field' };
  if (!isPolicyId(id)) return { error: `id ${id} is not 1 to 32 letters and digits` };
  return { id };
}

/** RFC 8461 §3.1: id = 1*32(ALPHA / DIGIT). */
export function isPolicyId(id: string): boolean {
  return /^[A-Za-z0-9]{1,32}$/.test(id);
}

/** What the relay needs of `_mta-sts.<domain>`: the id, or no record, or a lookup failure. */
export type StsRecord =
  | { readonly kind: 'present'; readonly id: string }
  /** No record, several, or a malformed one: all "no MTA-STS" (RFC 8461 §3.1). */
  | { readonly kind: 'absent'; readonly reason: string | null }
  | { readonly kind: 'dns-error'; readonly error: string };

export async function lookupStsRecord(resolver: TxtResolver, domain: string): Promise<StsRecord> {
  const selected = await selectRecord(resolver, `_mta-sts.${domain}`, 'STSv1');
  if (selected.status === 'dns-error') return { kind: 'dns-error', error: selected.error ?? '' };
  if (selected.status !== 'present') return { kind: 'absent', reason: selected.error };
  const parsed = parseMtaStsRecord(selected.text);
  return 'error' in parsed
    ? { kind: 'absent', reason: parsed.error }
    : { kind: 'present', id: parsed.id };
}
