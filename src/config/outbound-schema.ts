/**
 * @module The outbound part of the configuration: routes with their TLS policy (levels, trust
 * anchors, client certificates, MTA-STS, history) and the per-instance outbound state.
 */
import { z } from 'zod';
import { parseHostPort } from '../routing/host-port.js';
import { domainName } from './fields.js';

export const route = z
  .strictObject({
    domains: z.array(domainName).min(1),
    nextHop: z.string().refine((h) => h === 'mx' || parseHostPort(h) !== undefined, {
      message: 'expected "mx" or host[:port], with IPv6 addresses in brackets: [2001:db8::1]:25',
    }),
    /**
     * The least TLS this route accepts (a ladder, RFC 7435 §1.3 for may): none never tries,
     * may encrypts when it can, encrypt refuses plaintext, verify also checks chain and name.
     */
    tls: z.enum(['none', 'may', 'encrypt', 'verify']).default('may'),
    /** Trust anchors (PEM file) for verifying this route's next hop instead of the system roots. */
    ca: z.string().min(1).optional(),
    /** Client certificate and key (PEM files) presented to the next hop: mutual TLS. */
    clientCert: z.string().min(1).optional(),
    clientKey: z.string().min(1).optional(),
    /**
     * Lowest protocol offered. Below TLSv1.2 only on `may` routes: a legacy hop then gets weak
     * encryption rather than none (RFC 8996 deprecates TLS 1.0 and 1.1 everywhere else).
     */
    minVersion: z.enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    /** Honour the MTA-STS policies of MX destinations (RFC 8461); default on for `nextHop: mx`. */
    mtaSts: z.boolean().optional(),
    /** Refuse (451 4.7.5) a destination that falls below the best TLS it reached before. */
    enforceHistory: z.boolean().default(false),
  })
  .superRefine((r, ctx) => {
    const issue = (path: string, message: string): void =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    if ((r.clientCert === undefined) !== (r.clientKey === undefined)) {
      issue('clientCert', 'clientCert and clientKey go together: give both, or neither');
    }
    if (r.tls === 'none') {
      for (const key of ['ca', 'clientCert', 'clientKey'] as const) {
        if (r[key] !== undefined) issue(key, `${key} has no use on a route with tls: none`);
      }
    }
    if ((r.minVersion === 'TLSv1' || r.minVersion === 'TLSv1.1') && r.tls !== 'may') {
      issue('minVersion', `${r.minVersion} is allowed on tls: may routes only (RFC 8996)`);
    }
    if (r.mtaSts === true && r.nextHop !== 'mx') {
      issue('mtaSts', 'MTA-STS applies to MX delivery: set nextHop: mx or drop mtaSts');
    }
  });

const CONNECTION_CACHE_DEFAULTS = {
  enabled: true,
  maxIdlePerHop: 16,
  maxIdle: 256,
  idleSeconds: 30,
  maxAgeSeconds: 300,
  maxTransactions: 100,
};

/** Per-instance state about next hops (DESIGN invariant 7: nothing here is needed to be correct). */
export const outbound = z.strictObject({
  /**
   * Connections this process keeps to one next hop: held by client sessions, idle in the cache and
   * being opened (Postfix default_destination_concurrency_limit). AUTH passthrough sessions are
   * not counted. Past it, an RCPT waits for one (docs/connection-cache.md).
   */
  maxConnectionsPerHop: z.number().int().min(1).max(10_000).default(50),
  /**
   * How long an RCPT waits at the cap before the client hears 451 4.4.5; well inside the
   * 5 minutes a client waits for the RCPT reply (RFC 5321 §4.5.3.2.3).
   */
  connectionWaitSeconds: z.number().int().min(1).max(240).default(30),
  /** The best TLS each destination reached, for downgrade detection and `tls-history`. */
  history: z
    .strictObject({
      maxEntries: z.number().int().min(1).max(10_000_000).default(100_000),
      /** Keep it in stateDir/tls-history.json across restarts. */
      persist: z.boolean().default(true),
    })
    .default({ maxEntries: 100_000, persist: true }),
  mtaSts: z
    .strictObject({
      /** Cached policies (RFC 8461 §5.1), least recently used evicted first. */
      maxEntries: z.number().int().min(1).max(10_000_000).default(10_000),
      /** Keep policies in stateDir/mta-sts.json across restarts. */
      persist: z.boolean().default(true),
    })
    .default({ maxEntries: 10_000, persist: true }),
  tlsRpt: z
    .strictObject({
      /** Count sessions per policy domain and write the daily reports (RFC 8460). */
      enabled: z.boolean().default(false),
      organization: z.string().min(1).optional(),
      contact: z.string().min(1).optional(),
      /** POST each report to the domain's https: rua (RFC 8460 §5.3.2). */
      submit: z.boolean().default(false),
      /**
       * Also count domains without an MTA-STS policy (`no-policy-found`): a report per domain
       * and day for every domain mail went to. Off: reports cover the domains with a policy.
       */
      noPolicyDomains: z.boolean().default(false),
    })
    .default({ enabled: false, submit: false, noPolicyDomains: false }),
  /** Warm next-hop sessions shared by client sessions bound to the same next hop. */
  connectionCache: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Idle sessions kept per next hop; the longest idle is closed first. */
      maxIdlePerHop: z.number().int().min(1).max(10_000).default(16),
      /** Idle sessions kept in all. */
      maxIdle: z.number().int().min(1).max(100_000).default(256),
      /** QUIT after this long unused: well under the 5 minutes a server waits (RFC 5321 §4.5.3.2.7). */
      idleSeconds: z.number().int().min(1).max(300).default(30),
      /** Not reused once this old (Postfix smtp_connection_reuse_time_limit). */
      maxAgeSeconds: z.number().int().min(1).max(86_400).default(300),
      /** Not reused after this many transactions (Postfix smtp_connection_reuse_count_limit). */
      maxTransactions: z.number().int().min(1).max(1_000_000).default(100),
    })
    .default(CONNECTION_CACHE_DEFAULTS),
  /** TLS sessions offered for resumption towards next hops (RFC 8446 §2.2). */
  tlsResumption: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Next-hop endpoints (address, port, name, trust settings) remembered. */
      maxEntries: z.number().int().min(1).max(1_000_000).default(10_000),
    })
    .default({ enabled: true, maxEntries: 10_000 }),
});

export const defaultRoutes = [
  {
    domains: ['*'],
    nextHop: 'mx',
    tls: 'may' as const,
    minVersion: 'TLSv1.2' as const,
    enforceHistory: false,
  },
];

export const OUTBOUND_DEFAULTS = {
  maxConnectionsPerHop: 50,
  connectionWaitSeconds: 30,
  history: { maxEntries: 100_000, persist: true },
  mtaSts: { maxEntries: 10_000, persist: true },
  tlsRpt: { enabled: false, submit: false, noPolicyDomains: false },
  connectionCache: CONNECTION_CACHE_DEFAULTS,
  tlsResumption: { enabled: true, maxEntries: 10_000 },
};
