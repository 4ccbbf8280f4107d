/**
 * @module Certificate reload: on SIGHUP or when the configured files change, the new pair is
 * checked (parses, key matches, not expired) and then serves every new handshake; live
 * sessions keep theirs. A bad pair never replaces a good one.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { generatedCredentials, loadCredentials, type Credentials } from './certificate.js';

export interface ReloadEvents {
  applied(credentials: Credentials): void;
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

export type CertificateSource =
  | { readonly kind: 'files'; readonly cert: string; readonly key: string }
  | { readonly kind: 'generated'; readonly stateDir: string; readonly hostname: string };

export class CertificateReloader {
  #current: Credentials;
  #watching = false;

  constructor(
    private readonly source: CertificateSource,
    initial: Credentials,
    private readonly events: ReloadEvents,
  ) {
    this.#current = initial;
  }

  get current(): Credentials {
    return this.#current;
  }

  /** Loads the pair again (a generated one is renewed near its expiry) and applies it if usable. */
  async reload(): Promise<boolean> {
    let next: Credentials;
    try {
      next =
        this.source.kind === 'files'
          ? await loadCredentials(this.source.cert, this.source.key)
          : await generatedCredentials(this.source.stateDir, this.source.hostname);
    } catch (err) {
      this.events.failed(`cannot read: ${(err as Error).message}`);
      return false;
    }
    const problem = unusable(next);
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
    if (this.source.kind !== 'files' || this.#watching) return;
    this.#watching = true;
    // Both files change in a renewal; reloading on either is idempotent and a half-written
    // pair fails the key check and is retried on the next change.
    for (const path of [this.source.cert, this.source.key]) {
      watchFile(path, { interval: intervalMs, persistent: false }, (curr, prev) => {
        if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) void this.reload();
      });
    }
  }

  close(): void {
    if (this.source.kind !== 'files' || !this.#watching) return;
    unwatchFile(this.source.cert);
    unwatchFile(this.source.key);
    this.#watching = false;
  }
}
