/**
 * @module TLS sessions to next hops kept for resumption (RFC 8446 §2.2, RFC 5077): the latest
 * session or ticket per address, port, SNI name and trust settings, least recently used evicted
 * first, each with the verification its full handshake established. Node skips the name check on
 * a resumed session and OpenSSL replays the chain result, so a resumed session's verification is
 * the one recorded here, never what the resumed socket reports on its own.
 */
import { createHash } from 'node:crypto';
import type { Verification } from './tls-facts.js';

interface Kept {
  readonly session: Buffer;
  readonly verification: Verification;
  readonly keptAt: number;
}

export interface TlsSessionSettings {
  readonly maxEntries: number;
  /**
   * Never offered after this long (default 1 hour, Postfix's smtp_tls_session_cache_timeout;
   * RFC 8446 §4.6.1 caps ticket lifetimes at 7 days, and the server's hint is often shorter).
   */
  readonly maxAgeMs?: number;
}

/** The cache key: the endpoint, the name verified and everything verification depends on. */
export function sessionKey(
  address: string,
  port: number,
  servername: string | undefined,
  trust: { readonly ca?: string; readonly clientCert?: string; readonly minVersion: string },
): string {
  const settings = createHash('sha256')
    .update(`${trust.minVersion}\0${trust.ca ?? ''}\0${trust.clientCert ?? ''}`)
    .digest('base64url')
    .slice(0, 16);
  return `${address}|${port}|${servername ?? ''}|${settings}`;
}

export class TlsSessionCache {
  readonly #entries = new Map<string, Kept>();

  constructor(
    private readonly settings: TlsSessionSettings,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The session to offer for `key`, if one is kept, fresh, and its certificate not expired. */
  offer(key: string): Kept | undefined {
    const kept = this.#entries.get(key);
    if (!kept) return undefined;
    const now = this.now();
    const expired =
      kept.verification.peerNotAfter !== undefined &&
      Date.parse(kept.verification.peerNotAfter) <= now;
    if (now - kept.keptAt > (this.settings.maxAgeMs ?? 3_600_000) || expired) {
      this.#entries.delete(key);
      return undefined;
    }
    return kept;
  }

  /** Keeps the latest session for `key` (a TLS 1.3 server may send several tickets). */
  keep(key: string, session: Buffer, verification: Verification): void {
    this.#entries.delete(key);
    this.#entries.set(key, { session, verification, keptAt: this.now() });
    while (this.#entries.size > this.settings.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  /** A session the hop would not resume is forgotten, so the next connection offers none. */
  forget(key: string): void {
    this.#entries.delete(key);
  }
}
