/** @module Served certificates: the configured PEM pair, or a self-signed one generated into stateDir. */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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
/** Regenerate a month before expiry so a long-running relay never serves an expired certificate. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

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
  // Loaded only when a certificate is made: the X.509 builder is not needed to serve one.
  const { generateSelfSigned } = await import('./self-signed.js');
  const made = await generateSelfSigned([hostname]);
  await writeFile(`${keyPath}.tmp`, made.key, { mode: 0o600 });
  await writeFile(`${certPath}.tmp`, made.cert, { mode: 0o644 });
  await rename(`${keyPath}.tmp`, keyPath);
  await rename(`${certPath}.tmp`, certPath);
  const facts = describe(made.cert);
  return { ...made, source: 'generated', subject: facts.subject, notAfter: facts.notAfter };
}
