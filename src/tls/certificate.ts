/**
 * @module Served certificates: the configured PEM pairs, or self-signed ones generated into
 * stateDir; one pair per key type (ECDSA, optionally RSA beside it for old clients).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { serverTlsOptions, type MinVersion, type TlsPolicyOptions } from './policy.js';
import type { GeneratedKeyType } from './self-signed.js';

/** The public key algorithm of a certificate: bounded, it is a metric label. */
export type KeyType = 'ecdsa' | 'rsa' | 'eddsa' | 'other';

export interface Credentials {
  readonly key: string;
  readonly cert: string;
  /** Where they came from, for the startup log line. */
  readonly source: 'configured' | 'generated' | 'reused';
  readonly keyType: KeyType;
  readonly subject: string;
  readonly notAfter: Date;
}

/**
 * Every pair served, at most one per key type (OpenSSL keeps one certificate per key type in a
 * context); the first is the primary one. OpenSSL picks per handshake from the client's
 * signature_algorithms (RFC 8446 §4.2.3, RFC 5246 §7.4.1.4.1) and, in TLS 1.2, the cipher suite.
 */
export type ServedPairs = readonly [Credentials, ...Credentials[]];

/** Where one served pair comes from; `name` says which pair in errors. */
export type PairSource =
  | {
      readonly kind: 'files';
      readonly name: string;
      readonly cert: string;
      readonly key: string;
      /** The key type this pair must have (tls.rsaCert holds RSA), if any. */
      readonly keyType?: KeyType;
    }
  | {
      readonly kind: 'generated';
      readonly name: string;
      readonly stateDir: string;
      readonly hostname: string;
      readonly keyType: GeneratedKeyType;
    };

export type PairSources = readonly [PairSource, ...PairSource[]];

const GENERATED_FILES: Readonly<Record<GeneratedKeyType, { cert: string; key: string }>> = {
  ecdsa: { cert: 'self-signed-cert.pem', key: 'self-signed-key.pem' },
  rsa: { cert: 'self-signed-rsa-cert.pem', key: 'self-signed-rsa-key.pem' },
};
/** Regenerate a month before expiry so a long-running relay never serves an expired certificate. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

export function keyTypeOf(cert: X509Certificate): KeyType {
  switch (cert.publicKey.asymmetricKeyType) {
    case 'ec':
      return 'ecdsa';
    case 'rsa':
    case 'rsa-pss':
      return 'rsa';
    case 'ed25519':
    case 'ed448':
      return 'eddsa';
    default:
      return 'other';
  }
}

function describe(certPem: string): {
  subject: string;
  notAfter: Date;
  altNames: string;
  keyType: KeyType;
} {
  const c = new X509Certificate(certPem);
  return {
    subject: c.subject,
    notAfter: new Date(c.validTo),
    altNames: c.subjectAltName ?? '',
    keyType: keyTypeOf(c),
  };
}

/** The pairs the tls section asks for: configured files, or the generated certificate(s). */
export function pairSources(tls: Config['tls'], stateDir: string, hostname: string): PairSources {
  if (tls.cert !== undefined && tls.key !== undefined) {
    const primary: PairSource = {
      kind: 'files',
      name: `tls.cert/tls.key (${tls.cert})`,
      cert: tls.cert,
      key: tls.key,
    };
    return tls.rsaCert !== undefined && tls.rsaKey !== undefined
      ? [
          primary,
          {
            kind: 'files',
            name: `tls.rsaCert/tls.rsaKey (${tls.rsaCert})`,
            cert: tls.rsaCert,
            key: tls.rsaKey,
            keyType: 'rsa',
          },
        ]
      : [primary];
  }
  const generated = (keyType: GeneratedKeyType): PairSource => ({
    kind: 'generated',
    name: `generated ${keyType === 'rsa' ? 'RSA' : 'ECDSA'} certificate (${join(stateDir, GENERATED_FILES[keyType].cert)})`,
    stateDir,
    hostname,
    keyType,
  });
  return tls.generateRsa ? [generated('ecdsa'), generated('rsa')] : [generated('ecdsa')];
}

