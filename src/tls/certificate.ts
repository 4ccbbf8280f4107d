/** @module Served certificates: the configured PEM pair, or a self-signed one generated into stateDir. */
import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

export interface Credentials {
  readonly key: string;
  readonly cert: string;
  /** Where they came from, for the startup log line. */
  readonly source: 'configured' | 'generated' | 'reused';
  readonly subject: string;
  readonly notAfter: Date;
}

const GENERATED_CERT = 'self-signed-cert.pem';
const GENERATED_KEY = 'self-signed-key.pem';
const VALIDITY_DAYS = 365;
/** Regenerate a month before expiry so a long-running relay never serves an expired certificate. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

function describe(certPem: string): { subject: string; notAfter: Date; altNames: string } {
  const c = new X509Certificate(certPem);
  return { subject: c.subject, notAfter: new Date(c.validTo), altNames: c.subjectAltName ?? '' };
}

/** Loads the configured pair; throws with the path in the message when a file is unreadable. */
export async function loadCredentials(certPath: string, keyPath: string): Promise<Credentials> {
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  const { subject, notAfter } = describe(cert);
  return { cert, key, source: 'configured', subject, notAfter };
}

/** An ECDSA P-256 key and a self-signed certificate for `names` (DNS names or IP addresses). */
export async function generateSelfSigned(
  names: readonly string[],
  validityDays = VALIDITY_DAYS,
): Promise<{ key: string; cert: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
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

/**
 * The generated certificate in `stateDir`: reused while it names `hostname` and is not about to
 * expire, else made anew (key written 0600, both files replaced atomically).
 */
export async function generatedCredentials(
  stateDir: string,
  hostname: string,
): Promise<Credentials> {
  const certPath = join(stateDir, GENERATED_CERT);
  const keyPath = join(stateDir, GENERATED_KEY);
  try {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    const facts = describe(cert);
    if (
      facts.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS &&
      facts.altNames.includes(`DNS:${hostname}`)
    ) {
      return { cert, key, source: 'reused', subject: facts.subject, notAfter: facts.notAfter };
    }
  } catch {
    // absent or unreadable: generate below
  }
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const made = await generateSelfSigned([hostname]);
  await writeFile(`${keyPath}.tmp`, made.key, { mode: 0o600 });
  await writeFile(`${certPath}.tmp`, made.cert, { mode: 0o644 });
  await rename(`${keyPath}.tmp`, keyPath);
  await rename(`${certPath}.tmp`, certPath);
  const facts = describe(made.cert);
  return { ...made, source: 'generated', subject: facts.subject, notAfter: facts.notAfter };
}
