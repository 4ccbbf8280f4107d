/** @module TLS census facts: forward secrecy of a negotiated suite, and why a handshake failed. */

/** TLS 1.3 suites are all forward secret (RFC 8446 §2); in TLS 1.2 only (EC)DHE key exchange is. */
export function forwardSecret(protocol: string | null, cipher: string | null): boolean {
  if (protocol === 'TLSv1.3') return true;
  return cipher !== null && /^(ECDHE|DHE)-/.test(cipher);
}

export type HandshakeFailure = 'protocol_version' | 'no_shared_cipher' | 'other';

/** Classifies OpenSSL's reason for a failed server-side handshake. */
export function handshakeFailure(err: { code?: string; message?: string }): HandshakeFailure {
  const text = `${err.code ?? ''} ${err.message ?? ''}`.toLowerCase();
  if (
    /unsupported.protocol|version.too.low|wrong.version.number|protocol.version|no.protocols.available/.test(
      text,
    )
  ) {
    return 'protocol_version';
  }
  if (/no.shared.cipher|no.cipher|no_shared_cipher/.test(text)) return 'no_shared_cipher';
  return 'other';
}
