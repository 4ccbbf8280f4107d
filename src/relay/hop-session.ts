/**
 * @module The next-hop session of one client session: taken from the connection cache or opened at
 * the first RCPT that needs it, reused by the client's next transactions to the same next hop
 * (after RSET when one was left open), handed back to the cache when the client is done with it,
 * and never reused once it failed or the hop said 421. A session authenticated by AUTH
 * passthrough is the client's alone: it is never handed back. Between transactions the session is
 * idle: when an RCPT of another client session waits for its next hop at the connection cap, it
 * is given up (reclaimed), and this client's next transaction acquires one like everyone else.
 */
import type { CappedOpenResult } from '../outbound/capped-open.js';
import type { HopDeadlines } from '../outbound/deadlines.js';
import { HopLostError, type HopConnection } from '../outbound/hop-connection.js';
import type { PolicySource } from '../outbound/hop-policy.js';
import type { IdleHolder, IdleHolders } from '../outbound/hop-slots.js';
import type { HopFacts, OpenedHop } from '../outbound/open-hop.js';
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
  /** MAIL commands sent on it for this client session. */
  transactions: number;
  /** Authenticated as the client's user by AUTH passthrough: never shared. */
  readonly adopted: boolean;
  /** Forgets the session when the hop closes it. */
  readonly onEnd: () => void;
}

/** Where a session goes when its client session is done with it (the connection cache). */
export type ReleaseHop = (nextHop: NextHop, hop: OpenedHop, transactions: number) => void;

/**
 * Whether a session may carry the next transaction under the policy in force now (it may have
 * grown stricter since the session opened: an MTA-STS policy fetched, TLS history learned, a
 * REQUIRETLS demand).
 */
export type StillFits = (nextHop: NextHop, hop: OpenedHop, demand: HopDemand) => Promise<boolean>;

export type Acquired =
  | { readonly ok: true; readonly session: HopSession }
  /** No host answered, or (refusedBy) none met the TLS policy, or (congested) the cap's wait ran out. */
  | {
      readonly ok: false;
      readonly refusedBy?: PolicySource;
      readonly definite?: boolean;
      readonly congested?: true;
    };

/** Opens (or waits for) a session; `signal` aborts the wait when the client session ends. */
export type OpenHop = (
  nextHop: NextHop,
  demand: HopDemand,
  signal?: AbortSignal,
) => Promise<CappedOpenResult>;

const NO_DEMAND: HopDemand = { requireTls: false };

export class HopSessionCache {
  #current: HopSession | undefined;
  /** The client session ended: nothing may be opened for it any more. */
  #closed = false;
  /** An adopted, authenticated session's key: never reopened without the client's AUTH. */
  #pinned: string | undefined;
  /** A transaction uses the current session (from its first RCPT to its end): not idle. */
  #claimed = false;
  /** Aborts a wait at the connection cap when the client session ends. */
  readonly #ended = new AbortController();
  /** What the connection cap may ask of this client session: its idle session back. */
  readonly #holder: IdleHolder = {
    giveUp: () => {
      if (this.#current && !this.#claimed) this.#letGo(this.#current);
    },
  };

  constructor(
    private readonly open: OpenHop,
    private readonly deadlines: HopDeadlines,
    private readonly release?: ReleaseHop,
    private readonly stillFits?: StillFits,
    private readonly holders?: IdleHolders,
  ) {}

