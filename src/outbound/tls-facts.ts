/** @module The TLS facts of one hop, read from a TLS socket: protocol, cipher, verification, peer. */
import type { TLSSocket } from 'node:tls';
import type { TlsLevel } from '../tls/level.js';

export interface TlsFacts {
  readonly level: TlsLevel;
  /** `TLSv1.3`, `TLSv1.2`, … from getProtocol(): the negotiated protocol, not the cipher's minimum. */
  readonly protocol: string | null;
  readonly cipher: string | null;
  /** Chain and name verified against the trust store (outbound), or a client certificate (inbound). */
  readonly verified: boolean;
  /** OpenSSL's or Node's reason when not verified, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`. */
  readonly verifyError?: string;
  readonly peerSubject?: string;
  readonly peerNotAfter?: string;
}

export const PLAINTEXT: TlsFacts = { level: 'none', protocol: null, cipher: null, verified: false };

export function tlsFacts(socket: TLSSocket): TlsFacts {
  const verified = socket.authorized;
  const cert = socket.getPeerCertificate();
  const subject = cert.subject as Record<string, string | string[]> | undefined;
  const cn = subject?.CN;
  const authorizationError = socket.authorizationError as unknown as
    string | Error | null | undefined;
  return {
    level: verified ? 'verified' : 'encrypted',
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? null,
    verified,
    ...(verified || !authorizationError
      ? {}
      : {
          verifyError:
            typeof authorizationError === 'string'
              ? authorizationError
              : authorizationError.message,
        }),
    ...(cn !== undefined ? { peerSubject: `CN=${Array.isArray(cn) ? cn.join(',') : cn}` } : {}),
    ...(cert.valid_to ? { peerNotAfter: new Date(cert.valid_to).toISOString() } : {}),
  };
}
