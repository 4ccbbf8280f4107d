/**
 * @module One report POSTed to one `https:` rua (RFC 8460 §5.3.2): gzip body, `Content-Type:
 * application/tlsrpt+gzip`, the server's certificate verified for the URI's host, no redirect
 * followed, one deadline for the whole exchange. Retrying is the reporter's decision.
 */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { resolveAddresses, type AddressResolver } from '../routing/addresses.js';

export interface SubmitDeps {
  /** A and AAAA lookups for the rua host. */
  readonly resolver: AddressResolver;
  /** Trust anchors (PEM); undefined: Node's bundled root store. */
  readonly ca?: string | readonly string[] | undefined;
  readonly timeoutMs: number;
}

export type SubmitResult =
  { readonly ok: true; readonly status: number } | { readonly ok: false; readonly error: string };

/** The answer body is read and thrown away, up to this many bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

function post(
  url: URL,
  address: string,
  body: Buffer,
  deps: SubmitDeps,
): Promise<SubmitResult & { readonly connected: boolean }> {
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let connected = false;
    let settled = false;
    const finish = (result: SubmitResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...result, connected });
    };
    const req = request({
      host: address,
      port: url.port === '' ? 443 : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      // The certificate must be valid for the URI's host (RFC 8460 §5.3.2, RFC 6125).
      ...(isIP(host) === 0 ? { servername: host } : {}),
      headers: {
        host: url.host,
        'content-type': 'application/tlsrpt+gzip',
        'content-length': String(body.length),
      },
      agent: false,
      ...(deps.ca !== undefined
        ? { ca: typeof deps.ca === 'string' ? deps.ca : [...deps.ca] }
        : {}),
    });
    const timer = setTimeout(
      () => finish({ ok: false, error: `no answer within ${deps.timeoutMs} ms` }),
      deps.timeoutMs,
    );
    req.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    req.on('error', (err) =>
      finish({ ok: false, error: (err as { code?: string }).code ?? err.message }),
    );
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) finish(answered(status));
      });
      res.on('end', () => finish(answered(status)));
      res.on('error', () => finish(answered(status)));
    });
    req.end(body);
  });
}

/** §5.3.2: a 2xx answer is success; anything else, redirects included, is a failure. */
function answered(status: number): SubmitResult {
  return status >= 200 && status < 300
    ? { ok: true, status }
    : { ok: false, error: `HTTP ${status}` };
}

/** POSTs `body` to `uri`, trying the host's addresses in turn until one connects. */
export async function submitReport(
  uri: string,
  body: Buffer,
  deps: SubmitDeps,
): Promise<SubmitResult> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { ok: false, error: `not a URI: ${uri}` };
  }
  if (url.protocol !== 'https:') return { ok: false, error: `not an https: URI: ${uri}` };
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = await resolveAddresses(deps.resolver, host);
  if (addresses.addresses.length === 0) {
    return { ok: false, error: addresses.error ?? `no address for ${host}` };
  }
  const errors: string[] = [];
  for (const address of addresses.addresses) {
    const result = await post(url, address, body, deps);
    // Connected: the server had its say (or the handshake failed); another address would not help.
    if (result.ok || result.connected) {
      return result.ok ? { ok: true, status: result.status } : { ok: false, error: result.error };
    }
    errors.push(`${address}: ${result.error}`);
  }
  return { ok: false, error: errors.join('; ') };
}