  /** The live session for `nextHop` that meets `demand`, opening one if needed. */
  async acquire(
    nextHop: NextHop,
    record: TransactionRecord,
    demand: HopDemand = NO_DEMAND,
  ): Promise<Acquired> {
    // Claimed before any await: a waiter cannot reclaim it while it is judged.
    this.#claim();
    const current = this.#current;
    if (
      current &&
      current.nextHop.key === nextHop.key &&
      current.connection.usable &&
      (current.requireTls || !demand.requireTls) &&
      (current.adopted || !this.stillFits || (await this.stillFits(nextHop, current, demand))) &&
      this.#current === current
    ) {
      this.#stamp(record, current);
      return { ok: true, session: current };
    }
    if (this.#pinned === nextHop.key) return { ok: false };
    if (this.#current) this.#letGo(this.#current);
    const opened = await this.open(nextHop, demand, this.#ended.signal);
    if (this.#closed) {
      // The client left while we were connecting: nobody would ever use or close this session.
      if (opened.ok && opened.hop.facts.reused) this.release?.(nextHop, opened.hop, 0);
      else if (opened.ok) opened.hop.connection.close();
      return { ok: false };
    }
    if (opened.attempts.length > 0) record.failedAttempts = opened.attempts;
    if (!opened.ok) {
      record.nextHop = { domain: nextHop.domain, source: nextHop.source };
      if ('congested' in opened) return { ok: false, congested: true };
      return {
        ok: false,
        ...(opened.refusedBy !== undefined
          ? { refusedBy: opened.refusedBy, definite: opened.definite === true }
          : {}),
      };
    }
    const session = this.#track(nextHop, opened.hop, demand.requireTls, false);
    this.#stamp(record, session);
    return { ok: true, session };
  }

  /**
   * Takes over a session opened elsewhere (AUTH passthrough authenticated the client there): it
   * becomes the current session, and is never replaced by a new connection for its next hop.
   */
  adopt(nextHop: NextHop, opened: OpenedHop): void {
    if (this.#current) this.#letGo(this.#current);
    if (this.#closed) {
      opened.connection.end();
      return;
    }
    this.#track(nextHop, opened, false, true);
    this.#pinned = nextHop.key;
  }

  #track(nextHop: NextHop, hop: OpenedHop, requireTls: boolean, adopted: boolean): HopSession {
    const session: HopSession = {
      nextHop,
      connection: hop.connection,
      facts: hop.facts,
      dirty: false,
      requireTls,
      transactions: 0,
      adopted,
      onEnd: () => {
        if (this.#current !== session) return;
        this.#current = undefined;
        this.holders?.unhold(nextHop.key, this.#holder);
      },
    };
    session.connection.on('end', session.onEnd);
    this.#current = session;
    return session;
  }

  /**
   * Before each MAIL: RSET a transaction left open by an abandoned client transaction
   * (RFC 5321 §4.1.1.5), and count the transaction against the connection's limit.
   */
  async ensureClean(hop: HopSession): Promise<void> {
    hop.transactions += 1;
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
    if (this.#current === hop) {
      this.#current = undefined;
      this.holders?.unhold(hop.nextHop.key, this.#holder);
    }
    hop.connection.removeListener('end', hop.onEnd);
    hop.connection.close();
  }

  /**
   * The client's transaction ended (its final DATA reply, a new MAIL, RSET then MAIL): the session
   * is idle until the next RCPT. Someone waiting for its next hop gets it now; else the connection
   * cap may reclaim it later.
   */
  transactionEnded(): void {
    this.#claimed = false;
    const current = this.#current;
    if (!current || current.adopted || this.#closed || !this.holders) return;
    if (this.holders.waiting(current.nextHop.key)) this.#letGo(current);
    else this.holders.hold(current.nextHop.key, this.#holder);
  }

  closeAll(): void {
    this.#closed = true;
    this.#ended.abort();
    if (this.#current) this.#letGo(this.#current);
    this.#current = undefined;
  }

  #claim(): void {
    this.#claimed = true;
    if (this.#current) this.holders?.unhold(this.#current.nextHop.key, this.#holder);
  }

  /**
   * The client is done with `hop`: back to the cache when nothing is open on it, else QUIT. An
   * adopted session is authenticated as the client's user and goes nowhere else (security).
   */
  #letGo(hop: HopSession): void {
    if (this.#current === hop) this.#current = undefined;
    this.holders?.unhold(hop.nextHop.key, this.#holder);
    hop.connection.removeListener('end', hop.onEnd);
    const reusable = !hop.adopted && !hop.dirty && hop.connection.usable && !hop.connection.busy;
    if (reusable && this.release) {
      this.release(hop.nextHop, { connection: hop.connection, facts: hop.facts }, hop.transactions);
    } else {
      hop.connection.end();
    }
  }

  #stamp(record: TransactionRecord, hop: HopSession): void {
    record.nextHop = { domain: hop.nextHop.domain, source: hop.nextHop.source };
    record.outbound = hop.facts;
  }
}