/** Loads one pair (a generated one is made or renewed as needed); throws when unreadable. */
export async function loadPair(source: PairSource): Promise<Credentials> {
  return source.kind === 'files'
    ? loadCredentials(source.cert, source.key)
    : generatedCredentials(source.stateDir, source.hostname, source.keyType);
}

/** Loads every pair, in order; throws naming the pair that cannot be read. */
export async function loadPairs(sources: PairSources): Promise<ServedPairs> {
  const load = async (source: PairSource): Promise<Credentials> => {
    try {
      return await loadPair(source);
    } catch (err) {
      throw new Error(`${source.name}: ${(err as Error).message}`, { cause: err });
    }
  };
  const [first, ...rest] = sources;
  return [await load(first), ...(await Promise.all(rest.map(load)))];
}

/** What a TLS context serves: every pair, as the arrays `tls.createSecureContext` accepts. */
export function contextPairs(pairs: readonly Pick<Credentials, 'key' | 'cert'>[]): {
  key: string[];
  cert: string[];
} {
  return { key: pairs.map((p) => p.key), cert: pairs.map((p) => p.cert) };
}

/**
 * The server TLS options serving every pair: the policy of `serverTlsOptions` with the keys and
 * certificates of all pairs in place of one.
 */
export function servedTlsOptions(
  minVersion: MinVersion,
  pairs: ServedPairs,
): TlsPolicyOptions & { honorCipherOrder: true; key: string[]; cert: string[] } {
  return { ...serverTlsOptions(minVersion, pairs[0]), ...contextPairs(pairs) };
}

/** The first expiry among the pairs: after it, some clients would be served an expired one. */
export function earliestExpiry(pairs: ServedPairs): Date {
  return pairs.reduce((at, p) => (p.notAfter < at ? p.notAfter : at), pairs[0].notAfter);
}

/** Loads the configured pair; throws with the path in the message when a file is unreadable. */
export async function loadCredentials(certPath: string, keyPath: string): Promise<Credentials> {
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  const { subject, notAfter, keyType } = describe(cert);
  return { cert, key, source: 'configured', keyType, subject, notAfter };
}

/**
 * The generated certificate of `keyType` in `stateDir`: reused while it names `hostname`, has
 * that key type, matches its key and is not about to expire, else made anew (key written 0600,
 * both files replaced atomically; a crash between the two renames leaves a mismatched pair,
 * which is then made anew rather than refused).
 */
export async function generatedCredentials(
  stateDir: string,
  hostname: string,
  keyType: GeneratedKeyType = 'ecdsa',
): Promise<Credentials> {
  const certPath = join(stateDir, GENERATED_FILES[keyType].cert);
  const keyPath = join(stateDir, GENERATED_FILES[keyType].key);
  try {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    const facts = describe(cert);
    if (
      facts.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS &&
      facts.altNames.includes(`DNS:${hostname}`) &&
      facts.keyType === keyType &&
      new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))
    ) {
      return {
        cert,
        key,
        source: 'reused',
        keyType,
        subject: facts.subject,
        notAfter: facts.notAfter,
      };
    }
  } catch {
    // absent or unreadable: generate below
  }
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  // Loaded only when a certificate is made: the X.509 builder is not needed to serve one.
  const { generateSelfSigned } = await import('./self-signed.js');
  const made = await generateSelfSigned([hostname], undefined, keyType);
  await writeFile(`${keyPath}.tmp`, made.key, { mode: 0o600 });
  await writeFile(`${certPath}.tmp`, made.cert, { mode: 0o644 });
  await rename(`${keyPath}.tmp`, keyPath);
  await rename(`${certPath}.tmp`, certPath);
  const facts = describe(made.cert);
  return {
    ...made,
    source: 'generated',
    keyType,
    subject: facts.subject,
    notAfter: facts.notAfter,
  };
}
