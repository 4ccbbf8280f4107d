/**
 * @module AUTH passthrough: the client's credentials are checked by the catch-all route's next
 * hop, on a session that then carries all of that client's mail. A password crosses that hop
 * only over TLS that verified, or to a loopback address; otherwise 454 4.7.0 (RFC 4954 §6).
 */
import type { OpenedHop, OpenResult } from '../outbound/open-hop.js';
import type { NextHop } from '../routing/next-hop.js';
import type { CredentialCheck, CheckResult } from './authenticator.js';

/** What a successful passthrough hands to the client's session: the authenticated hop. */
export interface Grant {
  readonly nextHop: NextHop;
  readonly hop: OpenedHop;
}

export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);
}

export class PassthroughCheck implements CredentialCheck<Grant> {
  constructor(
    private readonly nextHop: NextHop,
    private readonly open: (nextHop: NextHop) => Promise<OpenResult>,
    private readonly deadlineMs: number,
  ) {}

  async check(username: string, password: string): Promise<CheckResult<Grant>> {
    const opened = await this.open(this.nextHop);
    if (!opened.ok) return { ok: false, temporary: true, why: 'next hop unavailable' };
    const { connection, facts } = opened.hop;
    if (!facts.tls.verified && !isLoopback(facts.address)) {
      connection.end();
      return { ok: false, temporary: true, why: 'next hop TLS not verified: credentials not sent' };
    }
    if (!connection.allowsAuth) {
      connection.end();
      return { ok: false, temporary: true, why: 'next hop offers no AUTH' };
    }
    const result = await new Promise<Error | null>((resolve) => {
      const timer = setTimeout(() => {
        connection.close();
        resolve(new Error('AUTH deadline'));
      }, this.deadlineMs);
      connection.login({ user: username, pass: password }, (err) => {
        clearTimeout(timer);
        resolve(err ?? null);
      });
    });
    if (result === null) return { ok: true, grant: { nextHop: this.nextHop, hop: opened.hop } };
    connection.end();
    // Only the hop's own 5xx means bad credentials; anything else is a temporary failure.
    const code = (result as Error & { responseCode?: number }).responseCode ?? 0;
    return code >= 500 && code < 600
      ? { ok: false, temporary: false, why: 'next hop refused the credentials' }
      : { ok: false, temporary: true, why: result.message };
  }
}
