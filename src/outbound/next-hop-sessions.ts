/**
 * @module How client sessions get next-hop sessions: a warm one from the connection cache when
 * today's policy accepts it, else a new one under the per-next-hop connection cap (or a wait for
 * one), TLS resumption towards next hops, and every session's telemetry. AUTH passthrough opens
 * its own (`openFresh`): never cached, never counted against the cap.
 */
import type { Config } from '../config/schema.js';
import type { Router, NextHop } from '../routing/next-hop.js';
import type { Metrics } from '../telemetry/metrics.js';
import { openCapped, type CappedOpenResult } from './capped-open.js';
import { acceptable, ConnectionPool } from './connection-pool.js';
import type { HopDeadlines } from './deadlines.js';
import { HopSlots } from './hop-slots.js';
import { openHop, type OpenedHop, type OpenResult } from './open-hop.js';
import { resolvePolicy, type HopDemand, type ResolvedPolicy } from './policy-resolver.js';
import type { OutboundState } from './state.js';
import { TlsSessionCache } from './tls-sessions.js';

/** How long a pooled next-hop session may take to answer the RSET that checks it. */
const POOL_CHECK_MS = 15_000;

const NO_DEMAND: HopDemand = { requireTls: false };

export interface NextHopSessionDeps {
  readonly router: Router;
  readonly deadlines: HopDeadlines;
  readonly outbound: OutboundState;
  readonly metrics: Metrics;
  /** Trust anchors instead of the system roots (tests). */
  readonly ca?: string;
}

export interface NextHopSessions {
  /** A session for a client's transaction (cache, cap, wait). */
  readonly open: (
    nextHop: NextHop,
    demand?: HopDemand,
    signal?: AbortSignal,
  ) => Promise<CappedOpenResult>;
  /** A session of its own, for AUTH passthrough. */
  readonly openFresh: (nextHop: NextHop, demand?: HopDemand) => Promise<OpenResult>;
  /** A client session is done with `hop`: to a waiter, the cache, or QUIT. */
  readonly release: (nextHop: NextHop, hop: OpenedHop, transactions: number) => void;
  /** Whether `hop` still meets the policy in force now for `demand`. */
  readonly stillFits: (nextHop: NextHop, hop: OpenedHop, demand: HopDemand) => Promise<boolean>;
  /** The cap, which also tracks client sessions holding an idle session. */
  readonly slots: HopSlots<OpenedHop>;
  /** Shutdown: waiters give up, idle sessions are QUIT. */
  close(): void;
}

export function nextHopSessions(config: Config, deps: NextHopSessionDeps): NextHopSessions {
  const { router, deadlines, outbound, metrics } = deps;
  const { connectionCache, tlsResumption } = config.outbound;
  const pool = new ConnectionPool(connectionCache, {
    // A warm session that cannot answer RSET quickly is dead: open a new one instead of
    // holding the client for a whole command deadline.
    checkMs: Math.min(deadlines.commandMs, POOL_CHECK_MS),
    observer: {
      hit: () => metrics.connectionCacheHits.inc(),
      miss: () => metrics.connectionCacheMisses.inc(),
      evicted: (reason) => metrics.connectionCacheEvictions.inc({ reason }),
      idle: (count) => metrics.connectionCacheIdle.set(count),
    },
  });
  // The per-next-hop connection cap: RCPTs past it wait for a session handed back or a slot.
  const slots = new HopSlots<OpenedHop>(
    {
      maxPerHop: config.outbound.maxConnectionsPerHop,
      waitMs: config.outbound.connectionWaitSeconds * 1000,
    },
    {
      yieldIdle: (key) => pool.yieldIdle(key),
      observer: {
        waited: (outcome) => metrics.connectionWaits.inc({ outcome }),
        waiting: (count) => metrics.connectionWaiting.set(count),
        open: (count) => metrics.outboundConnections.set(count),
      },
    },
  );
  pool.attach(slots);
  const tlsSessions = tlsResumption.enabled
    ? new TlsSessionCache({ maxEntries: tlsResumption.maxEntries })
    : undefined;
  /** A new session under the policy resolved now: a TLS session of its own, reported as such. */
  const openNew = async (nextHop: NextHop, resolved: ResolvedPolicy): Promise<OpenResult> => {
    if (resolved.sts) outbound.telemetry.stsLookupFailed(nextHop.domain, resolved.sts);
    const opened = await openHop(nextHop, resolved.policy, {
      helo: config.hostname,
      router,
      deadlines,
      ...(deps.ca !== undefined ? { ca: deps.ca } : {}),
      ...(tlsSessions ? { tlsSessions } : {}),
      onSession: (report) => {
        outbound.telemetry.session(report);
        if (report.tls.resumed) metrics.outboundTlsResumptions.inc();
      },
      onAttemptFailed: () => metrics.outboundConnectFailures.inc(),
    });
    if (opened.ok) pool.opened(opened.hop.connection);
    if (!opened.ok && opened.refusedBy !== undefined) {
      metrics.policyRefusals.inc({ policy: opened.refusedBy });
    }
    return opened;
  };
  return {
    open: async (nextHop, demand = NO_DEMAND, signal) => {
      const resolved = await resolvePolicy(nextHop, demand, outbound);
      return openCapped(
        { pool, slots },
        nextHop,
        resolved.policy,
        () => openNew(nextHop, resolved),
        signal,
      );
    },
    openFresh: async (nextHop, demand = NO_DEMAND) =>
      openNew(nextHop, await resolvePolicy(nextHop, demand, outbound)),
    release: (nextHop, hop, transactions) => pool.release(nextHop, hop, transactions),
    stillFits: async (nextHop, hop, demand) =>
      acceptable(hop, nextHop, (await resolvePolicy(nextHop, demand, outbound)).policy),
    slots,
    close() {
      slots.close();
      pool.close();
    },
  };
}
