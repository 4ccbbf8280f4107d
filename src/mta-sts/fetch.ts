/**
 * @module The MTA-STS policy text fetched over HTTPS (RFC 8461 §3.3): the certificate verified for
 * `mta-sts.<domain>`, no redirect, text/plain only, at most 64 KiB, within a deadline; each
 * failure classed by its RFC 8460 §4.3.2.2 result type.
 */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { resolveAddresses, type AddressResolver } from '../routing/addresses.js';

export interface PolicyFetchDeps {
  readonly resolver: AddressResolver;
  /** 443 in production. */
  readonly httpsPort: number;
  /** Trust anchors (PEM); undefined: Node's bundled root store. */
  readonly ca: string | readonly string[] | undefined;
  /** For the whole fetch, every address of the policy host included. */
  readonly timeoutMs: number;
}

/** RFC 8461 §3.3 suggests 64 KiB as the largest policy a sender accepts. */
export const MAX_POLICY_BYTES = 64 * 1024;

/**
 * Why no policy text: `fetch` the host or the document could not be had, `webpki` the host's
 * certificate did not verify, `invalid` an answer that cannot be a policy (media type, size).
 */
export type FetchFailure = 'fetch' | 'webpki' | 'invalid';

export type PolicyFetch =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly failure: FetchFailure; readonly error: string };

/** Node's and OpenSSL's codes for a certificate that is untrusted, expired or for another name. */
const WEBPKI_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

export function policyUrl(domain: string): string {
  return `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
}

type Attempt = PolicyFetch & { readonly connected: boolean };

function get(address: string, host: string, deps: PolicyFetchDeps, ms: number): Promise<Attempt> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    const finish = (result: PolicyFetch): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...result, connected });
    };
    const fail = (failure: FetchFailure, error: string): void =>
      finish({ ok: false, failure, error });
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
      () => fail('fetch', `no complete answer within ${deps.timeoutMs} ms`),
      ms,
    );
    req.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    req.on('error', (err) => {
      const code = (err as { code?: string }).code;
      fail(code !== undefined && WEBPKI_CODES.has(code) ? 'webpki' : 'fetch', code ?? err.message);
    });
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      // §3.3: redirects are not followed.
      if (status >= 300 && status < 400) {
        return fail(
          'fetch',
          `HTTP ${status} redirect to ${res.headers.location ?? '?'} not followed`,
        );
      }
      if (status !== 200) return fail('fetch', `HTTP ${status}`);
      // §3.3: senders check the media type is text/plain.
      const type = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (type !== 'text/plain') {
        return fail('invalid', `Content-Type ${type || 'missing'}, not text/plain`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_POLICY_BYTES) {
          fail('invalid', `policy larger than ${MAX_POLICY_BYTES} bytes`);
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => fail('fetch', err.message));
    });
    req.end();
  });
}

/**
 * GET https://mta-sts.<domain>/.well-known/mta-sts.txt, each address of the host in turn until
 * one connects; the answer of the first that connects is the answer.
 */
export async function fetchPolicyText(domain: string, deps: PolicyFetchDeps): Promise<PolicyFetch> {
  const deadline = Date.now() + deps.timeoutMs;
  const host = `mta-sts.${domain}`;
  const addresses = await resolveAddresses(deps.resolver, host);
  if (addresses.addresses.length === 0) {
    return { ok: false, failure: 'fetch', error: addresses.error ?? `no address for ${host}` };
  }
  const errors: string[] = [];
  for (const address of addresses.addresses) {
    const left = deadline - Date.now();
    if (left <= 0) {
      errors.push(`no complete answer within ${deps.timeoutMs} ms`);
      break;
    }
    const fetched = await get(address, host, deps, left);
    if (fetched.ok) return { ok: true, text: fetched.text };
    if (fetched.connected) return { ok: false, failure: fetched.failure, error: fetched.error };
    errors.push(`${address}: ${fetched.error}`);
  }
  return { ok: false, failure: 'fetch', error: errors.join('; ') };
}
