/**
 * @module Making a self-signed certificate with the names it serves: ECDSA P-256 (cheap
 * handshakes), or RSA 2048 for old clients that cannot verify ECDSA.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const VALIDITY_DAYS = 365;

/** The key types the relay can generate. */
export type GeneratedKeyType = 'ecdsa' | 'rsa';

/**
 * WebCrypto parameters per key type. RSA 2048 with SHA-256 (PKCS#1 v1.5 signature on the
 * certificate) is what RSA-only clients verify; 2048 bits is the floor of RFC 9325 §4.3's
 * guidance and of the CA/Browser Forum, and keeps the RSA handshake affordable.
 */
const ALGORITHMS = {
  ecdsa: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  rsa: {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
} as const;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A key of `keyType` (ECDSA P-256 by default) and a self-signed certificate for `names` (DNS names or IP addresses). */
export async function generateSelfSigned(
  names: readonly string[],
  validityDays = VALIDITY_DAYS,
  keyType: GeneratedKeyType = 'ecdsa',
): Promise<{ key: string; cert: string }> {
  const alg = ALGORITHMS[keyType];
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: webcrypto
      .getRandomValues(new Uint8Array(8))
      .reduce((s, b) => s + b.toString(16).padStart(2, '0'), '01'),
    name: new x509.Name([{ CN: [names[0] ?? 'localhost'] }]),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validityDays * 86_400_000),
    // The library types keys as the DOM's CryptoKeyPair, which Node's lib types lack.
    keys: keys as never,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // RFC 5280 §4.2.1.3: an RSA key in TLS 1.2's ECDHE_RSA suites signs, never encrypts.
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((n) =>
          /^[\d.]+$|:/.test(n) ? { type: 'ip', value: n } : { type: 'dns', value: n },
        ),
      ),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}
