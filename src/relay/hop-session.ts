/**
 * @module The next-hop session of one client session: opened at the first RCPT that needs it,
 * reused by the client's next transactions to the same next hop (after RSET when one was left
 * open), and never reused once it failed or the hop said 421.
 */
import type { HopDeadlines } from '../outbound/deadlines.js';
import { HopLostError, type HopConnection } from '../outbound/hop-connection.js';
import type { PolicySource } from '../outbound/hop-policy.js';
import type { HopFacts, OpenedHop, OpenResult } from '../outbound/open-hop.js';
import type { HopDemand } from '../outbound/policy-resolver.js';
import type { NextHop } from '../routing/next-hop.js';
import type { Reply } from '../smtp/reply.js';
import type { TransactionRecord } from './record.js';

export interface HopSession {
  readonly nextHop: NextHop;
  readonly connection: HopConnection;
  readonly facts: HopFacts;
  /** A MAIL was accepted and its transaction not completed: RSET before the next one. */
  dirty: boolean;
  /** Opened for a REQUIRETLS transaction: verified, REQUIRETLS offered (RFC 8689 §4.2.1). */
  readonly requireTls: boolean;
}

export type Acquired =
  | { readonly ok: true; readonly session: HopSession }
  /** No host answered, or (refusedBy) none met the TLS policy. */
  | { readonly ok: false; readonly refusedBy?: PolicySource };

const NO_DEMAND: HopDemand = { requireTls: false };

export class HopSessionCache {
  #current: HopSession | undefined;
  /** The client session ended: nothing may be opened for it any more. */
  #closed = false;
  /** An adopted, authenticated session's key: never reopened without the client's AUTH. */
  #pinned: string | undefined;

  constructor(
    private readonly open: (nextHop: NextHop, demand: HopDemand) => Promise<OpenResult>,
    private readonly deadlines: HopDeadlines,
  ) {}

  /** The live session for `nextHop` that meets `demand`, opening one if needed. */
  async acquire(
    nextHop: NextHop,
    record: TransactionRecord,
    demand: HopDemand = NO_DEMAND,
  ): Promise<Acquired> {
    const current = this.#current;
    if (
      current &&
      current.nextHop.key === nextHop.key &&
      current.connection.usable &&
      (current.requireTls || !demand.requireTls)
    ) {
      this.#stamp(record, current);
      return { ok: true, session: current };
    }
    if (this.#pinned === nextHop.key) return { ok: false };
    if (current) this.#quit(current);
    const opened = await this.open(nextHop, demand);
    if (this.#closed) {
      // The client left while we were connecting: nobody would ever use or close this session.
      if (opened.ok) opened.hop.connection.close();
      return { ok: false };
    }
    if (opened.attempts.length > 0) record.failedAttempts = opened.attempts;
    if (!opened.ok) {
      record.nextHop = { domain: nextHop.domain, source: nextHop.source };
      return {
        ok: false,
        ...(opened.refusedBy !== undefined ? { refusedBy: opened.refusedBy } : {}),
      };
    }
    const session: HopSession = {
      nextHop,
      ...opened.hop,
      dirty: false,
      requireTls: demand.requireTls,
    };
    session.connection.on('end', () => {
      if (this.#current === session) this.#current = undefined;
    });
    this.#current = session;
    this.#stamp(record, session);
    return { ok: true, session };
  }

  /**
   * Takes over a session opened elsewhere (AUTH passthrough authenticated the client there): it
   * becomes the current session, and is never replaced by a new connection for its next hop.
   */
  adopt(nextHop: NextHop, opened: OpenedHop): void {
    if (this.#current) this.#quit(this.#current);
    if (this.#closed) {
      opened.connection.end();
      return;
    }
    const session: HopSession = { nextHop, ...opened, dirty: false, requireTls: false };
    session.connection.on('end', () => {
      if (this.#current === session) this.#current = undefined;
    });
    this.#current = session;
    this.#pinned = nextHop.key;
  }

  /** RSET a transaction left open by an abandoned client transaction (RFC 5321 §4.1.1.5). */
  async ensureClean(hop: HopSession): Promise<void> {
    if (!hop.dirty) return;
    const reply = await hop.connection.command('RSET', this.deadlines.commandMs);
    if (reply.code !== 250) {
      // A hop that cannot reset is not trusted with another transaction.
      hop.connection.close();
      throw new HopLostError(`RSET refused: ${reply.code}`, 'closed');
    }
    hop.dirty = false;
  }

  /** RFC 5321 §3.8: after a 421 the hop closes; the session is not used again. */
  afterReply(hop: HopSession, reply: Reply): void {
    if (reply.code === 421) this.discard(hop);
  }

  discard(hop: HopSession): void {
    if (this.#current === hop) this.#current = undefined;
    hop.connection.close();
  }

  closeAll(): void {
    this.#closed = true;
    if (this.#current) this.#quit(this.#current);
    this.#current = undefined;
  }

  #quit(hop: HopSession): void {
    if (this.#current === hop) this.#current = undefined;
    hop.connection.end();
  }

  #stamp(record: TransactionRecord, hop: HopSession): void {
    record.nextHop = { domain: hop.nextHop.domain, source: hop.nextHop.source };
    record.outbound = hop.facts;
  }
}
