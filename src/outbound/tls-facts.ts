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
  /** The session was resumed from an earlier one (outbound): no certificate was sent this time. */
  readonly resumed?: true;
}

export const PLAINTEXT: TlsFacts = { level: 'none', protocol: null, cipher: null, verified: false };

/** What a full handshake established about the peer, carried over to sessions resumed from it. */
export type Verification = Pick<
  TlsFacts,
  'verified' | 'verifyError' | 'peerSubject' | 'peerNotAfter'
>;

/**
 * The facts of `socket`. A resumed session reports what its full handshake established
 * (`carried`): Node skips the name check on resumption, so its own `authorized` would overstate.
 */
export function tlsFacts(socket: TLSSocket, carried?: Verification): TlsFacts {
  const own = handshakeFacts(socket);
  if (!carried || !socket.isSessionReused()) return own;
  const verified = carried.verified && own.verified;
  const verifyError = verified ? undefined : (carried.verifyError ?? own.verifyError);
  return {
    level: verified ? 'verified' : 'encrypted',
    protocol: own.protocol,
    cipher: own.cipher,
    verified,
    ...(verifyError !== undefined ? { verifyError } : {}),
    ...(carried.peerSubject !== undefined ? { peerSubject: carried.peerSubject } : {}),
    ...(carried.peerNotAfter !== undefined ? { peerNotAfter: carried.peerNotAfter } : {}),
    resumed: true,
  };
}

function handshakeFacts(socket: TLSSocket): TlsFacts {
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
