/**
 * @module The domain's TXT policy records: MTA-STS at `_mta-sts` (RFC 8461 §3.1) and TLS-RPT at
 * `_smtp._tls` (RFC 8460 §3), looked up, selected by version and parsed.
 */
import type { promises as dns } from 'node:dns';
import type { TlsRptReport, TxtRecordReport } from './model.js';

export type TxtResolver = Pick<dns.Resolver, 'resolveTxt'>;

type Selected =
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
): Promise<Selected> {
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
  if (!/^[A-Za-z0-9]{1,32}$/.test(id))
    return { error: `id ${id} is not 1 to 32 letters and digits` };
  return { id };
}

/** RFC 8460 §3: `v=TLSRPTv1; rua=<mailto: or https: URI>[,<URI>…]`. */
export function parseTlsRptRecord(text: string): { rua: string[] } | { error: string } {
  const fields = parseFields(text);
  if (!fields) return { error: 'not a list of key=value fields separated by ";"' };
  const rua = fields.get('rua');
  if (rua === undefined) return { error: 'no rua field' };
  const uris = rua.split(',').map((u) => u.trim());
  const bad = uris.find((u) => !/^(mailto:[^\s]+@[^\s]+|https:\/\/[^\s]+)$/i.test(u));
  if (bad !== undefined)
    return { error: `rua ${JSON.stringify(bad)} is not a mailto: or https: URI` };
  return { rua: uris };
}

export async function lookupMtaStsRecord(
  resolver: TxtResolver,
  domain: string,
): Promise<TxtRecordReport & { readonly id: string | null }> {
  const name = `_mta-sts.${domain}`;
  const selected = await selectRecord(resolver, name, 'STSv1');
  if (selected.status !== 'present') return { name, ...selected, id: null };
  const parsed = parseMtaStsRecord(selected.text);
  return 'error' in parsed
    ? { name, status: 'invalid', text: selected.text, error: parsed.error, id: null }
    : { name, status: 'present', text: selected.text, error: null, id: parsed.id };
}

export async function lookupTlsRpt(resolver: TxtResolver, domain: string): Promise<TlsRptReport> {
  const name = `_smtp._tls.${domain}`;
  const selected = await selectRecord(resolver, name, 'TLSRPTv1');
  if (selected.status !== 'present') return { record: { name, ...selected }, rua: [] };
  const parsed = parseTlsRptRecord(selected.text);
  return 'error' in parsed
    ? { record: { name, status: 'invalid', text: selected.text, error: parsed.error }, rua: [] }
    : { record: { name, status: 'present', text: selected.text, error: null }, rua: parsed.rua };
}
