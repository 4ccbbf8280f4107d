/**
 * @module Certificate reload: on SIGHUP or when the configured files change, every served pair
 * is loaded again and checked (parses, key matches, not expired, one per key type), then all
 * serve every new handshake together; live sessions keep theirs. A bad pair never replaces a
 * good one, and one bad pair keeps all the current ones.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import {
  loadPairs,
  type Credentials,
  type KeyType,
  type PairSources,
  type ServedPairs,
} from './certificate.js';

export interface ReloadEvents {
  applied(pairs: ServedPairs): void;
  failed(error: string): void;
}

/** Why a pair must not be served, or undefined when it may. */
export function unusable(
  credentials: Pick<Credentials, 'cert' | 'key'>,
  now = Date.now(),
): string | undefined {
  try {
    const cert = new X509Certificate(credentials.cert);
    if (!cert.checkPrivateKey(createPrivateKey(credentials.key)))
      return 'the key does not match the certificate';
    if (new Date(cert.validTo).getTime() <= now)
      return `the certificate expired on ${cert.validTo}`;
    return undefined;
  } catch (err) {
    return `unreadable certificate or key: ${(err as Error).message}`;
  }
}

const KEY_TYPE_NAMES: Readonly<Record<KeyType, string>> = {
  ecdsa: 'an ECDSA',
  rsa: 'an RSA',
  eddsa: 'an EdDSA',
  other: 'an unusual',
};

/**
 * Why these pairs must not be served together, naming the pair (`sources[i].name`), or
 * undefined when they may. Two pairs of one key type cannot be served: OpenSSL would keep only
 * the later one.
 */
export function unusablePairs(
  sources: PairSources,
  pairs: ServedPairs,
  now = Date.now(),
): string | undefined {
  const seen = new Map<KeyType, string>();
  for (const [i, pair] of pairs.entries()) {
    const name = sources[i]?.name ?? `pair ${i + 1}`;
    const problem = unusable(pair, now);
    if (problem) return `${name}: ${problem}`;
    const wanted = sources[i]?.keyType;
    if (wanted !== undefined && pair.keyType !== wanted)
      return `${name}: the certificate has ${KEY_TYPE_NAMES[pair.keyType]} key, expected ${KEY_TYPE_NAMES[wanted]} key`;
    const other = seen.get(pair.keyType);
    if (other !== undefined)
      return `${name}: ${KEY_TYPE_NAMES[pair.keyType]} key like ${other}; only one pair per key type can be served`;
    seen.set(pair.keyType, name);
  }
  return undefined;
}

export class CertificateReloader {
  #current: ServedPairs;
  #watching: string[] = [];

  constructor(
    private readonly sources: PairSources,
    initial: ServedPairs,
    private readonly events: ReloadEvents,
  ) {
    this.#current = initial;
  }

  /** Every pair served now; the first is the primary one. */
  get current(): ServedPairs {
    return this.#current;
  }

  /** Loads every pair again (a generated one is renewed near its expiry); applies all if usable. */
  async reload(): Promise<boolean> {
    let next: ServedPairs;
    try {
      next = await loadPairs(this.sources);
    } catch (err) {
      this.events.failed(`cannot read: ${(err as Error).message}`);
      return false;
    }
    const problem = unusablePairs(this.sources, next);
    if (problem) {
      this.events.failed(problem);
      return false;
    }
    this.#current = next;
    this.events.applied(next);
    return true;
  }

  /** Polls the configured files: a renewal by certbot or cert-manager is picked up unattended. */
  watch(intervalMs = 5000): void {
    if (this.#watching.length > 0) return;
    // Every file changes in a renewal; reloading on any is idempotent and a half-written pair
    // fails the key check and is retried on the next change.
    for (const source of this.sources) {
      if (source.kind !== 'files') continue;
      for (const path of [source.cert, source.key]) {
        watchFile(path, { interval: intervalMs, persistent: false }, (curr, prev) => {
          if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) void this.reload();
        });
        this.#watching.push(path);
      }
    }
  }

  close(): void {
    for (const path of this.#watching) unwatchFile(path);
    this.#watching = [];
  }
}
