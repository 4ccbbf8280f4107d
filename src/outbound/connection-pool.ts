/**
 * @module The next-hop connection cache: TLS-upgraded sessions a client session has finished
 * with, kept warm per next hop and handed to the next client session bound there. A session is
 * reused only while it still passes every enforced check of the policy resolved now, only after
 * it answered RSET with 250 (RFC 5321 §4.1.1.5: a clean transaction state), and never after an
 * error, a timeout, an out-of-step reply or a 421. Bounded per next hop and in total, with an idle
 * timeout well under what servers allow an idle client (RFC 5321 §4.5.3.2.7: at least 5 minutes),
 * a maximum age and a maximum number of transactions (Postfix's
 * smtp_connection_reuse_time_limit and smtp_connection_reuse_count_limit). While RCPTs wait for a
 * next hop at its connection cap (`hop-slots.ts`), a released session goes to them instead, after
 * the same RSET check; one they cannot use is closed, so that its slot goes to the first of them.
 */
import type { NextHop } from '../routing/next-hop.js';
import type { HopConnection } from './hop-connection.js';
import { failedChecks, requiredLevel, type HopPolicy } from './hop-policy.js';
import { policyOutcome, type OpenedHop } from './open-hop.js';

/** A session whose hop answered this recently is handed over without an RSET check. */
const FRESH_MS = 1000;

export interface ConnectionCacheSettings {
  readonly enabled: boolean;
  readonly maxIdlePerHop: number;
  readonly maxIdle: number;
  readonly idleSeconds: number;
  readonly maxAgeSeconds: number;
  readonly maxTransactions: number;
}

export const EVICTION_REASONS = [
  'idle_timeout',
  'max_age',
  'max_transactions',
  'capacity',
  'check_failed',
  'hop_closed',
  'shutdown',
] as const;
export type EvictionReason = (typeof EVICTION_REASONS)[number];

/** What the cache reports: counted by the caller (metrics), never a host name. */
export interface PoolObserver {
  hit(): void;
  miss(): void;
  evicted(reason: EvictionReason): void;
  idle(count: number): void;
}

/** The RCPTs waiting at a next hop's connection cap (`HopSlots`), as the cache sees them. */
export interface Handover {
  waiting(key: string): boolean;
  /** True when a waiter took the session. */
  offer(key: string, hop: OpenedHop): boolean;
}

export interface PoolDeps {
  /** How long the RSET before reuse may take (short: a silent session is replaced). */
  readonly checkMs: number;
  readonly observer?: PoolObserver;
  readonly now?: () => number;
}

/** A connection's life across the client sessions that used it. */
interface Life {
  readonly openedAt: number;
  transactions: number;
}

interface Idle {
  readonly key: string;
  readonly hop: OpenedHop;
  readonly life: Life;
  readonly timer: NodeJS.Timeout;
  readonly onEnd: () => void;
}

export class ConnectionPool {
  /** Idle sessions per next-hop key, most recently released last. */
  readonly #byKey = new Map<string, Idle[]>();
  /** Every idle session in release order: the first is the one idle longest. */
  readonly #all = new Set<Idle>();
  readonly #lives = new WeakMap<HopConnection, Life>();
  #closed = false;
  #handover: Handover | undefined;

  constructor(
    private readonly settings: ConnectionCacheSettings,
    private readonly deps: PoolDeps,
  ) {}

  /** The connection cap's waiters, served first by every release (built after the cache). */
  attach(handover: Handover): void {
    this.#handover = handover;
  }

  get enabled(): boolean {
    return this.settings.enabled && !this.#closed;
  }

  get idleCount(): number {
    return this.#all.size;
  }

  /** A freshly opened session starts its life (age and transactions count from here). */
  opened(connection: HopConnection): void {
    this.#lives.set(connection, { openedAt: this.#now(), transactions: 0 });
  }

