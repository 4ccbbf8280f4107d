/**
 * @module The domain's MTA-STS: its TXT record, then its policy fetched over HTTPS with the
 * certificate verified, no redirect, a size limit and a short timeout (RFC 8461 §3.3).
 */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { AddressResolver } from './addresses.js';
import { resolveAddresses } from './addresses.js';
import { lookupMtaStsRecord, type TxtResolver } from './dns-records.js';
import type { MtaStsPolicyReport, MtaStsReport } from './model.js';
import { mxMatches, parsePolicy } from './mta-sts-policy.js';

export interface MtaStsDeps {
  readonly resolver: TxtResolver & AddressResolver;
  /** 443 in production. */
  readonly httpsPort: number;
  /** Trust anchors (PEM); undefined: Node's bundled root store. */
  readonly ca: string | readonly string[] | undefined;
  readonly timeoutMs: number;
}

/** RFC 8461 §3.3 suggests 64 KiB as the largest policy a sender accepts. */
export const MAX_POLICY_BYTES = 64 * 1024;

type Fetched =
  { readonly ok: true; readonly text: string } | { readonly ok: false; readonly error: string };

function get(
  address: string,
  host: string,
  deps: MtaStsDeps,
): Promise<Fetched & { connected: boolean }> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    const finish = (result: Fetched): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...result, connected });
    };
    const req = request({
      host: address,
      port: deps.httpsPort,
      path: '/.well-known/mta-sts.txt',
      method: 'GET',
      // The certificate must be valid for mta-sts.<domain> (RFC 8461 §3.3, RFC 6125).
      servername: host,
      headers: {
        host: deps.httpsPort === 443 ? host : `${host}:${deps.httpsPort}`,
        accept: 'text/plain',
      },
      agent: false,
      ...(deps.ca !== undefined
        ? { ca: typeof deps.ca === 'string' ? deps.ca : [...deps.ca] }
        : {}),
    });
    const timer = setTimeout(
      () => finish({ ok: false, error: `no complete answer within ${deps.timeoutMs} ms` }),
      deps.timeoutMs,
    );
    req.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    req.on('error', (err) =>
      finish({ ok: false, error: (err as { code?: string }).code ?? err.message }),
    );
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      // §3.3: redirects are not followed.
      if (status >= 300 && status < 400) {
        return finish({
          ok: false,
          error: `HTTP ${status} redirect to ${res.headers.location ?? '?'} not followed`,
        });
      }
      if (status !== 200) return finish({ ok: false, error: `HTTP ${status}` });
      // §3.3: senders check the media type is text/plain.
      const type = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (type !== 'text/plain') {
        return finish({ ok: false, error: `Content-Type ${type || 'missing'}, not text/plain` });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_POLICY_BYTES) {
          finish({ ok: false, error: `policy larger than ${MAX_POLICY_BYTES} bytes` });
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => finish({ ok: false, error: err.message }));
    });
    req.end();
  });
}

/** GET https://mta-sts.<domain>/.well-known/mta-sts.txt, each address in turn until one connects. */
export async function fetchPolicy(domain: string, deps: MtaStsDeps): Promise<MtaStsPolicyReport> {
  const host = `mta-sts.${domain}`;
  const url = `https://${host}/.well-known/mta-sts.txt`;
  const failed = (error: string): MtaStsPolicyReport => ({
    url,
    status: 'error',
    error,
    version: null,
    mode: null,
    maxAge: null,
    mx: [],
  });
  const addresses = await resolveAddresses(deps.resolver, host);
  if (addresses.addresses.length === 0) return failed(addresses.error ?? `no address for ${host}`);
  const errors: string[] = [];
  for (const address of addresses.addresses) {
    const fetched = await get(address, host, deps);
    if (fetched.ok) {
      const policy = parsePolicy(fetched.text);
      return {
        url,
        status: policy.errors.length === 0 ? 'ok' : 'invalid',
        error: policy.errors.length === 0 ? null : policy.errors.join('; '),
        version: policy.version,
        mode: policy.mode,
        maxAge: policy.maxAge,
        mx: policy.mx,
      };
    }
    if (fetched.connected) return failed(fetched.error);
    errors.push(`${address}: ${fetched.error}`);
  }
  return failed(errors.join('; '));
}

/** The record, the policy when the record is present, and the MX hosts the policy leaves out. */
export async function probeMtaSts(
  domain: string,
  mxHosts: readonly string[],
  deps: MtaStsDeps,
): Promise<MtaStsReport> {
  const record = await lookupMtaStsRecord(deps.resolver, domain);
  if (record.status !== 'present') return { record, policy: null, unmatchedMx: [] };
  const policy = await fetchPolicy(domain, deps);
  const unmatchedMx =
    policy.status === 'ok' && policy.mode !== 'none'
      ? mxHosts.filter((h) => !policy.mx.some((p) => mxMatches(p, h)))
      : [];
  return { record, policy, unmatchedMx };
}
