/** @module Throwaway certificates for one test run: a test CA and leaf certificates it signs. */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { generateSelfSigned } from '../../src/tls/self-signed.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface KeyPair {
  readonly key: string;
  readonly cert: string;
}

export interface TestCa extends KeyPair {
  /** A leaf for `names` (DNS names or IP addresses), signed by this CA. */
  issue(
    names: readonly string[],
    opts?: { readonly expired?: boolean; readonly validForMs?: number },
  ): Promise<KeyPair>;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function keyPair(): Promise<CryptoKeyPairLike> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
}
type CryptoKeyPairLike = { privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey };

async function pem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

export async function createTestCa(name = 'starttls-relay test CA'): Promise<TestCa> {
  const caKeys = await keyPair();
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: new x509.Name([{ CN: [name] }]),
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 86_400_000),
    keys: caKeys as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  return {
    cert: caCert.toString('pem'),
    key: await pem(caKeys.privateKey),
    async issue(names, opts = {}) {
      const leafKeys = await keyPair();
      const start = opts.expired ? now - 3 * 86_400_000 : now - 3_600_000;
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: new x509.Name([{ CN: [names[0] ?? 'localhost'] }]),
        issuer: caCert.subjectName,
        notBefore: new Date(start),
        notAfter: new Date(
          opts.expired ? now - 86_400_000 : Date.now() + (opts.validForMs ?? 86_400_000),
        ),
        publicKey: leafKeys.publicKey as never,
        signingKey: caKeys.privateKey as never,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.ExtendedKeyUsageExtension([
            x509.ExtendedKeyUsage.serverAuth,
            x509.ExtendedKeyUsage.clientAuth,
          ]),
          new x509.SubjectAlternativeNameExtension(
            names.map((n) =>
              /^[\d.]+$|:/.test(n)
                ? { type: 'ip' as const, value: n }
                : { type: 'dns' as const, value: n },
            ),
          ),
        ],
      });
      return { cert: leaf.toString('pem'), key: await pem(leafKeys.privateKey) };
    },
  };
}

export { generateSelfSigned };
