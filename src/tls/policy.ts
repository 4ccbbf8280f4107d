/** @module The TLS policy of every hop: versions, forward-secret suites, curves, context options. */
import type { SecureVersion } from 'node:tls';

/**
 * The six TLS 1.2 suites with forward secrecy and AEAD (ECDHE with AES-GCM or ChaCha20-Poly1305),
 * as in Mozilla's intermediate profile v6 and M3AAWG's recommendation; DHE, CBC, RC4, 3DES, NULL,
 * EXPORT and anonymous suites are never offered (RFC 9325 §4.2).
 */
export const TLS12_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

/** Every TLS 1.3 suite is forward secret (RFC 8446 §1.2); these are OpenSSL's defaults. */
export const TLS13_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const;

/** Node splits one cipher string into TLS 1.3 suites (`TLS_` names) and TLS 1.2 ones. */
export const CIPHERS = [...TLS13_SUITES, ...TLS12_SUITES].join(':');
export const ECDH_CURVES = 'X25519:prime256v1:secp384r1';

export type MinVersion = 'TLSv1.2' | 'TLSv1.3';

/** Options shared by every TLS context the relay builds, inbound or outbound. */
export interface TlsPolicyOptions {
  readonly minVersion: SecureVersion;
  readonly maxVersion: SecureVersion;
  readonly ciphers: string;
  readonly ecdhCurve: string;
}

export function tlsPolicy(minVersion: MinVersion = 'TLSv1.2'): TlsPolicyOptions {
  return { minVersion, maxVersion: 'TLSv1.3', ciphers: CIPHERS, ecdhCurve: ECDH_CURVES };
}

/** Server side: our cipher order wins over the client's (DESIGN invariant 3). */
export function serverTlsOptions(
  minVersion: MinVersion,
  credentials: { readonly key: string; readonly cert: string },
): TlsPolicyOptions & { honorCipherOrder: true; key: string; cert: string } {
  return {
    ...tlsPolicy(minVersion),
    honorCipherOrder: true,
    key: credentials.key,
    cert: credentials.cert,
  };
}