  /**
   * A warm session for `nextHop` that `policy` accepts today, checked with RSET; undefined when
   * there is none (the caller opens a new one, or waits at the connection cap). A session that
   * fails its check is closed and the next candidate tried: the client never hears about a cached
   * session that had died.
   */
  async take(nextHop: NextHop, policy: HopPolicy): Promise<OpenedHop | undefined> {
    if (!this.enabled) return undefined;
    for (;;) {
      const idle = this.#candidate(nextHop, policy);
      if (!idle) break;
      this.#remove(idle);
      if (this.#age(idle.life) >= this.settings.maxAgeSeconds * 1000) {
        this.#evict(idle.hop.connection, 'max_age');
        continue;
      }
      if (await this.#check(idle.hop.connection)) {
        this.deps.observer?.hit();
        return rejudged(idle.hop, policy);
      }
      this.#evict(idle.hop.connection, 'check_failed', false);
    }
    this.deps.observer?.miss();
    return undefined;
  }

  /**
   * A client session is done with `hop` after `transactions` more transactions: kept when usable
   * and within its limits, else QUIT. The caller passes only sessions with no transaction open.
   */
  release(nextHop: NextHop, hop: OpenedHop, transactions: number): void {
    const connection = hop.connection;
    const life = this.#lives.get(connection) ?? { openedAt: this.#now(), transactions: 0 };
    life.transactions += transactions;
    this.#lives.set(connection, life);
    if (!connection.usable || connection.busy) {
      connection.close();
      return;
    }
    if (!this.enabled) {
      connection.end();
      return;
    }
    if (life.transactions >= this.settings.maxTransactions) {
      this.#evict(connection, 'max_transactions');
      return;
    }
    const ageLeft = this.settings.maxAgeSeconds * 1000 - this.#age(life);
    if (ageLeft <= 0) {
      this.#evict(connection, 'max_age');
      return;
    }
    if (this.#handover?.waiting(nextHop.key)) {
      void this.#handOver(nextHop.key, hop);
      return;
    }
    this.#keep(nextHop.key, hop, life, ageLeft);
  }

  /**
   * Someone waits for this next hop (the cap is reached): one idle session of it leaves the cache
   * for them. False when there is none.
   */
  yieldIdle(key: string): boolean {
    const idle = this.#byKey.get(key)?.[0];
    if (!idle) return false;
    this.#remove(idle);
    void this.#handOver(key, idle.hop);
    return true;
  }

