/**
 * @module The domain's TXT policy records as the probe reports them: MTA-STS at `_mta-sts` (RFC 8461
 * §3.1) and TLS-RPT at `_smtp._tls` (RFC 8460 §3), looked up, selected by version and parsed.
 */
import {
  parseFields,
  parseMtaStsRecord,
  selectRecord,
  type TxtResolver,
} from '../mta-sts/record.js';
import type { TlsRptReport, TxtRecordReport } from './model.js';

// The record selection and the MTA-STS record's syntax live with the relay's MTA-STS source.
export { parseFields, parseMtaStsRecord, selectRecord, type TxtResolver };

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