  /**
   * To the first waiter whose policy accepts it, once it answered RSET with 250 (RFC 5321
   * §4.1.1.5): a session a client held idle may have died meanwhile, and the waiter must not hear
   * about it. Nobody takes it: closed, and its slot goes to the first waiter; unless the waiters
   * left while it was checked, then it is cached as usual.
   */
  async #handOver(key: string, hop: OpenedHop): Promise<void> {
    const connection = hop.connection;
    // A session released the moment its transaction completed (the hop's in-step reply a moment
    // ago, nothing since) is known alive and clean: a new MAIL may follow at once (RFC 5321
    // §3.3), the RSET would only cost the waiter a round trip.
    const fresh = connection.quietMs < FRESH_MS && connection.usable && !connection.busy;
    if (!fresh && !(await this.#check(connection))) {
      this.#evict(connection, 'check_failed', false);
      return;
    }
    if (!this.enabled) {
      this.#evict(connection, 'shutdown');
      return;
    }
    if (this.#handover?.offer(key, hop)) return;
    if (this.#handover?.waiting(key)) {
      this.#evict(connection, 'capacity');
      return;
    }
    const life = this.#lives.get(connection) ?? { openedAt: this.#now(), transactions: 0 };
    const ageLeft = this.settings.maxAgeSeconds * 1000 - this.#age(life);
    if (ageLeft <= 0) this.#evict(connection, 'max_age');
    else this.#keep(key, hop, life, ageLeft);
  }

  /** Into the cache, idle, until it is taken, times out or is pushed out. */
  #keep(key: string, hop: OpenedHop, life: Life, ageLeft: number): void {
    const connection = hop.connection;
    const idleMs = this.settings.idleSeconds * 1000;
    const reason: EvictionReason = ageLeft < idleMs ? 'max_age' : 'idle_timeout';
    const entry: Idle = {
      key,
      hop,
      life,
      timer: setTimeout(
        () => {
          this.#remove(entry);
          this.#evict(connection, reason);
        },
        Math.min(idleMs, ageLeft),
      ).unref(),
      // The hop closed it (its own idle timeout, a 421): gone without a word from us.
      onEnd: () => {
        if (!this.#all.has(entry)) return;
        this.#remove(entry);
        this.deps.observer?.evicted('hop_closed');
      },
    };
    connection.once('end', entry.onEnd);
    const list = this.#byKey.get(key) ?? [];
    list.push(entry);
    this.#byKey.set(key, list);
    this.#all.add(entry);
    // The longest idle goes first: of this next hop, then of all.
    while (list.length > this.settings.maxIdlePerHop) this.#dropOldest(list[0]);
    while (this.#all.size > this.settings.maxIdle)
      this.#dropOldest(this.#all.values().next().value);
    this.deps.observer?.idle(this.#all.size);
  }

  /** Shutdown: QUIT every idle session; nothing is kept from now on. */
  close(): void {
    this.#closed = true;
    for (const idle of [...this.#all]) {
      this.#remove(idle);
      this.#evict(idle.hop.connection, 'shutdown');
    }
  }

  /** The most recently released session of this next hop that the policy accepts now. */
  #candidate(nextHop: NextHop, policy: HopPolicy): Idle | undefined {
    const list = this.#byKey.get(nextHop.key) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const idle = list[i];
      if (idle && acceptable(idle.hop, nextHop, policy)) return idle;
    }
    return undefined;
  }

  /** RFC 5321 §4.1.1.5: RSET must answer 250; anything else and the session is not trusted. */
  async #check(connection: HopConnection): Promise<boolean> {
    if (!connection.usable || connection.busy) return false;
    try {
      const reply = await connection.command('RSET', this.deps.checkMs);
      return reply.code === 250;
    } catch {
      return false;
    }
  }

  #dropOldest(idle: Idle | undefined): void {
    if (!idle) return;
    this.#remove(idle);
    this.#evict(idle.hop.connection, 'capacity');
  }

  #remove(idle: Idle): void {
    clearTimeout(idle.timer);
    idle.hop.connection.removeListener('end', idle.onEnd);
    this.#all.delete(idle);
    const list = this.#byKey.get(idle.key);
    if (list) {
      const at = list.indexOf(idle);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) this.#byKey.delete(idle.key);
    }
    this.deps.observer?.idle(this.#all.size);
  }

  /** QUIT (RFC 5321 §4.1.1.10) when the session is in step, else just close. */
  #evict(connection: HopConnection, reason: EvictionReason, polite = true): void {
    this.deps.observer?.evicted(reason);
    if (polite) connection.end();
    else connection.close();
  }

  #age(life: Life): number {
    return this.#now() - life.openedAt;
  }

  #now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

/**
 * Whether a cached session may carry mail under `policy`: still to one of the next hop's hosts,
 * passing every enforced check (the policy may have grown stricter since: an MTA-STS policy
 * fetched, TLS history learned), and offering REQUIRETLS when the transaction demands it
 * (RFC 8689 §4.2.1; the check's own minimum already requires verified TLS).
 */
export function acceptable(hop: OpenedHop, nextHop: NextHop, policy: HopPolicy): boolean {
  const { facts, connection } = hop;
  if (!connection.usable || connection.busy) return false;
  if (!nextHop.hosts.some((h) => h.name === facts.host && h.port === facts.port)) return false;
  if (failedChecks(policy, facts.host, facts.tls.level).some((c) => c.enforced)) return false;
  return !policy.requireTlsExtension || connection.extensions.has('REQUIRETLS');
}

/** The session's own TLS facts, its policy outcome judged against today's policy. */
export function rejudged(hop: OpenedHop, policy: HopPolicy): OpenedHop {
  const failed = failedChecks(policy, hop.facts.host, hop.facts.tls.level);
  return {
    connection: hop.connection,
    facts: {
      ...hop.facts,
      policy: policyOutcome(policy, failed, requiredLevel(policy)),
      reused: true,
    },
  };
}
